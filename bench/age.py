"""Drift-age benchmark: what one check adds to carry every record's drift age forward, at N records.

Setup (not timed): two consecutive runs of N records (10% resolved, 10% new), each keyed as the fetch step
keys them (``KeyCollector`` spilling sorted chunks, ``write_sorted`` -> ``record-keys.bin``); the previous
run's ``record-age.bin`` is carried from its own predecessor, so the timed step is the steady state.

Timed (``damdrift.report.analysis.record_age``): read the previous ``record-age.bin``, merge this run's sorted
keys with the previous run's (``carry_forward``: the diff's merge, then the ages lined up in C), write
this run's ``record-age.bin``, pick the 20 longest-drifting (``oldest``). No old report is read: the
previous run's key file (which the diff reads anyway) and its age file, 6 bytes a record. Printed: seconds
(median of --repeat), the peak RSS growth over the setup, and the file size.

    python bench/age.py            # 1,000,000 records
    python bench/age.py --quick    # 20,000

Targets at 1M: <= 10 CPU seconds (the fewest of --repeat) and <= 150 MB of peak RSS over the setup's
(the diff of the same runs takes ~3 s and ~90 MB: bench/diff.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import cpu_seconds, current_rss_mb, median, peak_rss_mb, result_line

FULL_SIZE = 1_000_000
QUICK_SIZE = 20_000
CHURN = 0.10
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 150


def key_run(directory: Path, start: int, count: int):  # type: ignore[no-untyped-def]
    from damdrift.report.records.identity import KeyCollector
    from damdrift.report.records.keyset import SortedRuns, write_sorted

    spill = directory / f"spill-{start}"
    spill.mkdir()
    collector = KeyCollector(sink=SortedRuns(spill))
    pairs = [
        ("MEDIA_ITEM", "CREATE"),
        ("COLLECTION", "UPDATE"),
        ("RENDITION", "DELETE"),
        ("KEYWORD", "CREATE"),
    ]
    for index in range(start, start + count):
        collector.add(pairs[index % len(pairs)], f"record-{index:09d}")
    return write_sorted(collector, directory / f"keys-{start}.bin")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIZE} records instead of {FULL_SIZE}")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = QUICK_SIZE if args.quick else FULL_SIZE
    from damdrift.report.analysis.record_age import RecordAges, carry_forward, oldest

    day = datetime(2026, 11, 1, 5, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="damdrift-age-") as temp:
        directory = Path(temp)
        shift = int(size * CHURN)
        older = key_run(directory, 0, size)
        previous = key_run(directory, shift, size)
        current = key_run(directory, 2 * shift, size)
        older_ages = carry_forward(older, None, None, day)
        carry_forward(previous, older, older_ages, day + timedelta(days=1)).write(
            directory / "previous-age.bin"
        )
        baseline_rss = current_rss_mb()
        seconds, cpu = [], []
        for _ in range(args.repeat):
            started, cpu_started = time.perf_counter(), cpu_seconds()
            before = RecordAges.read(directory / "previous-age.bin")
            ages = carry_forward(current, previous, before, day + timedelta(days=2))
            ages.write(directory / "record-age.bin")
            longest = oldest(ages, current)
            seconds.append(time.perf_counter() - started)
            cpu.append(cpu_seconds() - cpu_started)
        carried = sum(1 for streak in ages.streak if streak == 3)
        size_mb = (directory / "record-age.bin").stat().st_size / 1e6
    growth = peak_rss_mb() - baseline_rss
    # CPU seconds: on this shared machine the wall clock mostly measures other people's load.
    met = min(cpu) <= TARGET_SECONDS * size / FULL_SIZE + 0.5 and growth <= TARGET_RSS_MB
    print(f"wall s: {', '.join(f'{s:.2f}' for s in seconds)}; CPU s: {', '.join(f'{s:.2f}' for s in cpu)}")
    print(f"record-age.bin: {size_mb:.1f} MB")
    print(
        result_line(
            "age",
            records=size,
            seconds=round(median(seconds), 2),
            cpu_s=round(min(cpu), 2),
            peak_rss_growth_mb=round(growth),
            three_checks=carried,
            oldest_streak=longest[0][2],
            targets_met="yes" if met else "no",
        )
    )
    assert carried == size - 2 * shift, "records in all three runs must carry a streak of 3"
    return 0


if __name__ == "__main__":
    sys.exit(main())
