"""The guard rails HCL's documentation implies before a staging resync (MISMATCH-DOC limitations).

- Never more than the stack allows (``MaxRemediation``), whatever the task says.
- Resync is not supported for two-way staging: it can lose collections or assets on both sides. Which
  subscribers also publish back is the stack's list (``TwoWaySubscribers``; DX does not say), which an
  input can add to (``twoWayStaging``) but not take from.
- Before a resync there must be no FAILED ``sync*`` operations on the subscriber.
- dam-drift's own limit: at most one remediation per subscriber per day unless forced (a resync that
  does not repair the drift will not repair it on the next scheduled check either).
"""

from __future__ import annotations

from datetime import datetime

from damdrift.dx.client import DxClient
from damdrift.dx.models import SYNC_OPERATION_PREFIX, OperationStatus
from damdrift.remediation.ledger import RemediationLedger, already_today
from damdrift.settings.remediation import RemediationLimits
from damdrift.state import SubscriberTask


def refusal(
    task: SubscriberTask,
    subscriber_dam: DxClient | None,
    ledger: RemediationLedger,
    now: datetime,
    limits: RemediationLimits,
) -> str | None:
    """Why a resync must not start now, or None. Cheapest checks first; DX is asked last."""
    subscriber = task.subscriber
    above = limits.above_ceiling(subscriber.remediate, "remediate")
    if above is not None:
        return above
    if subscriber.two_way_staging or limits.is_two_way(subscriber.subscriber_id, subscriber.target_host):
        return (
            "the subscriber is two-way staging (stack parameter TwoWaySubscribers, or twoWayStaging in the "
            "input: it also publishes to this publisher); HCL does not support a resync there: it can lose "
            "collections or assets on both sides"
        )
    if subscriber_dam is None:
        return (
            "no connection to the subscriber's own DAM API "
            f"(subscriberOptions.{subscriber.subscriber_id}.dam): its staging operations cannot be "
            "checked before, or watched during, a resync"
        )
    if not task.check.remediation.force:
        marker = ledger.today(task.check.publisher_id, subscriber.subscriber_id, now)
        if marker is not None and marker.get("execution") != task.check.execution:
            return already_today(marker)
    failed = [
        op
        for op in subscriber_dam.list_operations(status=OperationStatus.FAILED.value)
        if op.trigger_function.startswith(SYNC_OPERATION_PREFIX) and op.status == OperationStatus.FAILED
    ]
    if failed:
        kinds = ", ".join(sorted({op.trigger_function for op in failed})[:5])
        return (
            f"{len(failed)} staging operation(s) FAILED on the subscriber ({kinds}); HCL requires none "
            "before a resync: investigate them (DX deletes failed operations after a while), then run again"
        )
    return None
