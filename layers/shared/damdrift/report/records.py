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
