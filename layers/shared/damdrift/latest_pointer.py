"""``reports/<publisher>/<subscriber>/latest.json``: the subscriber's newest check, and its last good one.

The next run reads it (:func:`damdrift.report_history.get_latest`) and ``damdrift report`` over pulled
reports opens this one small object instead of listing the subscriber's history; a check moves it last
(:mod:`damdrift.report.filing`). ``lastGood`` is what the next run compares itself with: the newest check
that is not ERRORED, so one failed run does not make the next one report every record as new.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from damdrift.errors import ReportStorageError
from damdrift.models.summary import CheckStatus, Summary
from damdrift.report_layout import LATEST_FILENAME, subscriber_prefix

if TYPE_CHECKING:
    from damdrift.store import ReportStore

#: Conditional writes tried before giving up while other executions keep replacing the pointer.
_ATTEMPTS = 5


def put_latest(
    store: ReportStore,
    publisher: str,
    subscriber_id: str,
    summary_key: str,
    summary: Summary,
    *,
    last_good: dict[str, Any] | None = None,
) -> str:
    """Point ``reports/<publisher>/<subscriber>/latest.json`` at ``summary_key``; returns its key.

    ``lastGood`` points at the newest *usable* check (not ERRORED: a complete report), the one the
    next run compares itself with: this check if it is usable, else ``last_good`` carried over.

    The pointer only moves forward: two executions finishing out of order must not leave it on the
    older one. It is replaced with a conditional write (``If-Match`` the version read, or
    ``If-None-Match`` when there is none) unless it already holds a check that started later.
    """
    key = subscriber_prefix(publisher, subscriber_id) + LATEST_FILENAME
    pointer = {
        "summaryKey": summary_key,
        **summary.model_dump(
            by_alias=True,
            mode="json",
            include={"status", "total", "execution", "started_at", "finished_at"},
        ),
    }
    good = dict(pointer) if summary.status is not CheckStatus.ERRORED else last_good
    check_prefix = summary_key.rpartition("/")[0] + "/"
    for _ in range(_ATTEMPTS):
        current, etag = store.get_document_version(key)
        if current is not None and _started_later(current, pointer):
            return key  # a check that started after this one is already recorded
        document = {**pointer, "lastGood": good}
        if store.put_document(key, document, check_prefix=check_prefix, replacing=etag, only_new=not etag):
            return key
    raise ReportStorageError(f"s3://{store.bucket}/{key} kept changing while being updated; not moved")


def _started_later(current: dict[str, Any], pointer: dict[str, Any]) -> bool:
    """Whether ``current`` (latest.json) records a check that started after ``pointer``'s.

    A verifying check (``<execution>-verify``) shares its execution's start and finishes later, so it
    moves the pointer; a pointer written before ``startedAt`` existed counts as older.
    """

    def moment(document: dict[str, Any], field: str) -> datetime | None:
        value = document.get(field)
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
        except ValueError:
            return None

    current_start, ours = moment(current, "startedAt"), moment(pointer, "startedAt")
    if current_start is None or ours is None:
        return False
    if current_start != ours:
        return current_start > ours
    current_end, our_end = moment(current, "finishedAt"), moment(pointer, "finishedAt")
    return current_end is not None and our_end is not None and current_end > our_end
