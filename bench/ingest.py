"""Ingest benchmark: the fetch-report step at 10k, 100k and 1M mismatch records, against a plain download.

What is measured: ``damdrift.steps.fetch.fetch_with`` — the library function the fetch-report Lambda
runs — with a real ``DxClient`` against the DX simulator and a ``ReportStore`` on moto S3: every record
downloaded (the next pages in a thread while one is written), written to ``records.jsonl.gz`` and
``report.csv`` and keyed, stored in checkpointed parts and then assembled in S3 from them, the keys
sorted into ``record-keys.bin`` and stored, ``summary.json``, ``report.html`` and ``latest.json``
stored. The handler's own wrapper (event parsing, the Powertools decorators) is not in the loop: it
costs the same at any size, and running it through LocalAws would put moto's in-memory AWS into the
measured process.

The comparison: the same client paging through the same records and dropping them (the least any
ingest must do). Both run in a fresh child process per case, while the simulator and moto's S3 run in
processes of their own, so a child's ``ru_maxrss`` is our code's peak alone.

Targets: ingest <= 1.3x the plain download at 1M; peak RSS <= 100 MB at 1M (issue 24); peak RSS at 1M
minus peak RSS at 10k < 20 MB. ``--page-sizes`` runs the comparison at several page sizes (how the default of
``ClientTuning.page_size`` was chosen).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from support import (
    FAKE_AWS_ENV,
    PYTHON,
    Service,
    cpu_seconds,
    current_rss_mb,
    emit_result,
    median,
    peak_rss_mb,
    result_line,
    run_child,
    s3_server,
    simulator,
    wait_for_quiet,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "dam-drift-bench-reports"
FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 5_000)
TARGET_RATIO = 1.3
TARGET_PEAK_MB = 100.0
TARGET_GROWTH_MB = 20.0
_USER = "wpsadmin"
T = TypeVar("T")


def subscriber_id(records: int) -> str:
    """A stable UUID per size, so a child can be told which subscriber holds how many records."""
    return f"00000000-0000-4000-8000-{records:012d}"


def scenario_for(sizes: list[int]) -> dict[str, Any]:
    """One subscriber per size, its drift spread over types and actions like the ``large`` scenario's."""
    from damdrift_cli.simulator import load_scenario

    template = load_scenario("large").subscribers[0].drift
    blocks = [(t.value, a.value, r.count) for t, actions in template.items() for a, r in actions.items()]
    whole = sum(count for _, _, count in blocks)
    subscribers = []
    for size in sizes:
        drift: dict[str, dict[str, int]] = {}
        left = size
        for i, (rtype, action, count) in enumerate(blocks):
            share = left if i == len(blocks) - 1 else min(left, round(size * count / whole))
            left -= share
            if share:
                drift.setdefault(rtype, {})[action] = share
        subscribers.append(
            {"id": subscriber_id(size), "targetHost": f"dx-sub-{size}.example.com", "drift": drift}
        )
    return {"name": "ingest-bench", "findDurationSeconds": 0, "seed": 1, "subscribers": subscribers}


def _client(port: int, page_size: int | None = None) -> Any:
    from damdrift.dx.client import ClientTuning, DxClient
    from damdrift.dx.connection import DxConnection, DxCredentials

    tuning = ClientTuning() if page_size is None else ClientTuning(page_size=page_size)
    connection = DxConnection(hostname="127.0.0.1", protocol="http", dx_port=port)
    return DxClient(connection, DxCredentials(username=_USER, password=_USER), tuning)


def prepare(sim_port: int, s3_url: str, sizes: list[int]) -> None:
    """Runs each subscriber's find to completion (the log is filled then) and creates the bucket."""
    client = _client(sim_port)
    for size in sizes:
        sid = subscriber_id(size)
        client.delete_mismatches(sid)
        client.start_find_mismatch(sid)
        while getattr(client.get_subscriber(sid).resync_status, "value", None) != "FIND_MISMATCH_COMPLETED":
            time.sleep(0.05)
    s3_client(s3_url).create_bucket(Bucket=BUCKET)


