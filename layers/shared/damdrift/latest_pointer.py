"""``reports/<publisher>/<subscriber>/latest.json``: the subscriber's newest check, and its last good one.

The next run reads it (:func:`damdrift.report_history.get_latest`) and ``damdrift report`` over pulled
reports opens this one small object instead of listing the subscriber's history; a check moves it last
(:mod:`damdrift.report.filing`). ``lastGood`` is what the next run compares itself with: the newest check
that is not ERRORED, so one failed run does not make the next one report every record as new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, ConfigDict, NonNegativeInt, ValidationError, model_validator

from damdrift.errors import ReportStorageError
from damdrift.model_base import WireModel
from damdrift.models.summary import CheckStatus, Summary
from damdrift.report_layout import LATEST_FILENAME, subscriber_prefix

if TYPE_CHECKING:
    from damdrift.store import ReportStore

#: Conditional writes tried before giving up while other executions keep replacing the pointer.
_ATTEMPTS = 5
_USABLE = {CheckStatus.IN_SYNC.value, CheckStatus.DRIFT.value}


class LastGood(WireModel):
    """A check as ``latest.json`` names it: its summary's key and the few fields read without opening it.

    A field a pointer was written without stays absent when the pointer is carried over (dumped with
    ``exclude_unset``): the first pointers had no ``startedAt``. Unlike an execution input, a stored
    pointer may have been written by a later version (a stack rolled back): a field this version does
    not know is ignored, as :class:`~damdrift.models.summary.Summary` ignores one, not refused.
    """

    model_config = ConfigDict(extra="ignore")

    summary_key: str
    status: CheckStatus
    total: NonNegativeInt
    execution: str
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None

    @classmethod
    def of(cls, summary_key: str, summary: Summary) -> LastGood:
        return cls(
            summary_key=summary_key,
            status=summary.status,
            total=summary.total,
            execution=summary.execution,
            started_at=summary.started_at,
            finished_at=summary.finished_at,
        )

    def started_after(self, other: LastGood) -> bool:
        """Whether this check started after ``other`` (a pointer without ``startedAt`` counts as older).

        A verifying check (``<execution>-verify``) shares its execution's start and finishes later, so it
        moves the pointer.
        """
        if self.started_at is None or other.started_at is None:
            return False
        if self.started_at != other.started_at:
            return self.started_at > other.started_at
        return (
            self.finished_at is not None
            and other.finished_at is not None
            and self.finished_at > other.finished_at
        )


class LatestPointer(LastGood):
    """``latest.json``: the newest check, and ``lastGood``, the newest usable one (null before any)."""

    last_good: LastGood | None = None

    @model_validator(mode="before")
    @classmethod
    def _without_last_good(cls, data: Any) -> Any:
        # The first pointers had no lastGood: the check itself was the last good one if it was usable.
        if isinstance(data, dict) and "lastGood" not in data and "last_good" not in data:
            return {**data, "lastGood": data if data.get("status") in _USABLE else None}
        return data

    def document(self) -> dict[str, Any]:
        """The JSON object stored: nulls kept (a check without a time says so), unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def put_latest(
    store: ReportStore,
    publisher: str,
    subscriber_id: str,
    summary_key: str,
    summary: Summary,
    *,
    last_good: LastGood | None = None,
) -> str:
    """Point ``reports/<publisher>/<subscriber>/latest.json`` at ``summary_key``; returns its key.

    ``lastGood`` points at the newest *usable* check (not ERRORED: a complete report), the one the
    next run compares itself with: this check if it is usable, else ``last_good`` carried over.

    The pointer only moves forward: two executions finishing out of order must not leave it on the
    older one. It is replaced with a conditional write (``If-Match`` the version read, or
    ``If-None-Match`` when there is none) unless it already holds a check that started later.
    """
    key = subscriber_prefix(publisher, subscriber_id) + LATEST_FILENAME
    check = LastGood.of(summary_key, summary)
    good = check if summary.status is not CheckStatus.ERRORED else last_good
    pointer = LatestPointer(**dict(check), last_good=good)
    check_prefix = summary_key.rpartition("/")[0] + "/"
    for _ in range(_ATTEMPTS):
        current, etag = store.get_document_version(key)
        if current is not None and _started_later(current, check):
            return key  # a check that started after this one is already recorded
        if store.put_document(
            key, pointer.document(), check_prefix=check_prefix, replacing=etag, only_new=not etag
        ):
            return key
    raise ReportStorageError(f"s3://{store.bucket}/{key} kept changing while being updated; not moved")


def _started_later(current: dict[str, Any], check: LastGood) -> bool:
    """Whether ``current`` (latest.json as stored) records a check that started after ``check``; one that
    is not a pointer (unreadable, or another writer's) does not, so it is replaced."""
    try:
        recorded = LatestPointer.model_validate(current)
    except ValidationError:
        return False
    return recorded.started_after(check)
