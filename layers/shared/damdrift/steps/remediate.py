"""Remediation steps (opt-in): plan after a DRIFT result, start the resync, watch it until it is done.

The state machine runs them after FetchReport and then re-runs its own find states for the verifying
find, whose report (filed as ``<execution>-verify``) gives VERIFIED_IN_SYNC or STILL_DRIFTING.

- plan: the guard rails (:mod:`damdrift.remediation.guards`) decide REFUSED, AWAITING_APPROVAL (ask)
  or READY (auto), and the drift notice says so. A subscriber DAM that cannot be reached refuses the
  remediation instead of failing the check: the drift report and its notice matter more.
- start: the guard rails again (an approval may come hours later), today's marker claimed, then
  ``start-staging-resync``. A retry of this step joins a resync it already started.
- poll: ``resyncStatus`` until RESYNC_TRIGGER_COMPLETED (HCL: that only means the repair operations
  were *created*), then the subscriber's ``syncStaging*`` operations until none is in progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from damdrift.check_clients import dx_client, subscriber_dam_client
from damdrift.dx.client import DxClient
from damdrift.dx.models import (
    IN_PROGRESS_OPERATION_STATUSES,
    SYNC_OPERATION_PREFIX,
    OperationStatus,
    ResyncStatus,
)
from damdrift.errors import DxError, RemediationRefused, ResyncFailed, ResyncTimedOut
from damdrift.execution_input import RemediateMode
from damdrift.models.remediation import OperationTally, RemediationPhase, RemediationState
from damdrift.models.summary import CheckStatus
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.poll_schedule import next_wait
from damdrift.remediation.guards import refusal
from damdrift.remediation.ledger import RemediationLedger
from damdrift.remediation.notice import with_remediation_note
from damdrift.settings import DxAccessSettings, RemediateSettings, RemediationLimits
from damdrift.state import FetchResult, SubscriberTask

#: Lambda's and DX's clocks may disagree: operations created this long before the resync count as its own.
_CLOCK_SLACK = timedelta(seconds=120)


# -- plan --------------------------------------------------------------------------------------------------


def plan_remediation(
    task: SubscriberTask, settings: RemediateSettings, ledger: RemediationLedger, now: datetime
) -> SubscriberTask:
    return plan_with(task, subscriber_dam_client(task, settings), ledger, now, settings)


def plan_with(
    task: SubscriberTask,
    subscriber_dam: DxClient | None,
    ledger: RemediationLedger,
    now: datetime,
    limits: RemediationLimits,
) -> SubscriberTask:
    """The task with ``remediation`` decided and the drift notice saying what happens next."""
    result = task.result
    drift = result is not None and result.outcome.status is CheckStatus.DRIFT
    if result is None or not drift or task.subscriber.remediate is RemediateMode.NEVER:
        raise ValueError("plan-remediation runs only after a DRIFT result with remediate ask or auto")
    outcome = result.outcome
    try:
        reason = refusal(task, subscriber_dam, ledger, now, limits)
    except DxError as exc:  # the subscriber's DX is down: say so; the drift report is already stored
        reason = (
            f"the subscriber's DAM API could not be asked for its staging operations ({type(exc).__name__})"
        )
        logger.warning("remediation refused: subscriber DAM unreachable", extra={"error": str(exc)})
    mode = task.subscriber.remediate
    if reason is not None:
        phase = RemediationPhase.REFUSED
    elif mode is RemediateMode.ASK:
        phase = RemediationPhase.AWAITING_APPROVAL
    else:
        phase = RemediationPhase.READY
    state = RemediationState(
        mode=mode,
        phase=phase,
        reason=reason,
        initial_summary_key=outcome.summary_key,
        initial_total=outcome.total,
        initial_effective_total=outcome.effective_total or outcome.total,
    )
    metrics.add_metric(name=f"Remediation{phase.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    logger.info("remediation planned", extra={"phase": phase, "reason": reason})
    if phase is not RemediationPhase.AWAITING_APPROVAL:  # ask: the approval request sends the notice
        result = _amend_notice(result, state, planned_text(state))
    if phase is RemediationPhase.READY and result.notification is not None:
        result = result.model_copy(update={"notify": True})  # people must learn a resync is starting
    return task.model_copy(update={"remediation": state, "result": result})


def planned_text(state: RemediationState) -> str:
    if state.phase is RemediationPhase.REFUSED:
        return f"Remediation (remediate: {state.mode}) REFUSED: {state.reason}."
    if state.phase is RemediationPhase.READY:
        return (
            f"Remediation (remediate: {state.mode}): dam-drift is starting a staging resync for this "
            "subscriber now, then runs find-mismatch again; a second notice reports the verdict "
            "(VERIFIED_IN_SYNC or STILL_DRIFTING)."
        )
    return f"Remediation (remediate: {state.mode}): {state.phase}."


def _amend_notice(result: FetchResult, state: RemediationState, text: str) -> FetchResult:
    if result.notification is None:
        return result
    return result.model_copy(
        update={"notification": with_remediation_note(result.notification, state.phase, text)}
    )


# -- start -------------------------------------------------------------------------------------------------


def start_remediation(
    task: SubscriberTask, settings: RemediateSettings, ledger: RemediationLedger, now: datetime
) -> RemediationState:
    return start_with(
        task, dx_client(task.check, settings), subscriber_dam_client(task, settings), ledger, now, settings
    )


def start_with(
    task: SubscriberTask,
    publisher: DxClient,
    subscriber_dam: DxClient | None,
    ledger: RemediationLedger,
    now: datetime,
    limits: RemediationLimits,
) -> RemediationState:
    state = _state(task)
    if state.phase not in {RemediationPhase.READY, RemediationPhase.AWAITING_APPROVAL}:
        raise ValueError(f"start-resync needs a READY remediation, not {state.phase}")
    if task.approval is not None and not task.approval.approved:
        raise ValueError("start-resync runs only after an approval")
    check = task.check
    subscriber_id = task.subscriber.subscriber_id
    sent = ledger.triggered_by(check.publisher_id, subscriber_id, now, check.execution)
    if sent is not None:  # this step, retried after its resync request reached DX: join it
        logger.info("retry: this execution already started the resync; joining it")
        return _running(task, state, sent, now)
    reason = refusal(task, subscriber_dam, ledger, now, limits)
    if reason is not None:
        raise RemediationRefused(f"remediation refused at start: {reason}")
    ledger.claim(check.publisher_id, subscriber_id, now, check.execution, force=check.remediation.force)
    status = publisher.get_subscriber(subscriber_id).resync_status
    if status is ResyncStatus.RESYNC_TRIGGER_START:
        logger.info("a resync is already running for the subscriber: joining it")
    else:
        publisher.start_resync(subscriber_id)
        metrics.add_metric(name="ResyncsStarted", unit=MetricUnit.Count, value=1)
    ledger.mark_triggered(check.publisher_id, subscriber_id, now, check.execution)
    return _running(task, state, now, now)


def _running(
    task: SubscriberTask, state: RemediationState, started: datetime, now: datetime
) -> RemediationState:
    """RESYNC_RUNNING since ``started`` (a retried step keeps the first start and its deadline)."""
    check = task.check
    deadline = started + timedelta(seconds=check.remediation.max_duration_seconds)
    return state.model_copy(
        update={
            "phase": RemediationPhase.RESYNC_RUNNING,
            "approved_by": task.approval.decided_by if task.approval else None,
            "started_at": started,
            "deadline": deadline,
            "wait_seconds": max(1, next_wait(check.poll, 0, now, deadline)),
            "poll_count": 0,
            "resync_status": ResyncStatus.RESYNC_TRIGGER_START.value,
        }
    )


# -- poll --------------------------------------------------------------------------------------------------


def poll_remediation(task: SubscriberTask, settings: DxAccessSettings, now: datetime) -> RemediationState:
    subscriber_dam = subscriber_dam_client(task, settings)
    if subscriber_dam is None:
        raise ValueError("poll-resync needs the subscriber's DAM connection")
    return poll_with(task, dx_client(task.check, settings), subscriber_dam, now)


def poll_with(
    task: SubscriberTask, publisher: DxClient, subscriber_dam: DxClient, now: datetime
) -> RemediationState:
    state = _state(task)
    if state.started_at is None or state.deadline is None:
        raise ValueError("poll-resync needs a started remediation")
    count = state.poll_count + 1
    subscriber_id = task.subscriber.subscriber_id
    if state.phase is RemediationPhase.RESYNC_RUNNING:
        status = publisher.get_subscriber(subscriber_id).resync_status
        logger.info("resync status", extra={"resync_status": status, "poll_count": count})
        if status is ResyncStatus.RESYNC_TRIGGER_FAILED:
            raise ResyncFailed(
                f"start-staging-resync failed for subscriber {subscriber_id} (RESYNC_TRIGGER_FAILED)",
                {"resyncStatus": status.value},
            )
        if status is ResyncStatus.RESYNC_TRIGGER_COMPLETED:
            # HCL: COMPLETED means the operations were created; give them one wait to show up.
            return _waiting(task, state, count, now, RemediationPhase.OPERATIONS_RUNNING, status.value)
        if status is not ResyncStatus.RESYNC_TRIGGER_START:
            raise ResyncFailed(
                f"the resync's status for subscriber {subscriber_id} became {status or 'empty'}: another job "
                "took over the subscriber before the resync reported completion",
                {"resyncStatus": status.value if status else None},
            )
        _check_deadline(task, state, now, f"the resync is still {status.value}")
        return _waiting(task, state, count, now, RemediationPhase.RESYNC_RUNNING, status.value)
    if state.phase is RemediationPhase.OPERATIONS_RUNNING:
        tally = tally_operations(subscriber_dam, state.started_at - _CLOCK_SLACK)
        logger.info("subscriber operations", extra={"operations": tally.to_wire(), "poll_count": count})
        if tally.in_progress == 0:
            metrics.add_metric(name="ResyncsCompleted", unit=MetricUnit.Count, value=1)
            return state.model_copy(
                update={
                    "phase": RemediationPhase.VERIFYING,
                    "wait_seconds": 0,
                    "poll_count": count,
                    "operations": tally,
                    "operations_completed_at": now,
                }
            )
        _check_deadline(task, state, now, f"{tally.in_progress} staging operation(s) still in progress")
        waiting = _waiting(task, state, count, now, RemediationPhase.OPERATIONS_RUNNING, state.resync_status)
        return waiting.model_copy(update={"operations": tally})
    raise ValueError(f"poll-resync cannot continue a remediation in phase {state.phase}")


def tally_operations(subscriber_dam: DxClient, since: datetime) -> OperationTally:
    """The subscriber's ``syncStaging*`` operations: every one in progress, and those of this resync."""
    in_progress = succeeded = failed = 0
    failed_functions: set[str] = set()
    for op in subscriber_dam.list_operations():
        if not op.trigger_function.startswith(SYNC_OPERATION_PREFIX):  # the tally matches the guard
            continue
        if op.status in IN_PROGRESS_OPERATION_STATUSES:
            in_progress += 1  # whoever started it: a verifying find must not race a running sync
        elif op.created is None or op.created >= since:
            if op.status == OperationStatus.SUCCESS:
                succeeded += 1
            elif op.status in {OperationStatus.FAILED, OperationStatus.ABORT}:
                failed += 1
                failed_functions.add(op.trigger_function)
    return OperationTally(
        in_progress=in_progress, succeeded=succeeded, failed=failed, failed_functions=sorted(failed_functions)
    )


def _state(task: SubscriberTask) -> RemediationState:
    if task.remediation is None:
        raise ValueError("this step needs the remediation state at $.remediation")
    return task.remediation


def _check_deadline(task: SubscriberTask, state: RemediationState, now: datetime, what: str) -> None:
    assert state.deadline is not None and state.started_at is not None
    if now >= state.deadline:
        waited = int((now - state.started_at).total_seconds())
        raise ResyncTimedOut(
            f"remediation of subscriber {task.subscriber.subscriber_id}: {what} after {waited} s "
            f"(cap remediation.maxDurationSeconds = {task.check.remediation.max_duration_seconds} s)",
            {"operations": state.operations.to_wire() if state.operations else None},
        )


def _waiting(
    task: SubscriberTask,
    state: RemediationState,
    count: int,
    now: datetime,
    phase: RemediationPhase,
    status: str | None,
) -> RemediationState:
    assert state.deadline is not None
    return state.model_copy(
        update={
            "phase": phase,
            "poll_count": count,
            "resync_status": status,
            "wait_seconds": max(1, next_wait(task.check.poll, count, now, state.deadline)),
        }
    )
