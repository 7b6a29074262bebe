"""The outcome of one drift check: ``summary.json`` next to the report, and the source of the notification.

The JSON (camelCase, ``schemaVersion`` 1) is read by people, by dashboards and by the next run's
``latest.json`` pointer, so fields are only ever added. It holds counts, never records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from damdrift.dx.models import RecordAction, RecordType
from damdrift.models.remediation import RemediationRecord


class CheckStatus(StrEnum):
    """What a check found: no mismatch, some mismatch, or no answer (see ``Summary.error``)."""

    IN_SYNC = "IN_SYNC"
    DRIFT = "DRIFT"
    ERRORED = "ERRORED"


def status_for(total: int) -> CheckStatus:
    """The status of a check that completed with ``total`` mismatch records no ignore rule matches."""
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
    #: The sorted record identities the next run's diff reads (record-keys.bin).
    keys: str | None = None
    #: What changed since the previous usable run (diff.json), and the full NEW/RESOLVED records.
    diff: str | None = None
    new: str | None = None
    resolved: str | None = None
    #: The self-contained HTML report.
    html: str | None = None
    #: Each record's drift age (record-age.bin, damdrift.report.analysis.record_age), what the next run
    #: carries on.
    ages: str | None = None


class Changes(_Camel):
    """What changed since the subscriber's previous usable check; per-pair counts and samples: diff.json.

    Records are the same across runs when their identity is (:mod:`damdrift.report.records.identity`). With no
    previous usable check every record is NEW. ``error`` says why no comparison could be made (then the
    counts are 0 and the check counts as changed, so that no policy stays silent by mistake).
    """

    previous_execution: str | None = None
    previous_summary_key: str | None = None
    previous_status: CheckStatus | None = None
    previous_finished_at: datetime | None = None
    new: NonNegativeInt = 0
    resolved: NonNegativeInt = 0
    unchanged: NonNegativeInt = 0
    #: Of those, how many an ignore rule of this check matches.
    new_ignored: NonNegativeInt = 0
    resolved_ignored: NonNegativeInt = 0
    unchanged_ignored: NonNegativeInt = 0
    status_changed: bool = False
    error: str | None = None

    @property
    def first_check(self) -> bool:
        return self.previous_execution is None and self.error is None

    @property
    def effective_new(self) -> int:
        return self.new - self.new_ignored

    @property
    def effective_resolved(self) -> int:
        return self.resolved - self.resolved_ignored

    @property
    def changed(self) -> bool:
        """NEW or RESOLVED records that no rule ignores, a different status, or no comparison at all."""
        return (
            self.error is not None
            or self.first_check
            or self.status_changed
            or self.effective_new > 0
            or self.effective_resolved > 0
        )


class ExpiredRule(_Camel):
    """An ignore rule past its ``expires``: reported so that someone renews or removes it."""

    index: NonNegativeInt
    rule: str
    expires: str
    comment: str | None = None


class IgnoreSummary(_Camel):
    """Which ignore rules this check used (the rules themselves live in the rules file)."""

    rules_key: str | None = None
    #: Rules that applied to this subscriber and had not expired.
    active: NonNegativeInt = 0
    expired: list[ExpiredRule] = Field(default_factory=list)
    #: Records each rule ignored, by the rule's index in the file (as text: a JSON object key).
    hits: dict[str, NonNegativeInt] = Field(default_factory=dict)
    #: The rules file could not be used, so nothing was ignored.
    error: str | None = None


class AgeOf(_Camel):
    """How long something has been drifting: since the first check of the current streak."""

    #: When that first check started, and its execution.
    since: datetime | None = None
    since_execution: str | None = None
    #: Consecutive usable checks (ERRORED ones are skipped, not counted) that found it, this one included.
    checks: NonNegativeInt = 0
    #: False when the streak reaches past the oldest check the history held: it began no later than this.
    exact: bool = True


class DriftAge(AgeOf):
    """The subscriber's drift streak, and each drifting record type's (damdrift.report.analysis.age)."""

    by_type: dict[str, AgeOf] = Field(default_factory=dict)


class Summary(_Camel):
    """One check of one subscriber. Serialise with ``model_dump(by_alias=True, mode="json")``.

    Invariants, checked so a step cannot store a contradictory summary: ``error`` is set exactly
    when the status is ERRORED, ``total`` equals the sum of ``counts`` and ``ignoredTotal`` that of
    ``ignored`` (never more than counted), IN_SYNC/DRIFT agree with ``effectiveTotal`` (the records no
    ignore rule matches), and only an ERRORED check can be ``partial``.
    """

    schema_version: Literal[1] = 1
    publisher: str
    #: The publisher's protocol (``http`` or ``https``): printed commands repeat ``--dx-protocol http``.
    dx_protocol: Literal["https", "http"] | None = None
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
    #: Records an ignore rule matched (recordType -> recordAction -> n): counted, kept, not alarming.
    ignored: dict[str, dict[str, NonNegativeInt]] = Field(default_factory=dict)
    ignored_total: NonNegativeInt = 0
    ignore_rules: IgnoreSummary | None = None
    changes: Changes | None = None
    #: Set on the check that verifies a remediation (``<execution>-verify``): the verdict and what led to it.
    remediation: RemediationRecord | None = None
    #: How long the subscriber, and each record type, has been drifting (absent on ERRORED checks).
    drift_age: DriftAge | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_total(self) -> int:
        """The records no ignore rule matches: what decides between IN_SYNC and DRIFT."""
        return self.total - self.ignored_total

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
        ignored = sum(n for actions in self.ignored.values() for n in actions.values())
        if ignored != self.ignored_total:
            raise ValueError(f"ignoredTotal is {self.ignored_total} but the ignored add up to {ignored}")
        for rtype, actions in self.ignored.items():
            for action, n in actions.items():
                if n > self.counts.get(rtype, {}).get(action, 0):
                    raise ValueError(f"more {rtype} {action} records are ignored than were found")
        if self.status is CheckStatus.ERRORED:
            if self.error is None:
                raise ValueError("an ERRORED summary needs an error")
        else:
            if self.error is not None:
                raise ValueError(f"a {self.status} summary cannot carry an error")
            if self.partial:
                raise ValueError("only an ERRORED summary can be partial")
            if self.status is not status_for(self.effective_total):
                raise ValueError(
                    f"status {self.status} does not match {self.effective_total} records not ignored"
                )
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
