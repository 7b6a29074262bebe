"""Step 3: one look at the subscriber's ``resyncStatus``; the state machine's Wait/Choice loop repeats it.

COMPLETED ends the loop. FAILED, or still running at the deadline, ends this subscriber as ERRORED with
DX's own diagnosis: the ``findStagingMismatch`` operation's status, ``retryCounter`` and ``errorInfo``
(HCL: FAILED with ``retryCounter > 0`` means the find failed on data volume).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from damdrift.check_clients import dx_client
from damdrift.dx.client import DxClient
from damdrift.dx.models import FIND_MISMATCH_TRIGGER_FUNCTION, ResyncStatus
from damdrift.errors import DxError, FindMismatchFailed, FindMismatchTimedOut
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.poll_schedule import next_wait
from damdrift.settings import DxAccessSettings
from damdrift.state import PollPhase, PollState, SubscriberTask


def poll_status(task: SubscriberTask, settings: DxAccessSettings, now: datetime) -> PollState:
    return poll_with(dx_client(task.check, settings), task, now)


def poll_with(client: DxClient, task: SubscriberTask, now: datetime) -> PollState:
    if task.poll is None:
        raise ValueError("poll-status needs the state written by trigger-mismatch at $.poll")
    previous = task.poll
    subscriber_id = task.subscriber.subscriber_id
    status = client.get_subscriber(subscriber_id).resync_status
    count = previous.poll_count + 1
    metrics.add_metric(name="StatusPolls", unit=MetricUnit.Count, value=1)
    elapsed = (now - previous.find_started_at).total_seconds()
    logger.info("find status", extra={"resync_status": status, "poll_count": count})

    if status is ResyncStatus.FIND_MISMATCH_COMPLETED:
        metrics.add_metric(name="PollCount", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="FindDurationSeconds", unit=MetricUnit.Seconds, value=elapsed)
        return previous.model_copy(
            update={
                "phase": PollPhase.COMPLETED,
                "wait_seconds": 0,
                "poll_count": count,
                "last_status": status.value,
            }
        )
    if status is ResyncStatus.FIND_MISMATCH_FAILED:
        diagnosis = _diagnose(client, subscriber_id)
        raise FindMismatchFailed(
            f"find-staging-mismatch failed for subscriber {subscriber_id} after {int(elapsed)} s "
            f"and {count} polls",
            diagnosis,
        )
    if now >= previous.deadline:
        diagnosis = _diagnose(client, subscriber_id)
        raise FindMismatchTimedOut(
            f"find-staging-mismatch for subscriber {subscriber_id} still {status or 'not started'} after "
            f"{int(elapsed)} s (cap {task.check.poll.max_duration_seconds} s, {count} polls)",
            diagnosis,
        )
    return previous.model_copy(
        update={
            "phase": PollPhase.RUNNING,
            "wait_seconds": next_wait(task.check.poll, count, now, previous.deadline),
            "poll_count": count,
            "last_status": status.value if status else None,
        }
    )


def _diagnose(client: DxClient, subscriber_id: str) -> dict[str, Any]:
    """The newest findStagingMismatch operation for this subscriber, as far as DX tells."""
    # ASSUMPTION: find-failed-operation
    try:
        operations = client.list_operations(trigger_functions=FIND_MISMATCH_TRIGGER_FUNCTION)
    except DxError as exc:
        return {"operation": None, "operationsError": type(exc).__name__}
    mine = [op for op in operations if op.inputs.get("subscriberId") in (None, subscriber_id)]
    if not mine:
        return {"operation": None}
    newest = max(mine, key=lambda op: (op.updated or op.created or datetime.min).isoformat())
    return {
        "operation": {
            "id": newest.id,
            "status": newest.status,
            "retryCounter": newest.retry_counter,
            "errorInfo": newest.error_info,
        },
        "failedOnVolume": newest.status == "FAILED" and newest.retry_counter > 0,
    }
