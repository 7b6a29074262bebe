"""One run's record identities, sorted: what the next run's diff reads instead of the whole report.

``record-keys.bin`` is stored beside each usable run's report. It holds, for every record, its 64-bit
key and check (:mod:`damdrift.report.identity`) sorted by (key, check), and the record's line number in
``records.jsonl.gz`` — so the next run learns the previous run's identities from 20 bytes a record
(20 MB for a million, read in well under a second) instead of decompressing and parsing ~260 MB of JSON,
and can still pick the exact lines of RESOLVED records out of that report.

File layout: the magic line ``DAMDRIFT-KEYS 1``, one JSON header line (count, dynamic pair codes), then
``count`` little-endian uint64 keys, ``count`` uint64 checks, ``count`` uint32 line numbers.
"""

from __future__ import annotations

import gzip
import json
import operator
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import IO, Any

from damdrift.report.identity import CODE_SHIFT, OVERFLOW_CODE, KeyCollector, PairTable

KEYS_FILENAME = "record-keys.bin"
MAGIC = b"DAMDRIFT-KEYS 1\n"
_HEADER_MAX = 64 * 1024
_INDEX_MAX = 0xFFFFFFFF


class KeyFileError(ValueError):
    """A record-keys.bin that cannot be read (truncated, another format, inconsistent)."""


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
        """Sort what the writer collected. Transient peak: one Python int (~56 bytes) per record."""
        n = len(collector.keys)
        if n > _INDEX_MAX:
            raise ValueError(f"{n} records are more than a key file can number")
        # One 160-bit integer per record sorts (key, check) and carries the line number along: a single
        # C-level sort, no key function.
        combined = [
            (key << 96) | (check << 32) | line
            for line, (key, check) in enumerate(zip(collector.keys, collector.checks, strict=True))
        ]
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

    def code_counts(self) -> dict[int, int]:
        """Records per pair code, from the sorted keys alone (binary search at each code boundary)."""
        from bisect import bisect_left

        counts: dict[int, int] = {}
        start, n = 0, len(self.keys)
        while start < n:
            code = self.keys[start] >> CODE_SHIFT
            end = n if code >= OVERFLOW_CODE else bisect_left(self.keys, (code + 1) << CODE_SHIFT, start)
            counts[code] = end - start
            start = end
        return counts

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
        header = {"count": len(self), "pairs": [[code, *pair] for code, pair in self.pairs.dynamic()]}
        out.write(MAGIC)
        out.write(json.dumps(header, ensure_ascii=True).encode("ascii") + b"\n")
        for values in (self.keys, self.checks, self.lines):
            out.write(_little_endian(values).tobytes())

    @classmethod
    def read(cls, data: bytes) -> SortedKeys:
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
        body = memoryview(data)[end + 1 :]
        if count < 0 or len(body) != count * 20:
            raise KeyFileError(f"record-keys holds {len(body)} bytes, expected {count * 20} for {count} keys")
        keys, checks, lines = array("Q"), array("Q"), array("I")
        keys.frombytes(body[: count * 8])
        checks.frombytes(body[count * 8 : count * 16])
        lines.frombytes(body[count * 16 :])
        if sys.byteorder != "little":
            for values in (keys, checks, lines):
                values.byteswap()
        return cls(keys, checks, lines, pairs)


def _split(combined: list[int]) -> tuple[array[int], array[int], array[int]]:
    """``key << 96 | check << 32 | line`` values as three arrays (C-level maps: no list in between)."""
    mask64 = (1 << 64) - 1
    keys = array("Q", map(operator.rshift, combined, repeat(96)))
    checks = array("Q", map(operator.and_, map(operator.rshift, combined, repeat(32)), repeat(mask64)))
    lines = array("I", map(operator.and_, combined, repeat(_INDEX_MAX)))
    return keys, checks, lines


def _little_endian(values: array[int]) -> array[int]:
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped
