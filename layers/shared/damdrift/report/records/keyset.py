"""One run's record identities, sorted: what the next run's diff reads instead of the whole report.

``record-keys.bin`` is stored beside each usable run's report. It holds, for every record, its 64-bit
key and check (:mod:`damdrift.report.records.identity`) sorted by (key, check), and the record's line
number in ``records.jsonl.gz`` — so the next run learns the previous run's identities from 20 bytes a record
(20 MB for a million, read in well under a second) instead of decompressing and parsing ~260 MB of JSON,
and can still pick the exact lines of RESOLVED records out of that report.

File layout: the magic line ``DAMDRIFT-KEYS 1``, one JSON header line (count, dynamic pair codes), then
``count`` little-endian uint64 keys, ``count`` uint64 checks, ``count`` uint32 line numbers.

A million keys are sorted in a few MB (:class:`SortedRuns`, :func:`write_sorted`): while the report is
written, every 64k keys are sorted and spilled to ``/tmp`` as a run; at the end the runs are merged
straight into ``record-keys.bin``, and the diff reads it back in blocks (:class:`KeyFile`). Everything per
record stays in C: runs are merged a block at a time by cutting each run's block at the smallest of their
last keys and sorting the pieces together (timsort merges presorted pieces), not item by item.
"""

from __future__ import annotations

import gzip
import json
import operator
import os
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from damdrift.report.records.identity import CODE_SHIFT, OVERFLOW_CODE, KeyCollector, PairTable

KEYS_FILENAME = "record-keys.bin"
MAGIC = b"DAMDRIFT-KEYS 1\n"
_HEADER_MAX = 64 * 1024
_INDEX_MAX = 0xFFFFFFFF
_RECORD_BYTES = 20  # key 8 + check 8 + line 4
#: Entries read or merged at a time: ~1.3 MB of arrays, or ~3 MB as Python ints while merging.
BLOCK = 1 << 16
_LOW56 = (1 << CODE_SHIFT) - 1

Block = tuple["array[int]", "array[int]", "array[int]"]


class KeyFileError(ValueError):
    """A record-keys.bin that cannot be read (truncated, another format, inconsistent)."""


class KeySource(Protocol):
    """One run's keys in (key, check) order: in memory (:class:`SortedKeys`) or on disk (:class:`KeyFile`)."""

    @property
    def pairs(self) -> PairTable: ...

    def __len__(self) -> int: ...

    def blocks(self) -> Iterator[Block]:
        """(keys, checks, lines) arrays, in order, a block at a time."""
        ...

    def code_counts(self) -> dict[int, int]: ...

    def recoded(self, target: PairTable) -> KeySource:
        """The same keys with pair codes as ``target`` numbers them (only dynamic codes ever differ)."""
        ...


@dataclass(frozen=True)
class SortedKeys:
    """Keys, checks and line numbers of one run's records, ordered by (key, check)."""

    keys: array[int]
    checks: array[int]
    lines: array[int]
    pairs: PairTable

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_collector(cls, collector: KeyCollector) -> SortedKeys:
        """Sort what the writer collected, in memory. Transient peak: one Python int (~56 bytes) a record.

        For a collector that spilled to a :class:`SortedRuns` sink, use :func:`write_sorted`.
        """
        if collector.spilled:
            raise ValueError("the collector spilled its keys to sorted runs: merge them with write_sorted")
        n = len(collector.keys)
        if n > _INDEX_MAX:
            raise ValueError(f"{n} records are more than a key file can number")
        if len(collector.checks) != n:
            raise ValueError("the collector holds as many keys as checks")
        # One 160-bit integer per record sorts (key, check) and carries the line number along: a single
        # C-level sort, no key function.
        combined = _combine(collector.keys, collector.checks, range(n))
        combined.sort()
        return cls(*_split(combined), collector.pairs)

    @classmethod
    def from_records(cls, lines: Iterable[bytes | str], pairs: PairTable | None = None) -> SortedKeys:
        """Key a stored report line by line (a run without record-keys.bin, e.g. an older one)."""
        collector = KeyCollector(pairs)
        for line in lines:
            if line.strip():
                collector.add_record(json.loads(line))
        return cls.from_collector(collector)

    @classmethod
    def from_records_gz(cls, stream: IO[bytes], pairs: PairTable | None = None) -> SortedKeys:
        """Key a ``records.jsonl.gz`` read from ``stream`` (a file or an S3 body)."""
        with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
            return cls.from_records(lines, pairs)

    def blocks(self) -> Iterator[Block]:
        yield self.keys, self.checks, self.lines

    def code_counts(self) -> dict[int, int]:
        """Records per pair code, from the sorted keys alone (binary search at each code boundary)."""
        return _code_counts(self.keys)

    def recoded(self, target: PairTable) -> SortedKeys:
        """These keys with pair codes as ``target`` numbers them (only dynamic codes ever differ)."""
        mapping = {code: target.code(pair) for code, pair in self.pairs.dynamic()}
        if all(old == new for old, new in mapping.items()):
            return SortedKeys(self.keys, self.checks, self.lines, target)
        low = (1 << CODE_SHIFT) - 1
        combined = [
            ((mapping.get(key >> CODE_SHIFT, key >> CODE_SHIFT) << CODE_SHIFT | (key & low)) << 96)
            | (check << 32)
            | line
            for key, check, line in zip(self.keys, self.checks, self.lines, strict=True)
        ]
        combined.sort()
        return SortedKeys(*_split(combined), target)

    # -- the file ---------------------------------------------------------------------------------------

    def write(self, out: IO[bytes]) -> None:
        out.write(_header(len(self), self.pairs))
        for values in (self.keys, self.checks, self.lines):
            out.write(little_endian(values).tobytes())

    @classmethod
    def read(cls, data: bytes) -> SortedKeys:
        count, pairs, start = _parse_header(data[: len(MAGIC) + _HEADER_MAX])
        body = memoryview(data)[start:]
        if len(body) != count * _RECORD_BYTES:
            raise KeyFileError(f"record-keys holds {len(body)} bytes, expected {count * 20} for {count} keys")
        keys, checks, lines = array("Q"), array("Q"), array("I")
        keys.frombytes(body[: count * 8])
        checks.frombytes(body[count * 8 : count * 16])
        lines.frombytes(body[count * 16 :])
        if sys.byteorder != "little":
            for values in (keys, checks, lines):
                values.byteswap()
        return cls(keys, checks, lines, pairs)


def _parse_header(data: bytes) -> tuple[int, PairTable, int]:
    """A key file's count, pair table and where its body starts, from its first bytes."""
    if not data.startswith(MAGIC):
        raise KeyFileError("not a dam-drift record-keys file")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _HEADER_MAX)
    if end < 0:
        raise KeyFileError("record-keys header is missing")
    try:
        header: Mapping[str, Any] = json.loads(data[len(MAGIC) : end])
        count = int(header["count"])
        dynamic = [(int(code), (str(rtype), str(action))) for code, rtype, action in header["pairs"]]
        pairs = PairTable(dynamic)
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"record-keys header is invalid: {exc}") from None
    if count < 0:
        raise KeyFileError(f"record-keys header is invalid: count {count}")
    return count, pairs, end + 1


def _header(count: int, pairs: PairTable) -> bytes:
    header = {"count": count, "pairs": [[code, *pair] for code, pair in pairs.dynamic()]}
    return MAGIC + json.dumps(header, ensure_ascii=True).encode("ascii") + b"\n"


def _code_counts(keys: array[int], into: dict[int, int] | None = None) -> dict[int, int]:
    """Records per pair code in sorted ``keys`` (binary search at each code boundary), added to ``into``."""
    counts = {} if into is None else into
    start, n = 0, len(keys)
    while start < n:
        code = keys[start] >> CODE_SHIFT
        end = n if code >= OVERFLOW_CODE else bisect_left(keys, (code + 1) << CODE_SHIFT, start)
        counts[code] = counts.get(code, 0) + end - start
        start = end
    return counts


def _combine(keys: array[int], checks: array[int], lines: Iterable[int]) -> list[int]:
    """``key << 96 | check << 32 | line`` per entry: one int sorts by (key, check) and carries the line."""
    high = map(operator.or_, map(operator.lshift, keys, repeat(96)), map(operator.lshift, checks, repeat(32)))
    return list(map(operator.or_, high, lines))


