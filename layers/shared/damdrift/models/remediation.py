"""What a remediation carries between states (``$.remediation``) and what its verdict records.

A remediation is a short life: planned after a DRIFT result (guard rails checked), maybe approved by a
person, the resync started on the publisher, its ``syncStaging*`` operations watched on the
subscriber, then a second find whose report gives the verdict.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from damdrift.execution_input import RemediateMode
from damdrift.model_base import WireModel


class RemediationPhase(StrEnum):
    REFUSED = "REFUSED"  # a guard rail said no; the reason says which
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # ask: the drift notice carries approve/deny links
    READY = "READY"  # auto (or approved): start the resync after the drift notice
    DECLINED = "DECLINED"  # ask: denied, or nobody answered in time
    RESYNC_RUNNING = "RESYNC_RUNNING"  # resyncStatus RESYNC_TRIGGER_START on the publisher
    OPERATIONS_RUNNING = "OPERATIONS_RUNNING"  # RESYNC_TRIGGER_COMPLETED: syncStaging* run on the subscriber
    VERIFYING = "VERIFYING"  # none left: a second find tells what the resync repaired


class RemediationVerdict(StrEnum):
    VERIFIED_IN_SYNC = "VERIFIED_IN_SYNC"
    STILL_DRIFTING = "STILL_DRIFTING"


class OperationTally(WireModel):
    """The subscriber's ``syncStaging*`` operations as last seen (``failedFunctions``: what failed)."""

    in_progress: int = 0
    succeeded: int = 0
    failed: int = 0
    failed_functions: list[str] = Field(default_factory=list)


class RemediationState(WireModel):
    mode: RemediateMode
    phase: RemediationPhase
    reason: str | None = None
    #: The check that found the drift (its report stays where it is; the verifying find gets its own).
    initial_summary_key: str | None = None
    initial_total: int = 0
    initial_effective_total: int = 0
    approved_by: str | None = None
    started_at: datetime | None = None
    deadline: datetime | None = None
    wait_seconds: int = Field(0, ge=0)
    poll_count: int = 0
    resync_status: str | None = None
    operations: OperationTally | None = None
    operations_completed_at: datetime | None = None


class ApprovalAnswer(WireModel):
    """What ``SendTaskSuccess`` hands back to the waiting state (``$.approval``)."""

    approved: bool
    decided_by: str = Field(min_length=1, max_length=200)
    decided_at: datetime


class RemediationRecord(WireModel):
    """The remediation part of the verifying check's ``summary.json``."""

    mode: RemediateMode
    verdict: RemediationVerdict | None = None
    initial_summary_key: str | None = None
    initial_total: int = 0
    initial_effective_total: int = 0
    remaining_total: int | None = None
    approved_by: str | None = None
    resync_started_at: datetime | None = None
    operations: OperationTally | None = None
    error: str | None = None
