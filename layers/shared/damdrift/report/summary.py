"""The outcome of one drift check: ``summary.json`` next to the report, and the source of the notification.

The JSON (camelCase, ``schemaVersion`` 1) is read by people, by dashboards and by the next run's
``latest.json`` pointer, so fields are only ever added. It holds counts, never records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator, model_validator
from pydantic.alias_generators import to_camel

from damdrift.dx.models import RecordAction, RecordType


class CheckStatus(StrEnum):
    """What a check found: no mismatch, some mismatch, or no answer (see ``Summary.error``)."""

    IN_SYNC = "IN_SYNC"
    DRIFT = "DRIFT"
    ERRORED = "ERRORED"


def status_for(total: int) -> CheckStatus:
    """The status of a check that completed with ``total`` mismatch records."""
    return CheckStatus.IN_SYNC if total == 0 else CheckStatus.DRIFT


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ErrorInfo(_Camel):
    """Why a check ended ERRORED. ``type`` is the error class name (the Step Functions error name)."""

    type: str
    message: str
    #: What DX said about it, e.g. the findStagingMismatch operation's status, retryCounter, errorInfo.
    diagnosis: dict[str, Any] | None = None


class ReportKeys(_Camel):
    """S3 keys of the stored report objects (absent when that object was not stored)."""

    records: str | None = None
    csv: str | None = None
    summary: str | None = None


class Summary(_Camel):
    """One check of one subscriber. Serialise with ``model_dump(by_alias=True, mode="json")``.

    Invariants, checked so a step cannot store a contradictory summary: ``error`` is set exactly
    when the status is ERRORED, ``total`` equals the sum of ``counts``, IN_SYNC/DRIFT agree with
    ``total``, and only an ERRORED check can be ``partial``.
    """

    schema_version: Literal[1] = 1
    publisher: str
    subscriber_id: str
    target_host: str | None = None
    status: CheckStatus
    counts: dict[str, dict[str, NonNegativeInt]] = Field(default_factory=dict)
    total: NonNegativeInt = 0
    execution: str
    started_at: datetime | None = None
    find_started_at: datetime | None = None
    find_completed_at: datetime | None = None
    finished_at: datetime | None = None
    find_duration_seconds: float | None = Field(None, ge=0)
    poll_count: NonNegativeInt | None = None
    error: ErrorInfo | None = None
    #: The report holds only what was fetched before a step failed.
    partial: bool = False
    files: ReportKeys | None = None
    report_prefix: str | None = None

    @field_validator("started_at", "find_started_at", "find_completed_at", "finished_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # Step Functions and Lambda speak UTC; a naive time is taken to be UTC, others are converted.
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Summary:
        counted = sum(n for actions in self.counts.values() for n in actions.values())
        if counted != self.total:
            raise ValueError(f"total is {self.total} but the counts add up to {counted}")
        if self.status is CheckStatus.ERRORED:
            if self.error is None:
                raise ValueError("an ERRORED summary needs an error")
        else:
            if self.error is not None:
                raise ValueError(f"a {self.status} summary cannot carry an error")
            if self.partial:
                raise ValueError("only an ERRORED summary can be partial")
            if self.status is not status_for(self.total):
                raise ValueError(f"status {self.status} does not match a total of {self.total}")
        return self


_TYPE_ORDER: dict[str, int] = {value.value: index for index, value in enumerate(RecordType)}
_ACTION_ORDER: dict[str, int] = {value.value: index for index, value in enumerate(RecordAction)}


def counts_table(counts: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    """``(recordType, recordAction, n)`` rows in display order.

    Known types in DX's documented order, then unknown ones (newer DX releases) alphabetically;
    actions as CREATE, UPDATE, DELETE, then unknown ones.
    """
    unknown_type, unknown_action = len(_TYPE_ORDER), len(_ACTION_ORDER)
    rows = [(rtype, action, n) for rtype, actions in counts.items() for action, n in actions.items()]
    rows.sort(
        key=lambda row: (
            _TYPE_ORDER.get(row[0], unknown_type),
            row[0],
            _ACTION_ORDER.get(row[1], unknown_action),
            row[1],
        )
    )
    return rows
