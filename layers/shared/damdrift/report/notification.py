"""The SNS message a finished check sends: a subject that says it all, a short plain-text body.

SNS rules (Publish API): the subject is ASCII text of fewer than 100 characters with no line breaks
or control characters; the message is at most 256 KB of UTF-8. The body only ever holds counts, a
capped table and capped error text, so it stays a few KB however large the report is.

Every value that came from DX or from the execution input is untrusted text: line breaks become spaces
(except inside the error message's indented block), other control characters and bidi overrides are
removed, so no value can break the layout; and every field is length-capped.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from damdrift.report.summary import CheckStatus, Summary, counts_table

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
MESSAGE_MAX_BYTES = 64 * 1024  # a safety net far below SNS's 256 KB; the layout stays well under it
TABLE_MAX_ROWS = 60  # 12 record types x 3 actions fit, with room for types DX adds
_FIELD_MAX = 300
_ERROR_MESSAGE_MAX = 2000
_DIAGNOSIS_MAX_ITEMS = 20
_DIAGNOSIS_VALUE_MAX = 1000

_SUBJECT_TAGS = {
    CheckStatus.IN_SYNC: "[IN SYNC]",
    CheckStatus.DRIFT: "[DRIFT]",
    CheckStatus.ERRORED: "[ERRORED]",
}
# In every DX value, line breaks and tabs become one space (newlines survive only in the indented error
# block); other C0/C1 controls, DEL, bidi controls (text that reads differently than it is) and lone
# surrogates (not even sendable as UTF-8) are removed.
_BREAKS = re.compile(r"[\t\n\r\x0b\x0c]+")
_BREAKS_BUT_NEWLINE = re.compile(r"[\t\r\x0b\x0c]+")
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")

VOLUME_HINT = (
    "HCL: a find that fails, or runs for more than 30 minutes, usually means too much data. Look at DX's "
    "findStagingMismatch operations: status FAILED with retryCounter > 0 means it failed on volume. "
    "HCL's remedy is to deregister and register the subscriber again (which restages everything); "
    "from CF218 HCL recommends maxRecordsToCompare = 1000."
)
FAILED_ON_VOLUME_HINT = (
    "DX's findStagingMismatch operation is FAILED with retryCounter > 0: by HCL's documentation it "
    "failed on volume (too much data). HCL's remedy is to deregister and register the subscriber again "
    "(which restages everything); from CF218 HCL recommends maxRecordsToCompare = 1000."
)
_FIND_ERRORS = frozenset({"FindMismatchFailed", "FindMismatchTimedOut"})


class Notification(BaseModel):
    """What to publish: ``sns.publish(TopicArn=..., Subject=n.subject, Message=n.message,
    MessageAttributes=n.sns_message_attributes())``."""

    subject: str
    message: str
    #: Plain strings so that e-mail/SQS subscriptions can filter on them (status, subscriberId, publisher).
    attributes: dict[str, str]

    def sns_message_attributes(self) -> dict[str, dict[str, str]]:
        """``attributes`` in the shape SNS's Publish takes."""
        return {name: {"DataType": "String", "StringValue": value} for name, value in self.attributes.items()}


def build_notification(summary: Summary, report_location: str) -> Notification:
    """The notification for ``summary``; ``report_location`` says where the report is (s3://... or URL)."""
    return Notification(
        subject=_subject(summary),
        message=_message(summary, report_location),
        attributes={
            "status": str(summary.status),
            "subscriberId": _inline(summary.subscriber_id, 256) or "-",
            "publisher": _inline(summary.publisher, 256) or "-",
        },
    )


def _subject(summary: Summary) -> str:
    tag = _SUBJECT_TAGS[summary.status]
    if summary.status is CheckStatus.ERRORED:
        tail = ": " + _ascii(summary.error.type if summary.error else "error", 40)
    elif summary.total == 0:
        tail = ": no mismatches"
    else:
        tail = f": {summary.total} mismatch" + ("" if summary.total == 1 else "es")
    publisher = _ascii(summary.publisher, SUBJECT_MAX) or "?"
    subscriber = _ascii(summary.target_host or summary.subscriber_id, SUBJECT_MAX) or "?"
    # Shorten the names, never the tag or the tail: the longer name gives way first.
    room = SUBJECT_MAX - len(tag) - len(" -> ") - len(tail) - 1
    if len(publisher) + len(subscriber) > room:
        half = room // 2
        if len(publisher) <= half:
            subscriber = _shorten(subscriber, room - len(publisher))
        elif len(subscriber) <= half:
            publisher = _shorten(publisher, room - len(subscriber))
        else:
            publisher, subscriber = _shorten(publisher, half), _shorten(subscriber, room - half)
    return f"{tag} {publisher} -> {subscriber}{tail}"[:SUBJECT_MAX]


def _message(summary: Summary, report_location: str) -> str:
    lines = [
        f"dam-drift check: {summary.status}" + (" (partial report)" if summary.partial else ""),
        "",
        _field("Publisher", summary.publisher),
        _field("Subscriber", summary.subscriber_id),
    ]
    if summary.target_host:
        lines.append(_field("Target host", summary.target_host))
    lines.append(_field("Status", str(summary.status)))
    lines.append(_field("Mismatches", _mismatches(summary)))
    if summary.counts:
        lines += ["", *_table(summary.counts)]
    lines += [
        "",
        _field("Started", _time(summary.started_at)),
        _field("Find started", _time(summary.find_started_at)),
        _field("Find completed", _time(summary.find_completed_at)),
        _field(
            "Find took",
            f"{summary.find_duration_seconds:.1f} s" if summary.find_duration_seconds is not None else "-",
        ),
        _field("Status polls", str(summary.poll_count) if summary.poll_count is not None else "-"),
        _field("Finished", _time(summary.finished_at)),
        _field("Execution", summary.execution),
        _field("Report", report_location or "-"),
    ]
    if summary.error is not None:
        lines += ["", *_error_lines(summary)]
    text = "\n".join(lines) + "\n"
    encoded = text.encode("utf-8")
    if len(encoded) > MESSAGE_MAX_BYTES:  # unreachable with the caps above; kept as a guarantee
        text = encoded[: MESSAGE_MAX_BYTES - 20].decode("utf-8", "ignore") + "\n[truncated]\n"
    return text


def _mismatches(summary: Summary) -> str:
    if summary.partial:
        return f"{summary.total} so far (partial report)"
    if summary.status is CheckStatus.ERRORED and summary.total == 0:
        return "unknown (the check did not finish)"  # not "0": that would read as in sync
    return str(summary.total)


def _table(counts: dict[str, dict[str, int]]) -> list[str]:
    rows = [(_inline(rtype, 40), _inline(action, 20), n) for rtype, action, n in counts_table(counts)]
    shown = rows[:TABLE_MAX_ROWS]
    type_width = max(len("Record type"), *(len(row[0]) for row in shown))
    action_width = max(len("Action"), *(len(row[1]) for row in shown))
    count_width = max(len("Count"), *(len(str(row[2])) for row in shown))
    out = [f"{'Record type':<{type_width}}  {'Action':<{action_width}}  {'Count':>{count_width}}"]
    out.append(f"{'-' * type_width}  {'-' * action_width}  {'-' * count_width}")
    out += [f"{t:<{type_width}}  {a:<{action_width}}  {n:>{count_width}}" for t, a, n in shown]
    if len(rows) > len(shown):
        out.append(f"... and {len(rows) - len(shown)} more rows (see summary.json)")
    return out


def _error_lines(summary: Summary) -> list[str]:
    error = summary.error
    assert error is not None
    lines = [_field("Error", error.type), "Message:", *_indented(error.message, _ERROR_MESSAGE_MAX)]
    if error.diagnosis:
        lines.append("Diagnosis:")
        items = list(_flatten(error.diagnosis))
        for key, value in items[:_DIAGNOSIS_MAX_ITEMS]:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            lines.append(f"  {_inline(key, 80)}: {_inline(text, _DIAGNOSIS_VALUE_MAX)}")
        if len(items) > _DIAGNOSIS_MAX_ITEMS:
            lines.append(f"  ... and {len(items) - _DIAGNOSIS_MAX_ITEMS} more (see summary.json)")
    if _failed_on_volume(error.diagnosis):
        lines += ["", "Hint:", *_wrapped(FAILED_ON_VOLUME_HINT)]
    elif error.type in _FIND_ERRORS:
        lines += ["", "Hint:", *_wrapped(VOLUME_HINT)]
    return lines


def _flatten(diagnosis: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``key: value`` pairs, one level of nesting spelled ``operation.retryCounter``."""
    for key, value in diagnosis.items():
        if isinstance(value, Mapping) and value:
            for inner, inner_value in value.items():
                yield f"{key}.{inner}", inner_value
        else:
            yield str(key), value


def _failed_on_volume(diagnosis: Mapping[str, Any] | None) -> bool:
    """Whether the diagnosis shows a FAILED operation with ``retryCounter > 0`` (top level or one down)."""
    if not diagnosis:
        return False
    if diagnosis.get("failedOnVolume") is True:
        return True
    candidates = [diagnosis, *(value for value in diagnosis.values() if isinstance(value, Mapping))]
    for candidate in candidates:
        retries = candidate.get("retryCounter")
        if (
            str(candidate.get("status", "")).upper() == "FAILED"
            and isinstance(retries, int | float)
            and retries > 0
        ):
            return True
    return False


def _field(label: str, value: str) -> str:
    return f"{label + ':':<16}{_inline(value, _FIELD_MAX) or '-'}"


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "-"


def _inline(value: str, limit: int) -> str:
    """One line of safe text, capped."""
    return _shorten(_BREAKS.sub(" ", _INVISIBLE.sub("", value)).strip(), limit)


def _indented(value: str, limit: int) -> list[str]:
    """Safe text that keeps its newlines, each line indented so that it stays inside its block; capped."""
    text = _BREAKS_BUT_NEWLINE.sub(" ", _INVISIBLE.sub("", value.replace("\r\n", "\n")))
    return ["  " + line.strip() for line in _shorten(text.strip(), limit).split("\n")]


def _wrapped(value: str) -> list[str]:
    return textwrap.wrap(value, width=76, initial_indent="  ", subsequent_indent="  ")


def _ascii(value: str, limit: int) -> str:
    """Printable ASCII only (SNS subjects): anything else becomes ``?``; capped."""
    return _shorten(_NOT_PRINTABLE_ASCII.sub("?", _inline(value, len(value))), limit)


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    if limit <= 3:
        return value[:limit]
    return value[: limit - 3] + "..."
