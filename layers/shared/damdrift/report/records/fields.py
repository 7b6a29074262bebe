"""Reading the fields dam-drift needs out of a raw mismatch record, whichever spelling DX uses.

DX does not publish the record's JSON shape (ASSUMPTION: mismatch-record-shape): we expect
``{"id","subscriberId","recordType","recordAction","recordId","created","updated"}``, but the table
behind it has the columns ``type``/``action``, so both spellings are accepted (the same aliases as
:class:`damdrift.dx.models.MismatchRecord`). A report can hold a million records, so these are plain
dict look-ups, not a pydantic model per record. Values are returned as DX sent them: record types
DX adds in a later release are counted, not rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from damdrift.errors import UnexpectedResponse

#: Longest recordType or recordAction accepted (DX's longest, COLLECTION_MEDIA_RELATION, has 25): each
#: distinct value is kept in memory for the counts, so a DX sending 100 KB names would fill it.
MAX_NAME_CHARS = 100
#: Most distinct (recordType, recordAction) pairs in one report (DX documents 12 x 3 = 36): every pair
#: is a counter, a row of the summary and a metric. More means DX is not sending mismatch records.
MAX_PAIRS = 200

#: Columns of ``report.csv``, in order. ASSUMPTION: csv-columns (dxclient's real header is unknown).
CSV_COLUMNS: tuple[str, ...] = ("subscriberId", "recordType", "recordAction", "recordId", "created")

#: Keys accepted for each column, preferred spelling first.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "subscriberId": ("subscriberId", "subscriber_id"),
    "recordType": ("recordType", "type"),
    "recordAction": ("recordAction", "action"),
    "recordId": ("recordId", "record_id"),
    "created": ("created",),
}


def field_value(raw: Mapping[str, Any], column: str) -> Any:
    """The value of ``column`` under its first spelling present with a non-null value, else ``None``."""
    for key in FIELD_ALIASES[column]:
        value = raw.get(key)
        if value is not None:
            return value
    return None


def record_type(raw: Mapping[str, Any]) -> str:
    """The record type (``COLLECTION``, ``MEDIA_ITEM``, ...), from ``recordType`` or ``type``."""
    try:
        value = raw.get("recordType")
        if value is None:
            value = raw.get("type")
    except AttributeError:
        raise _not_an_object(raw) from None
    if isinstance(value, str) and value:
        return value
    raise _bad_field(raw, "recordType", "type", value)


def record_action(raw: Mapping[str, Any]) -> str:
    """The record action (``CREATE``, ``UPDATE``, ``DELETE``), from ``recordAction`` or ``action``."""
    try:
        value = raw.get("recordAction")
        if value is None:
            value = raw.get("action")
    except AttributeError:
        raise _not_an_object(raw) from None
    if isinstance(value, str) and value:
        return value
    raise _bad_field(raw, "recordAction", "action", value)


def check_new_pair(pair: tuple[str, str], seen: set[tuple[str, str]]) -> None:
    """Admits a (type, action) pair not seen before in this report into ``seen``, or raises
    UnexpectedResponse if a name is too long or the report would have too many distinct pairs. Called
    once per distinct pair, not per record (the writer's counts say which pairs it has seen)."""
    for name, value in zip(("recordType", "recordAction"), pair, strict=True):
        if len(value) > MAX_NAME_CHARS:
            raise UnexpectedResponse(
                f"mismatch record has a {name} of {len(value)} characters, more than {MAX_NAME_CHARS}: "
                "not a DX record type or action; the records before it are kept"
            )
    if pair not in seen:
        if len(seen) >= MAX_PAIRS:
            raise UnexpectedResponse(
                f"the mismatch report has more than {MAX_PAIRS} distinct (recordType, recordAction) pairs "
                "(DX documents 36): not DX's mismatch records; the records before it are kept"
            )
        seen.add(pair)


def _not_an_object(raw: object) -> UnexpectedResponse:
    return UnexpectedResponse(f"mismatch record is a JSON {type(raw).__name__}, expected an object")


def _bad_field(raw: Mapping[str, Any], name: str, alias: str, value: object) -> UnexpectedResponse:
    # Keys, never values: a record may carry anything, and the message ends up in logs and e-mails.
    keys = ", ".join(sorted(str(key) for key in raw)[:20]) or "none"
    if value is None:
        problem = f"has no {name!r} (or {alias!r})"
    elif isinstance(value, str):
        problem = f"has an empty {name!r}"
    else:
        problem = f"has a {type(value).__name__} as {name!r}, expected a string"
    return UnexpectedResponse(f"mismatch record {problem}; its keys are: {keys}")
