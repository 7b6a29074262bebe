"""Drift age per record: since which check each drifting record has been there, in a row.

``record-age.bin`` beside ``record-keys.bin`` holds, for every record of the check, its identity's
64-bit *check* (the half of the identity digest that does not depend on the run's pair codes, so it
means the same record in every run), the start of its streak (epoch seconds of that check's start),
how many checks in a row (saturating at 65535) and its line in ``records.jsonl.gz`` — sorted by check.

Carried forward like the summary's drift age: the next check merges its own sorted checks with the
previous usable check's ``record-age.bin`` — a record in both continues its streak, any other starts
one — so a check reads one file of the previous run (22 bytes a record), never an older report. A
previous check stored before this file existed is bridged from its ``record-keys.bin``: its records
count as drifting since that check ("at least" 2). Duplicates pair off in order, as in the diff; a
64-bit check shared by two different records (~1 in 10^8 at 1M records) only merges their ages.

File layout: the magic line ``DAMDRIFT-AGE 1``, a little-endian uint32 count, then ``count`` uint64
checks, ``count`` uint32 since, ``count`` uint16 streaks, ``count`` uint32 line numbers.
"""

from __future__ import annotations

import operator
import struct
import sys
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path

from damdrift.report.keyset import KeyFile

AGE_FILENAME = "record-age.bin"
MAGIC = b"DAMDRIFT-AGE 1\n"
_MAX_STREAK = 0xFFFF
#: The longest-drifting records the report lists.
OLDEST_SHOWN = 20


class RecordAgeError(ValueError):
    """The file is not a complete record-age.bin."""


@dataclass
class RecordAges:
    """One check's ages, sorted by ``checks`` (the identity half)."""

    checks: array[int]
    since: array[int]
    streak: array[int]
    lines: array[int]

    def __len__(self) -> int:
        return len(self.checks)

    def write(self, path: Path) -> None:
        with open(path, "wb") as out:
            out.write(MAGIC + struct.pack("<I", len(self.checks)))
            for values in (self.checks, self.since, self.streak, self.lines):
                out.write(_little_endian(values).tobytes())

    @classmethod
    def read(cls, path: Path) -> RecordAges:
        data = path.read_bytes()
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
            raise RecordAgeError(f"{path.name} is not a record-age file")
        (count,) = struct.unpack_from("<I", data, len(MAGIC))
        at = len(MAGIC) + 4
        if len(data) - at != count * 18:
            raise RecordAgeError(f"{path.name} holds {len(data) - at} bytes, expected {count * 18}")
        arrays = []
        for typecode, size in (("Q", 8), ("I", 4), ("H", 2), ("I", 4)):
            values = array(typecode)
            values.frombytes(data[at : at + count * size])
            if sys.byteorder != "little":
                values.byteswap()
            arrays.append(values)
            at += count * size
        return cls(*arrays)

    @classmethod
    def bridged(cls, previous_keys: KeyFile, started: datetime) -> RecordAges:
        """A previous check without ages: each of its records drifting since that check (streak 1)."""
        checks = _sorted_checks(previous_keys)
        n = len(checks)
        return cls(
            checks, array("I", [int(started.timestamp())]) * n, array("H", [1]) * n, array("I", [0]) * n
        )

    def oldest(self, limit: int = OLDEST_SHOWN) -> list[tuple[int, int, int]]:
        """``(line, since, streak)`` of the longest-drifting records (longest streak first)."""
        chosen: list[int] = []
        for value in sorted(set(self.streak), reverse=True):  # a few distinct streaks: C-speed scans
            found = [i for i, streak in enumerate(self.streak) if streak == value]
            found.sort(key=lambda i: (self.since[i], self.lines[i]))
            chosen += found[: limit - len(chosen)]
            if len(chosen) >= limit:
                break
        return [(self.lines[i], self.since[i], self.streak[i]) for i in chosen]


def carry_forward(current_keys: KeyFile, previous: RecordAges | None, started: datetime) -> RecordAges:
    """This check's ages: records the previous check had continue its streak, the others start one now."""
    now = int(started.timestamp())
    # check << 32 | line, sorted as plain ints (no tuple per record), then split again.
    combined: list[int] = []
    for _keys, checks, lines in current_keys.blocks():
        combined.extend(map(operator.or_, map(operator.lshift, checks, repeat(32)), lines))
    combined.sort()
    sorted_checks = array("Q", map(operator.rshift, combined, repeat(32)))
    sorted_lines = array("I", map(operator.and_, combined, repeat(0xFFFFFFFF)))
    del combined
    n = len(sorted_checks)
    since = array("I", [now]) * n
    streak = array("H", [1]) * n
    if previous is not None and len(previous):
        old_checks, old_since, old_streak = previous.checks, previous.since, previous.streak
        i, j, m = 0, 0, len(old_checks)
        while i < n and j < m:
            mine, theirs = sorted_checks[i], old_checks[j]
            if mine == theirs:
                since[i] = old_since[j]
                streak[i] = min(old_streak[j] + 1, _MAX_STREAK)
                i += 1
                j += 1
            elif mine < theirs:
                i += 1
            else:
                j += 1
    return RecordAges(sorted_checks, since, streak, sorted_lines)


def since_datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _sorted_checks(keys: KeyFile) -> array[int]:
    checks: list[int] = []
    for _keys, block_checks, _lines in keys.blocks():
        checks.extend(block_checks)
    checks.sort()
    return array("Q", checks)


def _little_endian(values: array[int]) -> array[int]:
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped
