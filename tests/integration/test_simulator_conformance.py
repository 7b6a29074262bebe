"""Property-based conformance: schemathesis fuzzes the simulator against HCL's DAM and Ring specs.

A seeded, bounded run (``tests/conformance/schemathesis.toml``) of every check schemathesis has, over
the operations dam-drift's simulator serves: Ring auth, ``/staging/subscriber``, ``/staging/mismatches``
and ``/operations``. The run must find nothing; what the simulator does on purpose against the letter of
the spec is excluded in that file, each exclusion naming the assumption about DX it keeps.
``POST /operations/{operation_id}`` (``processCallback``, the callback DX's media services call with a
rendition) is not simulated: dam-drift never calls it.
"""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404 - runs schemathesis' own CLI on the spec files of this repository
import sys
from pathlib import Path

import pytest

from damdrift_cli.simulator import Simulator
from damdrift_cli.simulator.pytest_plugin import SimulatorFactory, login, make_scenario

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
CONFIG = ROOT / "tests" / "conformance" / "schemathesis.toml"

#: At least this many requests a run must make (the seeded run makes more): a run that tests nothing fails.
MIN_CASES = {"dam": 150, "ring": 25}
RUNS = {
    "dam": (
        "dam-api.openapi.json",
        "dam_base_url",
        [
            "--include-path-regex",
            "^/(staging/(subscriber|mismatches)|operations)",
            "--exclude-path-regex",
            "^/operations/\\{operation_id\\}$",
            "--exclude-method",
            "POST",
        ],
    ),
    "ring": ("ring-api.openapi.json", "ring_base_url", ["--include-path-regex", "^/auth/"]),
}


def schemathesis(
    sim: Simulator, spec: str, base_url: str, filters: list[str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    token = login(sim).cookies["LtpaToken2"]
    env = {**os.environ, "DX_SESSION": token, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        str(SPECS / spec),
        "--url",
        getattr(sim, base_url),
        "--checks",
        "all",
        "--workers",
        "1",
        *filters,
    ]
    return subprocess.run(  # nosec B603 - fixed argv, no shell
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False
    )


@pytest.mark.parametrize("api", RUNS)
def test_schemathesis_finds_nothing_in_the_simulator(
    dx_simulator_factory: SimulatorFactory, tmp_path: Path, api: str
) -> None:
    spec, base_url, filters = RUNS[api]
    sim = dx_simulator_factory(make_scenario(), record_exchanges=False)

    result = schemathesis(sim, spec, base_url, filters, tmp_path)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated is not None and int(generated.group(1)) >= MIN_CASES[api], result.stdout[-2000:]
