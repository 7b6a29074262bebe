"""Drift age per record: since which check each drifting record has been there, in a row.

``record-age.bin`` beside ``record-keys.bin`` holds, for every record, in the key file's order, the start
of its streak (epoch seconds of that check's start) and how many checks in a row (saturating at 65535):
6 bytes a record.

Carried forward like the summary's drift age: the next check merges its sorted keys with the previous
check's (:func:`damdrift.report.analysis.diff.diff_keys`, the diff's own galloping merge). In a merge
of two sorted multisets the k-th UNCHANGED record of one run is the k-th UNCHANGED record of the other, so the
previous ages, read in the (recoded) key order and with the RESOLVED records left out, line up with this
run's UNCHANGED records one for one: they continue their streak, NEW records start one. Everything per
record is array and iterator work in C; no older report is read. A previous check stored before this
file existed is bridged: its records count as drifting since that check.

File layout: the magic line ``DAMDRIFT-AGE 1``, a little-endian uint32 count, then ``count`` uint32
since and ``count`` uint16 streaks.
"""

from __future__ import annotations

import heapq
import operator
import struct
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, compress, repeat
from pathlib import Path

from damdrift.report.analysis.diff import diff_keys
from damdrift.report.records.keyset import KeyFile, little_endian

AGE_FILENAME = "record-age.bin"
MAGIC = b"DAMDRIFT-AGE 1\n"
_MAX_STREAK = 0xFFFF
_CODE_BITS = 8  # KeyDiff entries are line << 8 | pair code
#: The longest-drifting records the report lists.
OLDEST_SHOWN = 20


class RecordAgeError(ValueError):
    """The file is not a complete record-age.bin, or does not match its record-keys.bin."""


@dataclass
class RecordAges:
    """One check's ages, in its record-keys.bin order."""

    since: array[int]
    streak: array[int]

    def __len__(self) -> int:
        return len(self.since)

    def write(self, path: Path) -> None:
        with open(path, "wb") as out:
            out.write(MAGIC + struct.pack("<I", len(self.since)))
            out.write(little_endian(self.since).tobytes())
            out.write(little_endian(self.streak).tobytes())

    @classmethod
    def read(cls, path: Path) -> RecordAges:
        data = path.read_bytes()
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
            raise RecordAgeError(f"{path.name} is not a record-age file")
        (count,) = struct.unpack_from("<I", data, len(MAGIC))
        at = len(MAGIC) + 4
        if len(data) - at != count * 6:
            raise RecordAgeError(f"{path.name} holds {len(data) - at} bytes, expected {count * 6}")
        since, streak = array("I"), array("H")
        since.frombytes(data[at : at + count * 4])
        streak.frombytes(data[at + count * 4 :])
        if sys.byteorder != "little":
            since.byteswap()
            streak.byteswap()
        return cls(since, streak)

    @classmethod
    def starting(cls, count: int, started: datetime) -> RecordAges:
        """``count`` records all drifting since ``started`` (a first check, or a bridged one)."""
        return cls(array("I", [int(started.timestamp())]) * count, array("H", [1]) * count)

    def in_order(self, keys: KeyFile) -> tuple[Iterable[int], Iterable[int]]:
        """Since and streak in the order ``keys`` (maybe recoded) reads its entries."""
        if len(self) != len(keys):
            raise RecordAgeError(f"record-age.bin has {len(self)} records, record-keys.bin {len(keys)}")
        segments = keys.segments or ((0, len(keys), 0, 0),)
        since = array("I")
        streak = array("H")
        for start, end, _old, _new in segments:
            since.extend(self.since[start:end])
            streak.extend(self.streak[start:end])
        return since, streak


def carry_forward(
    current: KeyFile, previous_keys: KeyFile | None, previous: RecordAges | None, started: datetime
) -> RecordAges:
    """This check's ages: UNCHANGED records continue the previous check's streak, NEW ones start one."""
    if previous_keys is None or previous is None:
        return RecordAges.starting(len(current), started)
    recoded = previous_keys.recoded(current.pairs)
    assert isinstance(recoded, KeyFile)  # a KeyFile recodes to a KeyFile (in memory only for >255 pairs)
    merged = diff_keys(recoded, current)
    new_lines = {entry >> _CODE_BITS for entry in merged.new}
    resolved_lines = {entry >> _CODE_BITS for entry in merged.resolved}
    previous_since, previous_streak = previous.in_order(recoded)
    kept = list(map(operator.not_, map(resolved_lines.__contains__, _lines(recoded))))
    carried_since = compress(previous_since, kept)
    carried_streak = map(
        min, map(operator.add, compress(previous_streak, kept), repeat(1)), repeat(_MAX_STREAK)
    )
    unchanged = list(map(operator.not_, map(new_lines.__contains__, _lines(current))))
    # Per record, the next value of "now" (NEW) or of the carried ages (UNCHANGED): all in C.
    since = array(
        "I", map(next, map([repeat(int(started.timestamp())), carried_since].__getitem__, unchanged))
    )
    streak = array("H", map(next, map([repeat(1), carried_streak].__getitem__, unchanged)))
    return RecordAges(since, streak)


def oldest(ages: RecordAges, keys: KeyFile, limit: int = OLDEST_SHOWN) -> list[tuple[int, int, int]]:
    """``(line, since, streak)`` of the longest-drifting records: longest streak first, then oldest."""
    if not len(ages):
        return []
    chosen: list[tuple[int, int, int]] = []
    for value in sorted(set(ages.streak), reverse=True):  # a few distinct streaks: C-level scans
        # Flags and line numbers stay iterators (the lines read from the key file again for each
        # streak): as a list and an array they would be 12 bytes a record, the check's peak memory.
        flags = map(operator.eq, ages.streak, repeat(value))
        lines = chain.from_iterable(block for _keys, _checks, block in keys.blocks())
        for since, line in heapq.nsmallest(
            limit - len(chosen), compress(zip(ages.since, lines, strict=True), flags)
        ):
            chosen.append((line, since, value))
        if len(chosen) >= limit:
            break
    return chosen


def since_datetime(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _lines(keys: KeyFile) -> array[int]:
    lines = array("I")
    for _keys, _checks, block in keys.blocks():
        lines.extend(block)
    return lines
