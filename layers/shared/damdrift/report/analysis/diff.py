"""What changed between two runs of one subscriber: NEW, RESOLVED and UNCHANGED records.

Built for a million records a run without holding either run as Python objects:

1. **Merge the sorted keys** (:class:`~damdrift.report.records.keyset.SortedKeys`, 20 bytes a record): the
   current run's were collected while its report was written, the previous run's come from its
   ``record-keys.bin``. Equal (key, check) pairs are UNCHANGED, one each; a key match whose checks
   differ is a hash collision — the two records are told apart exactly and the collision is counted.
   Duplicates count as a multiset: NEW + UNCHANGED = the current total, RESOLVED + UNCHANGED = the
   previous one. Per-pair counts come from the key's top byte.
2. **Pick the lines** of the NEW records out of the current ``records.jsonl.gz`` and of the RESOLVED ones
   out of the previous run's (streamed from S3) by line number (:mod:`damdrift.report.records.gzlines`), copy
   them to ``new.jsonl.gz`` / ``resolved.jsonl.gz`` as they are, and parse only what needs reading: the
   capped samples, and the records an ignore rule might match.

``diff.json`` (:class:`RunDiff`) holds the counts by type and action, how many of each class the
check's ignore rules match, and up to :data:`SAMPLE_CAP` sample records per class.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt
from pydantic.alias_generators import to_camel

from damdrift.models.summary import CheckStatus
from damdrift.report.records.fields import field_value, record_action, record_type
from damdrift.report.records.gzlines import pick_lines
from damdrift.report.records.identity import CODE_SHIFT, Pair, PairTable
from damdrift.report.records.ignore import IgnoreMatcher
from damdrift.report.records.keyset import Block, KeySource

DIFF_FILENAME = "diff.json"
NEW_FILENAME = "new.jsonl.gz"
RESOLVED_FILENAME = "resolved.jsonl.gz"
#: Sample records kept per class in diff.json: what the HTML report's tables show.
SAMPLE_CAP = 500
_CODE_BITS = 8
_CODE_MASK = (1 << _CODE_BITS) - 1
#: Equal records in a row after which the merge compares whole blocks (C-speed) instead of one by one:
#: unchanged stretches are long when drift changes little, which is the usual case.
_GALLOP_AFTER = 16


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class RecordSample(_Camel):
    """One record of a class, as the report shows it."""

    record_type: str
    record_action: str
    record_id: Any = None
    #: The index of the ignore rule that matches the record, if one does.
    ignored_by: int | None = None


class ChangeClass(_Camel):
    """The records of one class (NEW, RESOLVED or UNCHANGED)."""

    total: NonNegativeInt = 0
    ignored: NonNegativeInt = 0
    counts: dict[str, dict[str, NonNegativeInt]] = Field(default_factory=dict)
    samples: list[RecordSample] = Field(default_factory=list)


class PreviousRun(_Camel):
    """The run this one is compared with: the subscriber's newest usable check before it."""

    execution: str
    summary_key: str
    status: CheckStatus
    finished_at: datetime | None = None
    total: NonNegativeInt = 0


class AgedRecord(RecordSample):
    """A record and how long it has been drifting (damdrift.report.analysis.record_age)."""

    since: datetime
    checks: NonNegativeInt


class RunDiff(_Camel):
    """``diff.json``: what changed since :attr:`previous` (None: the first usable check, all NEW)."""

    schema_version: Literal[1] = 1
    execution: str
    previous: PreviousRun | None = None
    new: ChangeClass = Field(default_factory=ChangeClass)
    resolved: ChangeClass = Field(default_factory=ChangeClass)
    unchanged: ChangeClass = Field(default_factory=ChangeClass)
    sample_cap: NonNegativeInt = SAMPLE_CAP
    #: Key matches whose checks differed: different records with the same 64-bit key, told apart.
    collisions: NonNegativeInt = 0
    #: Where the previous run's identities came from: its record-keys.bin, or its records (older runs).
    previous_keys: Literal["record-keys", "records"] | None = None
    #: Keys (S3) or paths (local) of the full NEW / RESOLVED records, when written.
    new_file: str | None = None
    resolved_file: str | None = None
    #: The longest-drifting records of this check (record_age.OLDEST_SHOWN at most), longest first.
    oldest: list[AgedRecord] = Field(default_factory=list)


# -- 1. the merge ----------------------------------------------------------------------------------------


@dataclass
class KeyDiff:
    """The merge's result: per class, ``line << 8 | pair code`` ascending (so by line number)."""

    new: list[int]
    resolved: list[int]
    unchanged: dict[int, int]  # per pair code
    collisions: int


def diff_keys(previous: KeySource, current: KeySource) -> KeyDiff:
    """Merge two runs' sorted keys. ``previous`` must number pairs as ``current`` does (``recoded``).

    Both are read a block at a time (a :class:`~damdrift.report.records.keyset.KeyFile` never sits in memory
    whole); memory is the blocks and the NEW and RESOLVED entries.
    """
    new, resolved, collisions = _merge(previous.blocks(), current.blocks())
    new.sort()
    resolved.sort()
    unchanged = current.code_counts()
    for entry in new:
        code = entry & _CODE_MASK
        unchanged[code] -= 1
    return KeyDiff(new, resolved, {code: n for code, n in unchanged.items() if n}, collisions)


def _merge(
    previous_blocks: Iterator[Block], current_blocks: Iterator[Block]
) -> tuple[list[int], list[int], int]:
    """NEW and RESOLVED entries (in key order) and the collisions seen, block by block."""
    new: list[int] = []
    resolved: list[int] = []
    collisions = 0
    shift = CODE_SHIFT
    pk, pc, pl = next(previous_blocks, _EMPTY)
    ck, cc, cl = next(current_blocks, _EMPTY)
    i = j = run = 0
    while True:
        end_p, end_c = len(pk), len(ck)
        if i == end_p:
            (pk, pc, pl), i = next(previous_blocks, _EMPTY), 0
            if not pk:
                break
            continue
        if j == end_c:
            (ck, cc, cl), j = next(current_blocks, _EMPTY), 0
            if not ck:
                break
            continue
        while i < end_p and j < end_c:
            a, b = pk[i], ck[j]
            if a == b:
                x, y = pc[i], cc[j]
                if x == y:  # the common case: the same record in both runs
                    i += 1
                    j += 1
                    run += 1
                    if run >= _GALLOP_AFTER:  # a long unchanged stretch: skip it in doubling blocks
                        step = _GALLOP_AFTER
                        while (
                            i + step <= end_p
                            and j + step <= end_c
                            and pk[i : i + step] == ck[j : j + step]
                            and pc[i : i + step] == cc[j : j + step]
                        ):
                            i += step
                            j += step
                            step *= 2
                        run = 0
                    continue
                collisions += 1  # the same key, another record: the check tells them apart
                previous_first = x < y
            else:
                previous_first = a < b
            run = 0
            if previous_first:
                resolved.append(pl[i] << _CODE_BITS | a >> shift)
                i += 1
            else:
                new.append(cl[j] << _CODE_BITS | b >> shift)
                j += 1
    # One side is exhausted: the rest of the other is all RESOLVED (or all NEW).
    _drain(pk, pl, i, previous_blocks, resolved)
    _drain(ck, cl, j, current_blocks, new)
    return new, resolved, collisions


def _drain(keys: array[int], lines: array[int], at: int, rest: Iterator[Block], into: list[int]) -> None:
    """Every entry from ``keys[at]`` on, and of the blocks after it, as ``line << 8 | code``."""
    while keys:
        into.extend(map(_entry, lines[at:], keys[at:]))
        keys, _checks, lines = next(rest, _EMPTY)
        at = 0


_EMPTY: Block = (array("Q"), array("Q"), array("I"))


def _entry(line: int, key: int) -> int:
    return line << _CODE_BITS | key >> CODE_SHIFT


# -- 2. the records behind the keys ---------------------------------------------------------------------


@dataclass
class _Collecting:
    """One class being filled, a batch of picked lines at a time.

    Every line is copied to ``out`` (when set) and counted by pair code; a line is only parsed when it
    is needed: as a sample, or (``parse_all``) to ask the ignore rules about it.
    """

    pairs: PairTable
    ignore: IgnoreMatcher | None
    cap: int
    parse_all: bool = True
    out: IO[bytes] | None = None
    counts: Counter[int] = field(default_factory=Counter)
    ignored: dict[Pair, int] = field(default_factory=dict)
    samples: list[RecordSample] = field(default_factory=list)

    def add(self, codes: Sequence[int], lines: list[bytes]) -> None:
        """Lines, and their pair codes (position by position)."""
        if self.out is not None:
            self.out.write(b"\n".join(lines) + b"\n")
        self.counts.update(codes)
        parsed = (
            lines if self.parse_all and self.ignore is not None else lines[: self.cap - len(self.samples)]
        )
        for line in parsed:
            raw = json.loads(line)
            rtype, action, record_id = record_type(raw), record_action(raw), field_value(raw, "recordId")
            rule = self.ignore.match(rtype, action, record_id) if self.ignore is not None else None
            if rule is not None:
                self.ignored[rtype, action] = self.ignored.get((rtype, action), 0) + 1
            if len(self.samples) < self.cap:
                self.samples.append(
                    RecordSample(
                        record_type=rtype, record_action=action, record_id=record_id, ignored_by=rule
                    )
                )

    def take(self, stream: IO[bytes], entries: list[int]) -> None:
        """The lines of ``entries`` (``line << 8 | code``, ascending) out of a report."""
        codes = [entry & _CODE_MASK for entry in entries]
        position = 0
        for lines in pick_lines(stream, [entry >> _CODE_BITS for entry in entries]):
            self.add(codes[position : position + len(lines)], lines)
            position += len(lines)
        if position != len(entries):
            raise ValueError(
                f"the report has fewer lines than its record keys ({position} of {len(entries)})"
            )

    def result(self, counts: Mapping[int, int] | None = None) -> ChangeClass:
        """The class; ``counts`` (by pair code) when the lines seen were only samples of it."""
        nested: dict[str, dict[str, int]] = {}
        for code, n in sorted((self.counts if counts is None else counts).items()):
            rtype, action = self.pairs.pair(code)
            actions = nested.setdefault(rtype, {})
            actions[action] = actions.get(action, 0) + n
        return ChangeClass(
            total=sum(n for actions in nested.values() for n in actions.values()),
            ignored=sum(self.ignored.values()),
            counts=nested,
            samples=self.samples,
        )


def compare(
    execution: str,
    current: KeySource,
    current_records: Path,
    *,
    previous: PreviousRun | None = None,
    previous_keys: KeySource | None = None,
    previous_records: Callable[[], IO[bytes]] | None = None,
    ignore: IgnoreMatcher | None = None,
    current_ignored: Mapping[Pair, int] | None = None,
    out_dir: Path | None = None,
    sample_cap: int = SAMPLE_CAP,
) -> RunDiff:
    """The diff of the current run (its sorted keys and local ``records.jsonl.gz``) against ``previous``.

    ``previous_keys`` are the previous run's sorted keys and ``previous_records`` opens its report (a
    file or an S3 body); without them every current record is NEW. ``ignore`` is the check's matcher and
    ``current_ignored`` what it matched in the current run (by pair, from the tracker), so that only
    NEW and RESOLVED records are matched again. With ``out_dir`` the full NEW and RESOLVED records are
    written there (:data:`NEW_FILENAME`, :data:`RESOLVED_FILENAME`) and named in the result.
    """
    ignore = ignore if ignore else None
    if ignore is not None and current_ignored is None:
        raise ValueError("with ignore rules, say what they matched in the current run (current_ignored)")
    ignored_now = sum((current_ignored or {}).values())
    if previous_keys is None:  # the first usable check: every record is NEW, and is the report itself
        first = _Collecting(current.pairs, ignore, sample_cap, parse_all=False)
        with open(current_records, "rb") as stream:
            first.take(stream, [line << _CODE_BITS for line in range(min(sample_cap, len(current)))])
        result = first.result(current.code_counts())
        result.ignored = ignored_now
        return RunDiff(execution=execution, previous=previous, new=result, sample_cap=sample_cap)

    merged = diff_keys(previous_keys.recoded(current.pairs), current)
    new = _Collecting(current.pairs, ignore, sample_cap)
    unchanged = _Collecting(current.pairs, ignore, sample_cap, parse_all=False)
    resolved = _Collecting(current.pairs, ignore, sample_cap)
    if merged.resolved and previous_records is None:
        raise ValueError("the previous run's records are needed to list its RESOLVED records")
    # Every record NEW (the previous check was in sync): the report itself is the full list.
    new_out = out_dir if len(merged.new) < len(current) else None
    # Both reports are read at once: zlib inflates without the GIL, so two cores share the work.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diff-previous") as pool:
        resolved_done = (
            pool.submit(_pick, previous_records, resolved, merged.resolved, out_dir, RESOLVED_FILENAME)
            if merged.resolved and previous_records is not None
            else None
        )
        new_path = _pick(_opener(current_records), new, merged.new, new_out, NEW_FILENAME)
        resolved_path = resolved_done.result() if resolved_done is not None else None
    with open(current_records, "rb") as stream:  # the first UNCHANGED lines: usually the first block
        unchanged.take(stream, _first_others(merged.new, min(sample_cap, sum(merged.unchanged.values()))))

    unchanged_result = unchanged.result(merged.unchanged)
    unchanged_result.ignored = ignored_now - sum(new.ignored.values())
    return RunDiff(
        execution=execution,
        previous=previous,
        new=new.result(),
        resolved=resolved.result(),
        unchanged=unchanged_result,
        sample_cap=sample_cap,
        collisions=merged.collisions,
        new_file=str(new_path) if new_path else None,
        resolved_file=str(resolved_path) if resolved_path else None,
    )


def _pick(
    records: Callable[[], IO[bytes]],
    into: _Collecting,
    entries: list[int],
    out_dir: Path | None,
    filename: str,
) -> Path | None:
    """Copies the lines of ``entries`` out of a report into ``out_dir/filename`` (if any) and ``into``."""
    if not entries:
        return None
    with _gzip_or_none(out_dir, filename) as (into.out, path):
        stream = records()
        try:
            into.take(stream, entries)
        finally:
            stream.close()
    into.out = None
    return path


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    def open_report() -> IO[bytes]:
        return open(path, "rb")

    return open_report


def _first_others(new: list[int], extra: int) -> list[int]:
    """The first ``extra`` line numbers that are not NEW, as entries (``line << 8``, code 0: unknown)."""
    others: list[int] = []
    number = 0
    for entry in new:
        line = entry >> _CODE_BITS
        others.extend(range(number, min(line, number + extra - len(others))))
        number = line + 1
        if len(others) >= extra:
            break
    others.extend(range(number, number + extra - len(others)))
    return [line << _CODE_BITS for line in others]


@contextlib.contextmanager
def _gzip_or_none(out_dir: Path | None, name: str | None) -> Iterator[tuple[IO[bytes] | None, Path | None]]:
    """A gzip file ``out_dir/name`` to copy picked lines into, or ``(None, None)``."""
    if out_dir is None or name is None:
        yield None, None
        return
    path = out_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", compresslevel=1) as out:
        yield cast(IO[bytes], out), path


def diff_document(diff: RunDiff) -> dict[str, Any]:
    """``diff.json``'s content."""
    return diff.model_dump(by_alias=True, mode="json")
