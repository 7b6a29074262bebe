"""The staging mismatch log, computed on demand instead of stored.

A subscriber's *drift* is a count of differing records per (record type, record action). A finished find
appends one :class:`Segment` to the log: that drift, frozen, not its rows. Every row is a pure function of
(seed, subscriber, type, action, index), so a page at offset 999,900 of a 1,000,000-row log costs the
same as the first page, and memory does not grow with the number of rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from damdrift.dx.models import RecordAction, RecordType

_NAMESPACE = uuid.UUID("5b0c7a52-3f5e-4d0e-9a43-7d1f6c2b9e10")


@dataclass(frozen=True)
class DriftBlock:
    """``count`` records of one type and action, numbered ``start .. start + count - 1``.

    Record identity follows the number, so raising ``count`` adds new records and raising ``start``
    resolves the oldest ones: that is how consecutive runs show new and resolved drift.
    """

    record_type: RecordType
    record_action: RecordAction
    count: int
    start: int = 0


@dataclass(frozen=True)
class Drift:
    """An immutable drift: blocks in enum order (types, then actions), empty blocks left out."""

    blocks: tuple[DriftBlock, ...] = ()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Mapping[str, Any]]) -> Drift:
        """Build from ``{"COLLECTION": {"CREATE": 3, "UPDATE": {"count": 5, "start": 10}}}``."""
        given: dict[tuple[RecordType, RecordAction], DriftBlock] = {}
        for type_name, actions in mapping.items():
            record_type = RecordType(type_name)
            for action_name, value in actions.items():
                record_action = RecordAction(action_name)
                count, start = (
                    (value, 0)
                    if isinstance(value, int)
                    else (int(value["count"]), int(value.get("start", 0)))
                )
                if count < 0 or start < 0:
                    raise ValueError(f"{type_name}.{action_name}: count and start must not be negative")
                given[record_type, record_action] = DriftBlock(record_type, record_action, count, start)
        ordered = (given[key] for key in ((t, a) for t in RecordType for a in RecordAction) if key in given)
        return cls(tuple(block for block in ordered if block.count))

    @property
    def total(self) -> int:
        return sum(block.count for block in self.blocks)

    def to_mapping(self) -> dict[str, dict[str, int | dict[str, int]]]:
        result: dict[str, dict[str, int | dict[str, int]]] = {}
        for b in self.blocks:
            value: int | dict[str, int] = b.count if b.start == 0 else {"count": b.count, "start": b.start}
            result.setdefault(b.record_type.value, {})[b.record_action.value] = value
        return result


def record_id(seed: int, subscriber_id: str, record_type: str, record_action: str, index: int) -> str:
    """The id of the differing DAM record: stable across runs, so consecutive reports can be diffed."""
    return str(uuid.uuid5(_NAMESPACE, f"record/{seed}/{subscriber_id}/{record_type}/{record_action}/{index}"))


@dataclass(frozen=True)
class MismatchFilter:
    """The query of ``GET /staging/mismatches``; ``None`` matches everything."""

    subscriber_id: str | None = None
    record_type: RecordType | None = None
    record_action: RecordAction | None = None

    def matches(self, subscriber_id: str, block: DriftBlock) -> bool:
        return (
            self.subscriber_id in (None, subscriber_id)
            and self.record_type in (None, block.record_type)
            and self.record_action in (None, block.record_action)
        )


@dataclass(frozen=True)
class Segment:
    """The rows one finished find added: ``run`` numbers finds globally, so row ids differ per run."""

    run: int
    seed: int
    subscriber_id: str
    drift: Drift
    created: str

    def row(self, block: DriftBlock, offset_in_block: int) -> dict[str, str]:
        index = block.start + offset_in_block
        kind = (block.record_type.value, block.record_action.value)
        # ASSUMPTION: mismatch-record-shape (no public schema; dx-api.md §5)
        return {
            "id": str(
                uuid.uuid5(_NAMESPACE, f"row/{self.seed}/{self.run}/{self.subscriber_id}/{kind}/{index}")
            ),
            "subscriberId": self.subscriber_id,
            "recordType": kind[0],
            "recordAction": kind[1],
            "recordId": record_id(self.seed, self.subscriber_id, kind[0], kind[1], index),
            "created": self.created,
            "updated": self.created,
        }


class MismatchLog:
    """Segments in the order their finds completed. Not thread-safe: the publisher state locks it."""

    def __init__(self) -> None:
        self._segments: list[Segment] = []

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def append(self, segment: Segment) -> None:
        self._segments.append(segment)

    def clear(self, subscriber_id: str | None = None) -> None:
        self._segments = [s for s in self._segments if subscriber_id not in (None, s.subscriber_id)]

    def count(self, query: MismatchFilter) -> int:
        return sum(
            b.count for s in self._segments for b in s.drift.blocks if query.matches(s.subscriber_id, b)
        )

    def page(
        self, query: MismatchFilter, offset: int, limit: int | None
    ) -> tuple[int, Iterator[dict[str, str]]]:
        """The number of rows in the page, and the rows themselves, generated while iterating.

        The segment list is copied now, so a later append or clear does not change a page being sent.
        """
        available = max(0, self.count(query) - offset)
        size = available if limit is None else min(limit, available)
        return size, _rows(tuple(self._segments), query, offset, size)


def _rows(
    segments: tuple[Segment, ...], query: MismatchFilter, skip: int, size: int
) -> Iterator[dict[str, str]]:
    for segment in segments:
        for block in segment.drift.blocks:
            if size == 0:
                return
            if not query.matches(segment.subscriber_id, block):
                continue
            if skip >= block.count:
                skip -= block.count
                continue
            stop = min(block.count, skip + size)
            for i in range(skip, stop):
                yield segment.row(block, i)
            size -= stop - skip
            skip = 0


#: Text a report must carry as data: markup, quotes, line breaks, spreadsheet formulas (CSV injection),
#: control characters, a lone surrogate (a JSON escape no UTF-8 encoder accepts) and a very long value.
HOSTILE_TEXTS: tuple[str, ...] = (
    "<script>alert('dam-drift')</script>",
    "\"quoted\", 'single' and a, comma",
    "line one\nline two\r\nline three",
    '=HYPERLINK("http://evil.example/","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\ttab first",
    "bell\x07 and nul\x00 and bidi\u202e",
    "lone surrogate \ud800 here",
    "</td></tr><img src=x onerror=alert(1)>",
    "A" * 10_000,
)
HOSTILE_RECORD_TYPE = 'MEDIA_ITEM"><img src=x onerror=alert(1)>'


#: The mismatch table's column names (HCL's test scripts query ``type``/``action``), for scenarios
#: whose DX spells a record that way (``recordFields: columns``).
COLUMN_SPELLING = {
    "subscriberId": "subscriber_id",
    "recordType": "type",
    "recordAction": "action",
    "recordId": "record_id",
}


def column_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with its fields spelled as the table's columns."""
    return {COLUMN_SPELLING.get(name, name): value for name, value in row.items()}


def hostile_row(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    """``row`` with hostile text in ``recordId`` and an extra ``note`` (and, one row in 8, the type).

    ``index`` (the row's offset in the log) picks the texts and keeps every ``recordId`` distinct.
    """
    text = HOSTILE_TEXTS[index % len(HOSTILE_TEXTS)]
    hostile = {**row, "recordId": f"{text}#{index}", "note": HOSTILE_TEXTS[(index + 1) % len(HOSTILE_TEXTS)]}
    if index % 8 == 7:
        hostile["recordType"] = HOSTILE_RECORD_TYPE
    return hostile


def distinct_type_row(row: Mapping[str, Any], index: int, length: int) -> dict[str, Any]:
    """``row`` with a ``recordType`` of its own, ``length`` characters long (the distinct_record_types
    fault): ``index`` (the row's offset in the log) keeps every type distinct."""
    name = f"TYPE_{index}_"
    return {**row, "recordType": (name + "X" * length)[:length] if length >= len(name) else name}


def endless_rows(subscriber_id: str, offset: int, count: int) -> Iterator[dict[str, str]]:
    """``count`` distinct rows starting at ``offset`` of a log that never ends (the endless_pages fault)."""
    for index in range(offset, offset + count):
        yield {
            "id": str(uuid.uuid5(_NAMESPACE, f"endless/{subscriber_id}/{index}")),
            "subscriberId": subscriber_id,
            "recordType": "MEDIA_ITEM",
            "recordAction": "UPDATE",
            "recordId": f"endless-{index}",
            "created": "2026-01-01T00:00:00.000Z",
        }
