"""Step 4: download the whole mismatch report, keep it in S3, and say what the notice should be.

Records stream page by page into local files (gzip JSON Lines as DX sent them, plus a dxclient-style
CSV) and from there to S3 with boto3's multipart transfer, so memory stays flat at a million rows. If
DX fails mid-download, what was already downloaded is still stored, marked ``partial``, and the check
ends ERRORED — a report is never thrown away.

The same step records a check that errored earlier (``$.error`` set by a Catch): an ERRORED summary,
so every subscriber of every run has a ``summary.json``.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from damdrift.dx.client import DxClient
from damdrift.errors import DxError, split_diagnosis
from damdrift.execution_input import NotifyPolicy
from damdrift.model_base import WireModel
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.report.notification import Notification, build_notification
from damdrift.report.summary import CheckStatus, ErrorInfo, ReportKeys, Summary, status_for
from damdrift.report.writer import ReportFiles, ReportWriter
from damdrift.settings import Settings
from damdrift.state import SubscriberTask
from damdrift.steps.common import dx_client
from damdrift.store import SUMMARY_FILENAME, ReportStore


class Outcome(WireModel):
    """One subscriber's line in the execution's output."""

    subscriber_id: str
    target_host: str | None = None
    status: CheckStatus
    total: int
    counts: dict[str, dict[str, int]]
    partial: bool = False
    summary_key: str | None = None
    report_location: str | None = None
    error: dict[str, Any] | None = None


class OutboundNotice(WireModel):
    """Exactly the fields Step Functions' ``sns:publish`` integration takes."""

    model_config = WireModel.model_config | {"alias_generator": None}

    TopicArn: str
    Subject: str
    Message: str
    MessageAttributes: dict[str, dict[str, str]]


class FetchResult(WireModel):
    outcome: Outcome
    notify: bool
    notification: OutboundNotice | None = None


def fetch_report(task: SubscriberTask, settings: Settings, store: ReportStore, now: datetime) -> FetchResult:
    if task.error is not None:
        return record_errored(task, settings, store, now)
    return fetch_with(dx_client(task.check, settings), task, settings, store, now)


def fetch_with(
    client: DxClient, task: SubscriberTask, settings: Settings, store: ReportStore, now: datetime
) -> FetchResult:
    check, subscriber_id = task.check, task.subscriber.subscriber_id
    workdir = settings.work_dir / "dam-drift" / check.execution / subscriber_id
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    failure: DxError | None = None
    with ReportWriter(workdir) as writer:
        try:
            writer.add_many(client.iter_mismatches(subscriber_id))
        except DxError as exc:
            failure = exc
            logger.error("download failed; storing what was fetched", extra={"error": type(exc).__name__})
    files = writer.result
    prefix = store.prefix_for(check.publisher_id, subscriber_id, check.started_at, check.execution)
    try:
        stored = store.upload_report_files(prefix, files)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    error = None
    status = status_for(files.total)
    if failure is not None:
        status = CheckStatus.ERRORED
        error = ErrorInfo(
            type=type(failure).__name__,
            message=f"{failure} ({files.total} records were downloaded and stored before the failure)",
        )
    summary = _summary(task, now, status, files, error=error, partial=failure is not None, prefix=prefix)
    summary.files = ReportKeys(
        records=stored.get("records"), csv=stored.get("csv"), summary=prefix + SUMMARY_FILENAME
    )
    return _finish(task, settings, store, summary, prefix)


def record_errored(
    task: SubscriberTask, settings: Settings, store: ReportStore, now: datetime
) -> FetchResult:
    assert task.error is not None
    check, subscriber_id = task.check, task.subscriber.subscriber_id
    message, diagnosis = split_diagnosis(task.error.message())
    error = ErrorInfo(type=task.error.Error, message=message, diagnosis=diagnosis)
    prefix = store.prefix_for(check.publisher_id, subscriber_id, check.started_at, check.execution)
    summary = _summary(task, now, CheckStatus.ERRORED, None, error=error, partial=False, prefix=prefix)
    return _finish(task, settings, store, summary, prefix)


def _summary(
    task: SubscriberTask,
    now: datetime,
    status: CheckStatus,
    files: ReportFiles | None,
    *,
    error: ErrorInfo | None,
    partial: bool,
    prefix: str,
) -> Summary:
    poll = task.poll
    find_completed = now if poll is not None and poll.phase == "COMPLETED" else None
    return Summary(
        publisher=task.check.publisher_id,
        subscriber_id=task.subscriber.subscriber_id,
        target_host=task.subscriber.target_host,
        status=status,
        counts=files.counts if files else {},
        total=files.total if files else 0,
        execution=task.check.execution,
        started_at=task.check.started_at,
        find_started_at=poll.find_started_at if poll else None,
        find_completed_at=find_completed,
        finished_at=now,
        # Clamped: Lambda's clock and the one that stamped findStartedAt may disagree slightly.
        find_duration_seconds=max(0.0, (now - poll.find_started_at).total_seconds())
        if poll and find_completed
        else None,
        poll_count=poll.poll_count if poll else None,
        error=error,
        partial=partial,
        report_prefix=prefix,
    )


def _finish(
    task: SubscriberTask,
    settings: Settings,
    store: ReportStore,
    summary: Summary,
    prefix: str,
) -> FetchResult:
    summary_key = store.put_summary(prefix, summary)
    store.put_latest(summary.publisher, summary.subscriber_id, summary_key, summary)
    _emit_metrics(summary)
    location = f"s3://{settings.report_bucket}/{prefix}"
    notification = build_notification(summary, location)
    topic = settings.ops_topic_arn if summary.status is CheckStatus.ERRORED else settings.drift_topic_arn
    topic = topic or settings.drift_topic_arn
    notify = topic is not None and (
        task.check.notify_policy is NotifyPolicy.ALWAYS or summary.status is not CheckStatus.IN_SYNC
    )
    logger.info(
        "check finished", extra={"status": summary.status, "total": summary.total, "summary_key": summary_key}
    )
    return FetchResult(
        outcome=Outcome(
            subscriber_id=summary.subscriber_id,
            target_host=summary.target_host,
            status=summary.status,
            total=summary.total,
            counts=summary.counts,
            partial=summary.partial,
            summary_key=summary_key,
            report_location=location,
            error=summary.error.model_dump(mode="json") if summary.error else None,
        ),
        notify=notify,
        notification=_outbound(notification, topic) if topic else None,
    )


def _outbound(notification: Notification, topic: str) -> OutboundNotice:
    return OutboundNotice(
        TopicArn=topic,
        Subject=notification.subject,
        Message=notification.message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in notification.attributes.items()
        },
    )


def _emit_metrics(summary: Summary) -> None:
    from aws_lambda_powertools.metrics import single_metric

    metrics.add_metric(name="ChecksCompleted", unit=MetricUnit.Count, value=1)
    if summary.status is CheckStatus.ERRORED:
        metrics.add_metric(name="ErroredChecks", unit=MetricUnit.Count, value=1)
    for record_type, actions in summary.counts.items():
        for action, count in actions.items():
            # One EMF entry per type x action, so CloudWatch can graph each dimension pair.
            with single_metric(
                name="MismatchRecords", unit=MetricUnit.Count, value=count, namespace=metrics.namespace
            ) as metric:
                metric.add_dimension(name="recordType", value=record_type)
                metric.add_dimension(name="recordAction", value=action)
