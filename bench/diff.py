"""Diff benchmark: two runs of N records (10% new, 10% resolved), our diff against the naive one.

Setup (not timed): two consecutive runs of one subscriber are written as the fetch step writes them —
``records.jsonl.gz`` by :class:`~damdrift.report.ingest.writer.ReportWriter`, each record's identity collected
on the way by :class:`~damdrift.report.ingest.tracker.RecordTracker` — and the previous run's
``record-keys.bin`` is stored. Record ids come from the simulator's dataset, so consecutive runs share
them as DX's do; the second run's blocks start 10% later (the oldest 10% resolved) and end 10% later
(10% new).

Measured, each in a fresh child process (same imports in both, so the same baseline RSS):

* **ours** — what the fetch step does after writing the report (which sorted the keys in chunks of 64k
  and spilled them to disk as it went, ``SortedRuns``): merge the runs into this run's
  ``record-keys.bin`` (``write_sorted``), open the previous run's (``KeyFile``), then
  ``damdrift.report.analysis.diff.compare``: merge the keys a block at a time, pick the NEW and RESOLVED
  lines out of both reports into ``new.jsonl.gz`` / ``resolved.jsonl.gz``, count, sample, serialise
  ``diff.json``;
* **naive** — load both reports as sets of ``(recordType, recordAction, recordId)`` tuples and take the
  two set differences, counted by type and action (no files written: it does less than ours).

Targets at 1M: ours <= 0.25x the naive time and <= 0.3x its peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import (
    PYTHON,
    current_rss_mb,
    emit_result,
    median,
    peak_rss_mb,
    result_line,
    run_child,
    wait_for_quiet,
)

FULL_SIZE = 1_000_000
QUICK_SIZE = 20_000
CHURN = 0.10
TARGET_TIME_RATIO = 0.25
TARGET_MEMORY_RATIO = 0.3
SUBSCRIBER = "1b32dab2-0da9-4862-87c7-6abe3c33bf0f"


def _run_records(records: int, run: int) -> Iterator[dict[str, str]]:
    """Run 1 or 2 of a subscriber with ``records`` mismatches, spread like the ``large`` scenario's."""
    from damdrift_cli.simulator import load_scenario
    from damdrift_cli.simulator.dataset import Drift, Segment

    template = load_scenario("large").subscribers[0].drift
    blocks = [(t.value, a.value, r.count) for t, actions in template.items() for a, r in actions.items()]
    whole = sum(count for _, _, count in blocks)
    spec: dict[str, dict[str, dict[str, int]]] = {}
    left = records
    for i, (rtype, action, count) in enumerate(blocks):
        share = left if i == len(blocks) - 1 else min(left, round(records * count / whole))
        left -= share
        if share:
            start = 0 if run == 1 else round(share * CHURN)
            spec.setdefault(rtype, {})[action] = {"count": share, "start": start}
    drift = Drift.from_mapping(spec)
    segment = Segment(run, 7, SUBSCRIBER, drift, f"2026-11-2{run}T05:00:00.000Z")
    for block in drift.blocks:
        for i in range(block.count):
            yield segment.row(block, i)


def write_runs(records: int, work: Path) -> dict[str, int]:
    """Both runs' reports, the previous run's record-keys.bin and the current run's collected keys."""
    from damdrift.report.ingest.tracker import RecordTracker
    from damdrift.report.ingest.writer import ReportWriter
    from damdrift.report.records.keyset import SortedRuns, write_sorted

    totals = {}
    for run in (1, 2):
        tracker = RecordTracker(spill_dir=work / f"spill{run}")
        with ReportWriter(work / f"run{run}", observer=tracker.observe) as writer:
            writer.add_many(_run_records(records, run))
        totals[f"run{run}"] = writer.result.total
        collector = tracker.collector
        if run == 1:
            write_sorted(collector, work / "run1" / "record-keys.bin")
        else:  # what the fetch step has when the report is written: sorted runs, and the last keys
            assert isinstance(collector.sink, SortedRuns)
            state = {
                "pairs": collector.pairs.dynamic(),
                "spilled": collector.spilled,
                "runs": [[str(path), count] for path, count in collector.sink.runs],
            }
            with open(work / "run2" / "collected.bin", "wb") as out:
                out.write(json.dumps(state).encode() + b"\n")
                collector.keys.tofile(out)
                collector.checks.tofile(out)
    return totals


# -- the measured children ---------------------------------------------------------------------------------


def _imports() -> None:
    """Everything either side uses, imported before the baseline is taken."""


