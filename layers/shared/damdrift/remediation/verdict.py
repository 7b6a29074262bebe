"""The verdict of a remediation, read off the verifying find (or the error that ended it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from damdrift.models.remediation import RemediationRecord, RemediationVerdict

if TYPE_CHECKING:
    from damdrift.models.summary import Summary
    from damdrift.state import SubscriberTask


def remediation_record(task: SubscriberTask, summary: Summary) -> RemediationRecord | None:
    """None unless this check follows a remediation's start (see ``SubscriberTask.report_run``); then
    VERIFIED_IN_SYNC when the verifying find found nothing that no ignore rule covers, STILL_DRIFTING
    otherwise, no verdict if a step failed (the resync may never have started)."""
    state = task.remediation
    if state is None:
        return None
    error, remaining = summary.error, summary.effective_total
    verdict = None
    if error is None:
        verdict = RemediationVerdict.VERIFIED_IN_SYNC if remaining == 0 else RemediationVerdict.STILL_DRIFTING
    return RemediationRecord(
        mode=state.mode,
        verdict=verdict,
        initial_summary_key=state.initial_summary_key,
        initial_total=state.initial_total,
        initial_effective_total=state.initial_effective_total,
        remaining_total=remaining if error is None else None,
        approved_by=state.approved_by,
        resync_started_at=state.started_at,
        operations=state.operations,
        error=f"{error.type}: {error.message}" if error is not None else None,
    )
