"""Scale: 100 subscribers whose finds take a minute each, polled every 1-2 s, in one local check.

Held in one execution, its history would grow with every poll (past 25,000 events when the local
Lambdas keep up with the 1-2 s waits); as one child execution per subscriber, no history comes near.
It takes several minutes, so it runs only with ``DAMDRIFT_SCALE=1`` (bench/README.md gives the last
figures: ``python bench/fanout.py --subscribers 100 --find-seconds 60 --max-concurrency 40``).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("DAMDRIFT_SCALE") != "1", reason="minutes long: set DAMDRIFT_SCALE=1"),
]

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ["--subscribers", "100", "--find-seconds", "60", "--max-concurrency", "40"]


def test_a_hundred_minute_long_finds_end_with_every_report_and_no_execution_near_a_quota() -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fanout.py"), *COMMAND],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )

    out = finished.stdout
    line = (
        r"quotas: executions=(\d+) history_events_max=(\d+) history_events_total=(\d+)"
        r" payload_bytes_max=(\d+)"
    )
    quotas = re.search(line, out)
    assert quotas, f"no quotas line; stdout ends {out[-2000:]!r}, stderr {finished.stderr[-2000:]!r}"
    executions, events_max, events_total, payload_max = map(int, quotas.groups())
    assert executions == 101  # the drift check and one subscriber check each
    # The largest history is the drift check's own, 13 + 8 per subscriber, however long the finds
    # poll (one execution would have held all events_total of them).
    assert events_max == 13 + 8 * 100 < events_total
    assert payload_max <= 256 * 1024
    assert "outcomes: {'DRIFT': 100}; 100 reports" in out, out[-2000:]
    assert finished.returncode == 0, out[-4000:]
