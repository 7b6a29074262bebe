"""Every benchmark runs (``--quick``) and ends with its one ``NAME: key=value ...`` result line.

Only the shape is checked here: the speed and memory targets are the benchmarks' to judge, on a machine
that is not running a test suite at the same time.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
RESULT_LINE = re.compile(r"^(?P<name>[a-z]+): (?:[a-z_0-9]+=[^\s=]+)(?: [a-z_0-9]+=[^\s=]+)*$")
BENCHMARKS = ["ingest", "diff", "poll", "coldstart", "fanout", "age", "hostile"]


def run_bench(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_quick_run_ends_with_its_result_line(name: str) -> None:
    done = run_bench(name, "--quick")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    match = RESULT_LINE.match(last)
    assert match, f"last line is not 'NAME: key=value ...': {last!r}"
    assert match["name"] == name
    assert " targets_met=" in last


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help_says_what_the_benchmark_measures(name: str) -> None:
    done = run_bench(name, "--help")
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