def child_ours(work: Path) -> dict[str, Any]:
    from damdrift.report.analysis.diff import compare, diff_document
    from damdrift.report.records.identity import KeyCollector, PairTable
    from damdrift.report.records.keyset import KeyFile, SortedRuns, write_sorted

    collected = work / "run2" / "collected.bin"
    with open(collected, "rb") as source:  # the collector as the writer left it
        state = json.loads(source.readline())
        pairs = PairTable((code, (rtype, action)) for code, (rtype, action) in state["pairs"])
        # A copy of the runs: merging them removes them, and every round starts from the same state.
        runs = SortedRuns(work / "ours-runs")
        shutil.rmtree(runs.directory)
        shutil.copytree(work / "spill2", runs.directory)
        runs.runs = [(runs.directory / Path(path).name, count) for path, count in state["runs"]]
        collector = KeyCollector(pairs, sink=runs)
        collector.spilled = state["spilled"]
        count = (collected.stat().st_size - source.tell()) // 16
        collector.keys.fromfile(source, count)
        collector.checks.fromfile(source, count)
    out = work / "ours-out"
    before = current_rss_mb()
    started = time.perf_counter()
    current = write_sorted(collector, work / "run2" / "record-keys.bin")
    previous = KeyFile.open(work / "run1" / "record-keys.bin")
    result = compare(
        "bench-run-2",
        current,
        work / "run2" / "records.jsonl.gz",
        previous_keys=previous,
        previous_records=lambda: open(work / "run1" / "records.jsonl.gz", "rb"),  # noqa: SIM115
        out_dir=out,
    )
    document = json.dumps(diff_document(result))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "new": result.new.total,
        "resolved": result.resolved.total,
        "unchanged": result.unchanged.total,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "diff_json_bytes": len(document),
    }


def _identity_set(path: Path) -> set[tuple[str, str, str]]:
    with gzip.open(path, "rb") as lines:
        return {
            (raw["recordType"], raw["recordAction"], raw["recordId"])
            for raw in map(json.loads, lines)
            if isinstance(raw, dict)
        }


def child_naive(work: Path) -> dict[str, Any]:
    before = current_rss_mb()
    started = time.perf_counter()
    previous = _identity_set(work / "run1" / "records.jsonl.gz")
    current = _identity_set(work / "run2" / "records.jsonl.gz")
    new, resolved = current - previous, previous - current
    counts = {
        name: Counter((t, a) for t, a, _ in part) for name, part in (("new", new), ("resolved", resolved))
    }
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "new": sum(counts["new"].values()),
        "resolved": sum(counts["resolved"].values()),
        "unchanged": len(current) - len(new),
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- the parent ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records", type=int, default=FULL_SIZE, help="records per run (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIZE} records, one round: a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the fastest time is kept (default: 3)")
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="seconds to wait for an idle machine before each run"
    )
    parser.add_argument("--child", choices=("ours", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _imports()
        work = Path(args.work)
        emit_result(child_ours(work) if args.child == "ours" else child_naive(work))
        return 0

    records = QUICK_SIZE if args.quick else args.records
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory(prefix="dam-drift-diff-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        totals = write_runs(records, work)
        print(
            f"setup: two runs of {totals['run1']:,} / {totals['run2']:,} records "
            f"in {time.perf_counter() - started:.1f} s"
        )
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "naive": []}
        for _ in range(repeat):
            for mode, found in runs.items():
                if not args.quick:
                    wait_for_quiet(args.quiet_wait)
                found.append(run_child([PYTHON, __file__, "--child", mode, "--work", str(work)]))
    ours, naive = runs["ours"], runs["naive"]
    for results in (ours, naive):
        if {(r["new"], r["resolved"]) for r in results} != {(naive[0]["new"], naive[0]["resolved"])}:
            raise RuntimeError(f"the two diffs disagree: ours {ours[0]}, naive {naive[0]}")
    expected = round(records * CHURN)
    print(
        f"new {ours[0]['new']:,}, resolved {ours[0]['resolved']:,} (~{expected:,} expected), both sides agree"
    )
    figures: dict[str, dict[str, float]] = {}
    for name, results in (("ours", ours), ("naive", naive)):
        figures[name] = {
            "seconds": min(r["seconds"] for r in results),
            "median_s": median([r["seconds"] for r in results]),
            "peak": max(r["peak_rss_mb"] for r in results),
            "above": max(r["peak_rss_mb"] - r["rss_before_mb"] for r in results),
        }
    time_ratio = figures["ours"]["seconds"] / figures["naive"]["seconds"]
    memory_ratio = figures["ours"]["peak"] / figures["naive"]["peak"]
    print(f"{'':6} {'fastest s':>10} {'median s':>9} {'peak RSS MB':>12} {'above start MB':>15}")
    for name, fig in figures.items():
        print(
            f"{name:6} {fig['seconds']:>10.2f} {fig['median_s']:>9.2f} {fig['peak']:>12.1f} "
            f"{fig['above']:>15.1f}"
        )
    above_ratio = figures["ours"]["above"] / max(figures["naive"]["above"], 1e-9)
    print(f"ratio  {time_ratio:>10.3f} {'':>9} {memory_ratio:>12.3f} {above_ratio:>15.3f}")
    met = time_ratio <= TARGET_TIME_RATIO and memory_ratio <= TARGET_MEMORY_RATIO
    print(
        f"targets at {records:,}: time {time_ratio:.3f} (<= {TARGET_TIME_RATIO}), "
        f"peak RSS {memory_ratio:.3f} "
        f"(<= {TARGET_MEMORY_RATIO}): {'met' if met else 'MISSED'}"
    )
    print(
        result_line(
            "diff",
            records=records,
            ours_s=figures["ours"]["seconds"],
            naive_s=figures["naive"]["seconds"],
            time_ratio=round(time_ratio, 3),
            ours_peak_mb=figures["ours"]["peak"],
            naive_peak_mb=figures["naive"]["peak"],
            memory_ratio=round(memory_ratio, 3),
            targets_met=met,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
