"""Hostile-DX memory benchmark: how much memory a DX that sends costly JSON can make a process take.

What is measured: the peak resident set a fresh process adds (``VmHWM`` after the call minus before it;
``ru_maxrss`` would include the parent's, which Linux keeps across exec) while the real ``DxClient``
(and, for mismatch records, the ``ReportWriter`` and ``RecordTracker`` the fetch step runs) meets one
hostile answer from the DX simulator, which runs in a process of its own:

* 8 MiB of ``[{},{},…]`` (the most memory per byte JSON can cost, ~26x) as the subscriber list, as one
  subscriber, as a list of operations, as a page of mismatch records;
* 3,000 records each with its own 100 KB ``recordType`` (pages of 50);
* the worst left inside the caps: a subscriber list of just under 1 MiB of ``{}``, and one operation
  holding 8 MiB of short strings;
* 3,000 ordinary records, for comparison.

Targets (issue 23, item 8: authenticate, trigger and poll run in 256 MB functions): every case adds at
most 100 MB, and every hostile case that goes past a bound ends in ``UnexpectedResponse``.
``--sources DIR`` measures another tree's ``layers/shared`` and ``src`` (e.g. an export of an older
commit), the simulator still running this one's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from support import PYTHON, REPO, emit_result, result_line, run_child

ADDED_MB_TARGET = 100.0
EMPTY_OBJECTS = 8 * 1024 * 1024

#: (title, call, fault endpoint and kind, fault options, page size, whether past a bound)
CASES: list[tuple[str, str, list[str] | None, dict[str, Any], int, bool]] = [
    (
        "subscriber list: 8 MiB of {}",
        "subscribers",
        ["GET /staging/subscriber", "empty_objects"],
        {},
        1000,
        True,
    ),
    (
        "one subscriber: 8 MiB of {}",
        "subscriber",
        ["GET /staging/subscriber/{subscriber_id}", "empty_objects"],
        {},
        1000,
        True,
    ),
    ("operations: 8 MiB of {}", "operations", ["GET /operations", "empty_objects"], {}, 1000, True),
    (
        "mismatch page: 8 MiB of {}",
        "mismatches",
        ["GET /staging/mismatches", "empty_objects"],
        {},
        1000,
        True,
    ),
    (
        "records with their own 100 KB recordType",
        "mismatches",
        ["GET /staging/mismatches", "distinct_record_types"],
        {"size": 100_000},
        50,
        True,
    ),
    (
        "subscriber list: just under 1 MiB of {}",
        "subscribers",
        ["GET /staging/subscriber", "empty_objects"],
        {"size": 1024 * 1024 - 16},
        1000,
        True,
    ),
    (
        "one operation: 8 MiB of short strings",
        "operations",
        ["GET /operations", "json"],
        {
            "body": [
                {
                    "id": "op-1",
                    "triggerFunction": "syncStagingX",
                    "status": "TODO",
                    "inputs": {"x": [f"ab{i % 10}" for i in range(1_100_000)]},
                }
            ]
        },
        1000,
        False,
    ),
    ("ordinary records", "mismatches", None, {}, 1000, False),
]

SERVER = """
import json, sys
from damdrift.dx.client import DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.simulator import ManualClock, Scenario, Simulator
clock = ManualClock()
scenario = Scenario.model_validate({"name": "hostile", "findDurationSeconds": 10, "seed": 5,
                                    "credentials": {"password": "Pw-hostile-42"}})
with Simulator(scenario, clock=clock) as dx:
    sub = dx.add_subscriber("sub.example.com", drift={"MEDIA_ITEM": {"UPDATE": int(sys.argv[1])}})
    connection = {"hostname": dx.hostname, "dxProtocol": "http", "dxPort": dx.port}
    client = DxClient(DxConnection.model_validate(connection),
                      DxCredentials.model_validate({"username": dx.username, "password": dx.password}))
    client.start_find_mismatch(sub)
    clock.advance(11)
    info = {**connection, "user": dx.username, "password": dx.password, "sub": sub}
    print("hostile DX ready at", json.dumps(info, separators=(",", ":")), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        dx.clear_faults()
        if command["fault"]:
            dx.inject_fault(*command["fault"], **command["options"])
        print("ok", flush=True)
"""


def hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(call: str, info: dict[str, Any], page_size: int) -> None:
    """One case in a fresh process: log in, note the peak, make the call, note the peak again."""
    from damdrift.dx.client import ClientTuning, DxClient
    from damdrift.dx.connection import DxConnection, DxCredentials
    from damdrift.report.ingest.tracker import RecordTracker
    from damdrift.report.ingest.writer import ReportWriter

    connection = {k: info[k] for k in ("hostname", "dxProtocol", "dxPort")}
    client = DxClient(
        DxConnection.model_validate(connection),
        DxCredentials.model_validate({"username": info["user"], "password": info["password"]}),
        ClientTuning(retries=0, page_size=page_size),
    )
    client.login()
    before = hwm_mb()
    outcome = "ok"
    try:
        if call == "subscribers":
            client.list_subscribers()
        elif call == "subscriber":
            client.get_subscriber(info["sub"])
        elif call == "operations":
            client.list_operations()
        else:
            with tempfile.TemporaryDirectory() as work:
                tracker = RecordTracker(spill_dir=Path(work) / "keys")
                with ReportWriter(work, observer=tracker.observe) as writer:
                    writer.add_many(client.iter_mismatches(info["sub"]))
    except Exception as exc:
        outcome = type(exc).__name__
    emit_result({"added_mb": hwm_mb() - before, "outcome": outcome})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 records instead of 3,000: a smoke test")
    parser.add_argument("--sources", type=Path, help="measure this tree's layers/shared and src instead")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], json.loads(args.child[1]), int(args.child[2]))
        return 0
    env = {}
    if args.sources:
        sources = args.sources.resolve()
        env["PYTHONPATH"] = f"{sources}/layers/shared{os.pathsep}{sources}/src"
    return run(300 if args.quick else 3000, env)


def run(records: int, env: dict[str, str]) -> int:
    """The simulator in a process of its own, told each case's fault through its stdin; each case in a
    fresh child."""
    worst, refused, met = 0.0, 0, True
    print(f"{'case':<42} {'added MB':>9}  outcome")
    server = subprocess.Popen(
        [PYTHON, "-c", SERVER, str(records)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        # This tree's simulator (it has the fault kinds), whatever --sources measures.
        env={**os.environ, "PYTHONPATH": f"{REPO}/layers/shared{os.pathsep}{REPO}/src"},
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        ready = server.stdout.readline()
        info = ready.removeprefix("hostile DX ready at ").strip()
        for title, call, fault, options, page_size, past_a_bound in CASES:
            server.stdin.write(json.dumps({"fault": fault, "options": options}) + "\n")
            server.stdin.flush()
            if server.stdout.readline().strip() != "ok":
                raise RuntimeError("the simulator did not take the fault")
            result = run_child([PYTHON, __file__, "--child", call, info, str(page_size)], env, timeout=600)
            added, outcome = float(result["added_mb"]), str(result["outcome"])
            worst = max(worst, added)
            refused += outcome == "UnexpectedResponse"
            met = met and added <= ADDED_MB_TARGET and (outcome == "UnexpectedResponse") == past_a_bound
            print(f"{title:<42} {added:>9.1f}  {outcome}")
    finally:
        server.stdin.close()
        server.wait(30)
    print(result_line("hostile", cases=len(CASES), worst_added_mb=worst, refused=refused, targets_met=met))
    return 0


if __name__ == "__main__":
    sys.exit(main())
