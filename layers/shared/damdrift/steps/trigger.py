"""Step 2: start find-staging-mismatch for one subscriber — exactly once.

Pre-flight, in this order:
1. the subscriber must be registered (else ``SubscriberNotFound``);
2. a find already running is *joined*, not restarted — this also makes the step idempotent when Step
   Functions retries it after a Lambda timeout;
3. staging operations in progress (HCL's precondition) mean "busy": wait or report, per the input;
4. otherwise clear the subscriber's old mismatch rows (DX appends; the report must be this run's
   only) and trigger. A 409 on the trigger means someone started one in between: join it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from damdrift.check_clients import dx_client, subscriber_dam_client
from damdrift.dx.client import DxClient
from damdrift.dx.models import IN_PROGRESS_OPERATION_STATUSES, STAGING_OPERATION_PREFIX, ResyncStatus
from damdrift.errors import Conflict, PublisherBusy, SubscriberNotFound
from damdrift.execution_input import BusyPolicy
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.poll_schedule import next_wait
from damdrift.settings import DxAccessSettings
from damdrift.state import PollPhase, PollState, SubscriberTask


def trigger_mismatch(task: SubscriberTask, settings: DxAccessSettings, now: datetime) -> PollState:
    return trigger_with(dx_client(task.check, settings), task, now, subscriber_dam_client(task, settings))


def trigger_with(
    client: DxClient, task: SubscriberTask, now: datetime, subscriber_dam: DxClient | None = None
) -> PollState:
    """``subscriber_dam``: the subscriber's own DX when the input names it (subscriberOptions.<id>.dam),
    where a resync's operations run; they count as "busy" too."""
    subscriber_id = task.subscriber.subscriber_id
    if not task.subscriber.registered:
        raise SubscriberNotFound(
            f"subscriber {subscriber_id!r} is not registered on {task.check.publisher_id}"
        )
    policy = task.check.poll
    subscriber = client.get_subscriber(subscriber_id)

    if subscriber.resync_status is ResyncStatus.FIND_MISMATCH_START:
        logger.info("a find is already running for this subscriber; joining it")
        return _running(task, now, joined=True, status=subscriber.resync_status)

    busy_reason = _busy_reason(client, subscriber_id, subscriber.resync_status) or (
        _busy_reason(subscriber_dam, subscriber_id, None, where="on the subscriber")
        if subscriber_dam is not None
        else None
    )
    if busy_reason:
        return _busy(task, now, busy_reason)

    # ASSUMPTION: find-appends-rows
    client.delete_mismatches(subscriber_id)
    try:
        client.start_find_mismatch(subscriber_id)
    except Conflict:  # ASSUMPTION: second-trigger-409
        logger.info("DX answered 409 to the trigger: a find started meanwhile; joining it")
        return _running(task, now, joined=True, status=None)
    logger.info("find-staging-mismatch started", extra={"max_duration_seconds": policy.max_duration_seconds})
    return _running(task, now, joined=False, status=ResyncStatus.FIND_MISMATCH_START)


def _running(task: SubscriberTask, now: datetime, joined: bool, status: ResyncStatus | None) -> PollState:
    policy = task.check.poll
    deadline = now + timedelta(seconds=policy.max_duration_seconds)
    metrics.add_metric(name="FindsJoined" if joined else "FindsStarted", unit=MetricUnit.Count, value=1)
    return PollState(
        phase=PollPhase.RUNNING,
        wait_seconds=next_wait(policy, 0, now, deadline),
        poll_count=0,
        joined=joined,
        find_started_at=now,
        deadline=deadline,
        last_status=status.value if status else None,
    )


def _busy_reason(
    client: DxClient, subscriber_id: str, status: ResyncStatus | None, *, where: str = "on the publisher"
) -> str | None:
    if status is ResyncStatus.RESYNC_TRIGGER_START:
        return "a staging resync is being triggered for this subscriber"
    operations = client.list_operations(status=sorted(IN_PROGRESS_OPERATION_STATUSES))
    pending = [
        op
        for op in operations
        if op.trigger_function.startswith(STAGING_OPERATION_PREFIX)
        and op.status in IN_PROGRESS_OPERATION_STATUSES
        # ASSUMPTION: resync-creates-sync-operations (their inputs name the subscriber); on the subscriber's
        # own DX every staging operation is its own
        and (where != "on the publisher" or op.inputs.get("subscriberId") in (None, subscriber_id))
    ]
    if not pending:
        return None
    kinds = sorted({op.trigger_function for op in pending})
    return f"{len(pending)} staging operation(s) in progress {where} ({', '.join(kinds[:5])})"


def _busy(task: SubscriberTask, now: datetime, reason: str) -> PollState:
    check = task.check
    if check.busy_policy is BusyPolicy.REPORT:
        metrics.add_metric(name="PublisherBusyWaits", unit=MetricUnit.Count, value=1)
        raise PublisherBusy(f"publisher busy: {reason}; busyPolicy is 'report'", {"reason": reason})
    previous = task.poll if task.poll and task.poll.phase is PollPhase.PUBLISHER_BUSY else None
    first_seen = previous.find_started_at if previous else now
    deadline = previous.deadline if previous else now + timedelta(seconds=check.poll.max_duration_seconds)
    if now >= deadline:
        raise PublisherBusy(
            f"publisher still busy after {int((now - first_seen).total_seconds())} s: {reason}",
            {"reason": reason, "waitedSeconds": int((now - first_seen).total_seconds())},
        )
    count = previous.poll_count + 1 if previous else 1
    logger.info("publisher busy; waiting before triggering", extra={"reason": reason})
    metrics.add_metric(name="PublisherBusyWaits", unit=MetricUnit.Count, value=1)
    return PollState(
        phase=PollPhase.PUBLISHER_BUSY,
        wait_seconds=max(1, next_wait(check.poll, count, now, deadline)),
        poll_count=count,
        find_started_at=first_seen,
        deadline=deadline,
        last_status=reason,
    )
