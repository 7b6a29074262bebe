"""Ask a person before a resync (``remediate: ask``): the drift notice carries a one-time approval link.

The state machine waits in a ``lambda:invoke.waitForTaskToken`` task (with a timeout) whose Lambda runs
:func:`request_approval`: it files the task token under a random approval id and publishes the drift
notice with the link. The approve function (a Lambda function URL) or ``damdrift check``/``approve``
answers with :func:`answer_approval`, which resumes the execution.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING

from damdrift.models.remediation import RemediationPhase
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.remediation.approval import ApprovalStore, PendingApproval, TaskCallbacks, approval_links
from damdrift.remediation.notice import with_remediation_note
from damdrift.state import OutboundNotice, SubscriberTask

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


def request_approval(
    task: SubscriberTask,
    task_token: str,
    approval_url: str | None,
    approvals: ApprovalStore,
    sns: SNSClient,
    now: datetime,
) -> PendingApproval:
    state = task.remediation
    if state is None or state.phase is not RemediationPhase.AWAITING_APPROVAL:
        raise ValueError("request-approval needs a remediation AWAITING_APPROVAL at $.remediation")
    outcome = task.result.outcome if task.result else None
    pending = approvals.create(
        task_token,
        execution=task.check.execution,
        publisher=task.check.publisher_id,
        subscriber_id=task.subscriber.subscriber_id,
        target_host=task.subscriber.target_host,
        mismatches=state.initial_effective_total,
        summary_key=outcome.summary_key if outcome else None,
        now=now,
        timeout_seconds=task.check.remediation.approval_timeout_seconds,
    )
    notification = task.result.notification if task.result else None
    if notification is not None:
        sns.publish(**_with_approval(notification, pending, approval_url).model_dump())
    else:
        logger.warning("no drift topic: the approval request is stored but nobody is told")
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    logger.info("approval requested", extra={"expires_at": pending.expires_at.isoformat()})
    return pending


def _with_approval(
    notification: OutboundNotice, pending: PendingApproval, approval_url: str | None
) -> OutboundNotice:
    lines = [
        f"Remediation (remediate: ask), request {pending.reference}: dam-drift can start a staging resync",
        "for this subscriber (DX repairs the subscriber from the publisher), wait for it, and verify with a",
        "second find. Nothing starts without an answer; the request expires at",
        f"{pending.expires_at:%Y-%m-%d %H:%M} UTC. HCL: do not resync two-way staging; avoid authoring",
        "on the publisher while it runs.",
    ]
    if approval_url:
        link = approval_links(approval_url, pending.link_id)["review"]
        lines += ["", "Review and approve or deny (one use):", f"  {link}"]
        lines += ["", "Or from a shell, to approve or to deny:"]
        lines += [f"  damdrift approve {shlex.quote(link)}", f"  damdrift approve {shlex.quote(link)} --deny"]
    else:
        lines += [
            "",
            f"Answer it where the check runs: damdrift check asks about request {pending.reference}.",
        ]
    return with_remediation_note(notification, RemediationPhase.AWAITING_APPROVAL, lines)


def answer_approval(
    approvals: ApprovalStore,
    callbacks: TaskCallbacks,
    approval_id: str,
    *,
    approved: bool,
    decided_by: str,
    now: datetime,
) -> PendingApproval:
    pending = approvals.answer(callbacks, approval_id, approved=approved, decided_by=decided_by, now=now)
    metrics.add_metric(
        name="ApprovalsGranted" if approved else "ApprovalsDenied", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "approval answered",
        extra={"approved": approved, "decided_by": decided_by, "execution": pending.execution},
    )
    return pending