def s3_client(url: str) -> S3Client:
    """A boto3 S3 client for moto's S3 at ``url`` (fake credentials: nothing reaches AWS)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=FAKE_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


# -- the measured child processes -----------------------------------------------------------------------


def child_plain(port: int, records: int, page_size: int | None) -> dict[str, Any]:
    """Pages through every record with the client and drops it: the floor any ingest has to pay."""
    client = _client(port, page_size)
    client.login()
    before = current_rss_mb()
    cpu, started = cpu_seconds(), time.perf_counter()
    counted = deque(enumerate(client.iter_mismatches(subscriber_id(records)), 1), maxlen=1)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    got = counted[0][0] if counted else 0
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "records": got,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_ingest(port: int, records: int, page_size: int | None, s3_url: str) -> dict[str, Any]:
    """The fetch-report step's library function, end to end, on moto S3 in another process."""
    from datetime import UTC, datetime

    from damdrift.settings import FetchReportSettings
    from damdrift.state import SubscriberTask
    from damdrift.steps.fetch import fetch_with
    from damdrift.store import ReportStore

    work = Path(tempfile.mkdtemp(prefix="dam-drift-ingest-"))
    client = _client(port, page_size)
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": BUCKET, "WORK_DIR": str(work)})
    s3 = s3_client(s3_url)
    store = ReportStore(s3, BUCKET)
    now = datetime.now(UTC)
    task = SubscriberTask.model_validate(
        {
            "check": {
                "execution": f"bench-{records}",
                "executionArn": "arn:aws:states:eu-central-1:123456789012:execution:bench:x",
                "publisher": client.connection.model_dump(by_alias=True),
                "publisherId": client.connection.publisher_id,
                "credentialsSecret": "bench",
                "poll": {},
                "busyPolicy": "wait",
                "notifyPolicy": "on-drift",
                "maxConcurrency": 1,
                "startedAt": now.isoformat(),
            },
            "subscriber": {"subscriberId": subscriber_id(records)},
            "poll": {
                "phase": "COMPLETED",
                "waitSeconds": 0,
                "findStartedAt": now.isoformat(),
                "deadline": now.isoformat(),
            },
        }
    )
    client.login()
    s3.head_bucket(Bucket=BUCKET)  # the S3 connection is warm in a Lambda too
    before = current_rss_mb()
    cpu, started = cpu_seconds(), time.perf_counter()
    result = fetch_with(client, task, settings, store, now)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    shutil.rmtree(work, ignore_errors=True)
    outcome = result.outcome
    if outcome.status.value == "ERRORED":
        raise RuntimeError(f"the fetch step failed: {outcome.error}")
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "records": outcome.total,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "summary_key": outcome.summary_key,
    }


# -- the parent ------------------------------------------------------------------------------------------


def run_once(
    sim: Service, s3: Service, mode: str, records: int, page_size: int | None, quiet: float
) -> dict[str, Any]:
    """One fresh child; also what the helper processes spent meanwhile and how busy the machine was."""
    args = [PYTHON, __file__, "--child", mode, "--sim-port", str(sim.port), "--s3-url", s3.url]
    args += ["--records", str(records)]
    if page_size is not None:
        args += ["--page-size", str(page_size)]
    busy = wait_for_quiet(quiet) if quiet else 0.0
    helpers = sim.cpu_seconds() + s3.cpu_seconds()
    run = run_child(args, FAKE_AWS_ENV)
    run["busy_cpus"] = busy
    run["helpers_cpu_s"] = sim.cpu_seconds() + s3.cpu_seconds() - helpers
    if run["records"] != records:
        raise RuntimeError(f"{mode} at {records}: got {run['records']} records")
    return run


def summarise(found: list[dict[str, Any]]) -> dict[str, float]:
    """The fastest time (the least disturbed run), median CPU seconds, the highest peak RSS."""
    return {
        "seconds": min(r["seconds"] for r in found),
        "cpu_s": median([r["cpu_s"] for r in found]),
        "helpers_cpu_s": median([r["helpers_cpu_s"] for r in found]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in found),
        "rss_before_mb": max(r["rss_before_mb"] for r in found),
        "busy_cpus": min(r["busy_cpus"] for r in found),
    }


def measure(
    sim: Service,
    s3: Service,
    records: int,
    page_size: int | None,
    repeat: int,
    quiet_wait: float,
) -> dict[str, Any]:
    """``repeat`` rounds of (plain, ingest), each a fresh child, interleaved so that load from anything
    else on the machine hits both sides alike. Kept: the fastest run's time (the least disturbed one),
    the median CPU seconds of the child and of the helper processes, the highest peak RSS."""
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "ingest": []}
    for _ in range(repeat):
        for mode, found in runs.items():
            found.append(run_once(sim, s3, mode, records, page_size, quiet_wait))
    measured: dict[str, Any] = {mode: summarise(found) for mode, found in runs.items()}
    measured["rounds"] = list(zip(runs["plain"], runs["ingest"], strict=True))
    return measured


def _round_ratios(measured: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Each round's ingest/plain ratio, in time and in CPU (a round's two runs ran back to back, so a
    ratio taken within a round is less disturbed by the load of the hour than one across rounds)."""
    times, cpus = [], []
    for plain, ingest in measured["rounds"]:
        times.append(ingest["seconds"] / plain["seconds"])
        cpus.append((ingest["cpu_s"] + ingest["helpers_cpu_s"]) / (plain["cpu_s"] + plain["helpers_cpu_s"]))
    return times, cpus


def sweep_page_sizes(
    sim: Service, s3: Service, records: int, page_sizes: list[int], repeat: int, quiet_wait: float
) -> int:
    """The plain download at each page size, rounds interleaved: page size only changes the download
    (requests made, one page in memory); what the fetch step does with each record does not depend on it."""
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in page_sizes}
    for _ in range(repeat):
        for size, found in runs.items():
            found.append(run_once(sim, s3, "plain", records, size, quiet_wait))
    print(f"{'page':>6} {'requests':>9} {'fastest s':>10} {'cpu s':>7} {'peak MB':>8} {'busy':>5}")
    rows = {size: summarise(found) for size, found in runs.items()}
    for size, row in rows.items():
        print(
            f"{size:>6} {records // size + 1:>9} {row['seconds']:>10.2f} "
            f"{row['cpu_s'] + row['helpers_cpu_s']:>7.2f} {row['peak_rss_mb']:>8.1f} {row['busy_cpus']:>5.2f}"
        )
    best = min(rows, key=lambda size: rows[size]["cpu_s"] + rows[size]["helpers_cpu_s"])
    print(
        result_line(
            "ingest",
            records=records,
            sweep=",".join(map(str, page_sizes)),
            least_cpu_page=best,
            **{f"cpu_s_{size}": round(r["cpu_s"] + r["helpers_cpu_s"], 2) for size, r in rows.items()},
            **{f"peak_mb_{size}": round(r["peak_rss_mb"], 1) for size, r in rows.items()},
        )
    )
    return 0


def _row(size: int, page_size: int, measured: dict[str, Any]) -> dict[str, Any]:
    plain, ingest = measured["plain"], measured["ingest"]
    plain_cpu = plain["cpu_s"] + plain["helpers_cpu_s"]
    ingest_cpu = ingest["cpu_s"] + ingest["helpers_cpu_s"]
    return {
        "records": size,
        "page_size": page_size,
        "plain_s": plain["seconds"],
        "ingest_s": ingest["seconds"],
        "ratio": ingest["seconds"] / plain["seconds"],
        "plain_cpu_s": plain_cpu,
        "ingest_cpu_s": ingest_cpu,
        "cpu_ratio": ingest_cpu / plain_cpu,
        "plain_peak_mb": plain["peak_rss_mb"],
        "peak_rss_mb": ingest["peak_rss_mb"],
        "base_mb": ingest["rss_before_mb"],
        "busy_cpus": max(plain["busy_cpus"], ingest["busy_cpus"]),
        "round_ratios": _round_ratios(measured)[0],
        "round_cpu_ratios": _round_ratios(measured)[1],
        "plain_runs_s": [plain_run["seconds"] for plain_run, _ in measured["rounds"]],
        "ingest_runs_s": [ingest_run["seconds"] for _, ingest_run in measured["rounds"]],
    }


_HEADER = (
    f"{'records':>9} {'page':>6} {'plain s':>8} {'ingest s':>9} {'ratio':>6} {'plain cpu':>10} "
    f"{'ingest cpu':>11} {'ratio':>6} {'plain MB':>9} {'ingest MB':>10} {'at start':>9} {'busy':>5}"
)


def _print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['records']:>9} {row['page_size']:>6} {row['plain_s']:>8.2f} {row['ingest_s']:>9.2f} "
        f"{row['ratio']:>6.2f} {row['plain_cpu_s']:>10.2f} {row['ingest_cpu_s']:>11.2f} "
        f"{row['cpu_ratio']:>6.2f} "
        f"{row['plain_peak_mb']:>9.1f} {row['peak_rss_mb']:>10.1f} {row['base_mb']:>9.1f} "
        f"{row['busy_cpus']:>5.2f}",
        flush=True,
    )
    ratios, cpus = row["round_ratios"], row["round_cpu_ratios"]
    print(
        f"{'':>9} each round: plain s {_listed(row['plain_runs_s'])}, "
        f"ingest s {_listed(row['ingest_runs_s'])}; "
        f"ratio {_listed(ratios)} (median {median(ratios):.2f}), cpu ratio {_listed(cpus)} "
        f"(median {median(cpus):.2f})",
        flush=True,
    )


def _listed(values: list[float]) -> str:
    return "/".join(f"{value:.2f}" for value in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Targets: ratio <= 1.3 at 1M records; peak RSS <= 100 MB; peak at 1M - peak at 10k < 20 MB.",
    )
    parser.add_argument(
        "--records",
        default=",".join(map(str, FULL_SIZES)),
        help="comma-separated sizes (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, one round: a smoke test")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds per size; the fastest time is kept (default: %(default)s)",
    )
    parser.add_argument("--page-size", type=int, help="records per GET (default: ClientTuning's default)")
    parser.add_argument(
        "--page-sizes",
        help="instead: the plain download at these page sizes (comma-separated), at the largest --records",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be idle (default: %(default)s; "
        "the 'busy' column shows the CPUs others kept busy when the least disturbed run started)",
    )
    parser.add_argument("--child", choices=("plain", "ingest"), help=argparse.SUPPRESS)
    parser.add_argument("--sim-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--s3-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        records = int(args.records)
        if args.child == "plain":
            emit_result(child_plain(args.sim_port, records, args.page_size))
        else:
            emit_result(child_ingest(args.sim_port, records, args.page_size, args.s3_url))
        return 0

    from damdrift.dx.client import ClientTuning

    default_page = ClientTuning().page_size
    sizes = sorted(QUICK_SIZES if args.quick else {int(s) for s in args.records.split(",")})
    repeat = 1 if args.quick else args.repeat
    quiet_wait = 0.0 if args.quick else args.quiet_wait
    if args.page_sizes:
        sizes = [max(sizes)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dam-drift-bench-") as tmp:
        scenario = Path(tmp) / "scenario.json"
        scenario.write_text(json.dumps(scenario_for(sizes)), encoding="utf-8")
        with simulator(scenario) as sim, s3_server() as s3:
            prepare(sim.port, s3.url, sizes)
            print(
                f"client default page size {default_page}; "
                f"{repeat} round(s) per case, fastest kept; "
                f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
            )
            print("cpu = our process + the simulator (+ moto S3 for ingest): the same work's cost unloaded")
            if args.page_sizes:
                page_sizes = [int(p) for p in args.page_sizes.split(",")]
                return sweep_page_sizes(sim, s3, sizes[0], page_sizes, repeat, quiet_wait)
            print(_HEADER)
            for size in sizes:
                measured = measure(sim, s3, size, args.page_size, repeat, quiet_wait)
                rows.append(_row(size, args.page_size or default_page, measured))
                _print_row(rows[-1])
    small, large = rows[0], rows[-1]
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    met = (
        large["ratio"] <= TARGET_RATIO
        and large["peak_rss_mb"] <= TARGET_PEAK_MB
        and growth < TARGET_GROWTH_MB
    )
    print(
        f"targets at {large['records']}: ratio {large['ratio']:.2f} (<= {TARGET_RATIO}), "
        f"peak {large['peak_rss_mb']:.0f} MB (<= {TARGET_PEAK_MB:.0f}), growth over {small['records']} "
        f"{growth:.1f} MB (< {TARGET_GROWTH_MB:.0f}): {'met' if met else 'MISSED'}"
    )
    print(
        result_line(
            "ingest",
            records=large["records"],
            page_size=large["page_size"],
            plain_s=large["plain_s"],
            ingest_s=large["ingest_s"],
            ratio=large["ratio"],
            ratio_median=median(large["round_ratios"]),
            cpu_ratio=large["cpu_ratio"],
            cpu_ratio_median=median(large["round_cpu_ratios"]),
            peak_rss_mb=large["peak_rss_mb"],
            rss_growth_mb=growth,
            targets_met=met,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