# -- sorting a million keys in a few MB ------------------------------------------------------------------


class SortedRuns:
    """Where a :class:`KeyCollector` spills its keys: each chunk sorted, as a run file in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.runs: list[tuple[Path, int]] = []

    def add(self, keys: array[int], checks: array[int], first_line: int) -> None:
        """Sort one chunk (its lines numbered from ``first_line``) and store it as a run."""
        if first_line + len(keys) > _INDEX_MAX:
            raise ValueError(f"{first_line + len(keys)} records are more than a key file can number")
        combined = _combine(keys, checks, range(first_line, first_line + len(keys)))
        combined.sort()
        path = self.directory / f"run-{len(self.runs):05d}.bin"
        with open(path, "wb") as out:
            for values in _split(combined):
                out.write(little_endian(values).tobytes())
        self.runs.append((path, len(keys)))

    def merged(self) -> Iterator[list[int]]:
        """Every run's entries (as combined ints) in order, a sorted list at a time."""
        readers = [_RunReader(path, count) for path, count in self.runs]
        step = max(1024, BLOCK // max(len(readers), 1))
        try:
            heads = [reader.read(step) for reader in readers]
            starts = [0] * len(readers)
            while True:
                live = [i for i, head in enumerate(heads) if head]
                if not live:
                    return
                if len(live) == 1:  # one run left: its blocks are in order already
                    i = live[0]
                    yield heads[i][starts[i] :]
                    while block := readers[i].read(BLOCK):
                        yield block
                    return
                # Nothing after the smallest of the blocks' last entries can come before it: every
                # entry up to it, from every block, is final once the pieces are sorted together.
                limit = min(heads[i][-1] for i in live)
                out: list[int] = []
                for i in live:
                    head = heads[i]
                    cut = bisect_right(head, limit, starts[i])
                    out += head[starts[i] : cut]
                    if cut == len(head):
                        heads[i], starts[i] = readers[i].read(step), 0
                    else:
                        starts[i] = cut
                out.sort()
                yield out
        finally:
            for reader in readers:
                reader.close()


class _RunReader:
    """One run file, read a block of combined ints at a time."""

    def __init__(self, path: Path, count: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._count = count
        self._at = 0

    def read(self, n: int) -> list[int]:
        n = min(n, self._count - self._at)
        if n <= 0:
            return []
        keys = _read_array(self._file, "Q", self._at * 8, n)
        checks = _read_array(self._file, "Q", self._count * 8 + self._at * 8, n)
        lines = _read_array(self._file, "I", self._count * 16 + self._at * 4, n)
        self._at += n
        return _combine(keys, checks, lines)

    def close(self) -> None:
        self._file.close()


def _read_array(file: BinaryIO, typecode: str, offset: int, n: int) -> array[int]:
    values = array(typecode)
    file.seek(offset)
    values.fromfile(file, n)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def write_sorted(collector: KeyCollector, path: Path) -> KeyFile:
    """Writes the collector's keys, sorted, as ``record-keys.bin`` at ``path``; returns the file's reader.

    With a :class:`SortedRuns` sink the spilled runs are merged into the file block by block (memory
    stays a few MB whatever the count); without one the keys are sorted in memory.
    """
    runs = collector.sink if isinstance(collector.sink, SortedRuns) else None
    if runs is None:
        in_memory = SortedKeys.from_collector(collector)
        with open(path, "wb") as out:
            in_memory.write(out)
        size = path.stat().st_size
        return KeyFile(path, len(in_memory), collector.pairs, size - len(in_memory) * _RECORD_BYTES)
    collector.hand_over()
    count = collector.spilled
    header = _header(count, collector.pairs)
    start = len(header)
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(start + count * _RECORD_BYTES)
    counts: dict[int, int] = {}
    with open(path, "r+b") as key_out, open(path, "r+b") as check_out, open(path, "r+b") as line_out:
        key_out.seek(start)
        check_out.seek(start + count * 8)
        line_out.seek(start + count * 16)
        for merged in runs.merged():
            keys, checks, lines = _split(merged)
            _code_counts(keys, counts)
            key_out.write(little_endian(keys).tobytes())
            check_out.write(little_endian(checks).tobytes())
            line_out.write(little_endian(lines).tobytes())
    for run, _count in runs.runs:
        run.unlink(missing_ok=True)
    runs.runs.clear()
    return KeyFile(path, count, collector.pairs, start, counts)


@dataclass
class KeyFile:
    """A ``record-keys.bin`` on disk, read a block at a time (a million keys never sit in memory).

    ``segments``, when set, is the order to read it in: ``(start, end, old code, new code)`` — ranges of
    entries of one pair code each, and the code to give them (:meth:`recoded` reorders code groups).
    """

    path: Path
    count: int
    pairs: PairTable
    body: int
    counts: dict[int, int] | None = None
    segments: tuple[tuple[int, int, int, int], ...] | None = None

    @classmethod
    def open(cls, path: Path) -> KeyFile:
        """Checks the header and the size; KeyFileError when it is not a complete key file."""
        with open(path, "rb") as stream:
            count, pairs, start = _parse_header(stream.read(len(MAGIC) + _HEADER_MAX))
        size = os.path.getsize(path) - start
        if size != count * _RECORD_BYTES:
            raise KeyFileError(f"record-keys holds {size} bytes, expected {count * 20} for {count} keys")
        return cls(path, count, pairs, start)

    def __len__(self) -> int:
        return self.count

    def blocks(self) -> Iterator[Block]:
        size = BLOCK
        with open(self.path, "rb") as stream:
            for start, end, old, new in self.segments or ((0, self.count, 0, 0),):
                for at in range(start, end, size):
                    n = min(size, end - at)
                    keys = _read_array(stream, "Q", self.body + at * 8, n)
                    if old != new:
                        low = map(operator.and_, keys, repeat(_LOW56))
                        keys = array("Q", map(operator.or_, low, repeat(new << CODE_SHIFT)))
                    checks = _read_array(stream, "Q", self.body + self.count * 8 + at * 8, n)
                    lines = _read_array(stream, "I", self.body + self.count * 16 + at * 4, n)
                    yield keys, checks, lines

    def code_counts(self) -> dict[int, int]:
        if self.counts is None:
            counts: dict[int, int] = {}
            for keys, _checks, _lines in replace(self, segments=None).blocks():
                _code_counts(keys, counts)
            self.counts = counts
        if not self.segments:
            return dict(self.counts)
        return {new: end - start for start, end, _old, new in self.segments}

    def recoded(self, target: PairTable) -> KeySource:
        mapping = {code: target.code(pair) for code, pair in self.pairs.dynamic()}
        if all(old == new for old, new in mapping.items()):
            return replace(self, pairs=target)
        if len(set(mapping.values())) < len(mapping) or OVERFLOW_CODE in mapping.values():
            # Pairs beyond the 255th merge into one code: re-sort in memory (absurd for DX).
            with open(self.path, "rb") as stream:
                return SortedKeys.read(stream.read()).recoded(target)
        # Only whole code groups move: read them in the order of their new codes.
        groups, at = [], 0
        for code, n in sorted(self.code_counts().items()):
            groups.append((mapping.get(code, code), at, at + n, code))
            at += n
        segments = tuple((start, end, old, new) for new, start, end, old in sorted(groups))
        return replace(self, pairs=target, segments=segments)


def _split(combined: list[int]) -> tuple[array[int], array[int], array[int]]:
    """``key << 96 | check << 32 | line`` values as three arrays (C-level maps: no list in between)."""
    mask64 = (1 << 64) - 1
    keys = array("Q", map(operator.rshift, combined, repeat(96)))
    checks = array("Q", map(operator.and_, map(operator.rshift, combined, repeat(32)), repeat(mask64)))
    lines = array("I", map(operator.and_, combined, repeat(_INDEX_MAX)))
    return keys, checks, lines


def little_endian(values: array[int]) -> array[int]:
    """``values`` in the byte order every file of ours is written in (little-endian): a swapped copy only
    on a big-endian machine."""
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped
