"""The soak in CI size: 20 seeded runs of random faults from the matrix; no report lost, every execution
finished. (``python bench/soak.py --runs 200 --seed N`` is the full soak.)"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_twenty_runs_of_random_faults_lose_no_report_and_leave_no_execution_unfinished() -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--runs", "20", "--seed", "2026", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    last = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else ""
    summary = re.fullmatch(r"soak: runs=(\d+) lost=(\d+) unfinished=(\d+) slowest_s=([\d.]+)", last)
    assert summary, (
        f"no summary line; stdout ends {finished.stdout[-2000:]!r}, stderr {finished.stderr[-2000:]!r}"
    )
    assert summary.groups()[:3] == ("20", "0", "0"), finished.stdout[-4000:]
    assert finished.returncode == 0, finished.stdout[-4000:]
