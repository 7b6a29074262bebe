"""Stage 3, announce: the check's metrics, whether and where its notice (and chat message) goes, and its
run record; the step's result.

Whether a notice goes out is decided here (:func:`should_notify`); the ASL only reads ``notify``. By
default a check leaves its notice in its run record (:mod:`damdrift.fleet.records`) and the fleet step
after the Map sends one notice per run (:func:`announces_itself` says when a check sends its own).
"""

from __future__ import annotations

from damdrift.errors import ReportStorageError
from damdrift.execution_input import NoticeScope, NotifyPolicy, RemediateMode
from damdrift.fleet.records import NoticeTopic, RunRecord, SubscriberNotice, put_record
from damdrift.models.summary import CheckStatus, Summary
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.report.rendering.chat import publish_chat
from damdrift.report.rendering.notice import notice_content
from damdrift.report.rendering.notice_links import notice_links
from damdrift.report.rendering.notification import render_notice
from damdrift.settings import FetchReportSettings
from damdrift.stages.analyse import Analysed
from damdrift.state import FetchResult, OutboundNotice, Outcome, SubscriberTask
from damdrift.store import ReportStore


def announce(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, analysed: Analysed
) -> FetchResult:
    """Publishes what this check announces itself (chat), leaves its notice in its run record for the
    fleet step, and says whether the ASL's Notify state publishes the notice, and to which topic."""
    summary, html_key = analysed.summary, analysed.html_key
    wanted = should_notify(task.check.notify_policy, summary)
    own = announces_itself(task, summary)
    _emit_metrics(summary)
    errored = summary.status is CheckStatus.ERRORED
    topic = (settings.ops_topic_arn if errored else settings.drift_topic_arn) or settings.drift_topic_arn
    location = f"s3://{settings.report_bucket}/{analysed.prefix}"
    link = notice_links(settings, summary.publisher, html_key, summary.finished_at or task.check.started_at)
    content = notice_content(summary, location, diff=analysed.diff, link=link)
    notification, chat = render_notice(content, chat=bool(settings.chat_topic_arn) and wanted)
    if settings.chat_topic_arn and chat is not None and own:
        publish_chat(settings.chat_topic_arn, chat)
    # The run record the fleet step reads; a failure is logged: the fleet step then has the Map's result
    # (the status) for this subscriber.
    notice = SubscriberNotice(
        topic=NoticeTopic.OPS if errored else NoticeTopic.DRIFT,
        subject=notification.subject,
        message=notification.message,
        attributes=notification.attributes,
        chat=chat.message() if chat is not None else None,
    )
    record = RunRecord(
        subscriber_id=summary.subscriber_id,
        row=analysed.row,
        attention=wanted,
        notified_separately=own,
        notice=notice,
    )
    try:
        put_record(store, summary.publisher, task.check.execution, record)
    except (ReportStorageError, ValueError) as exc:
        logger.warning("the run record was not stored", extra={"error": str(exc)[:500]})
    logger.info(
        "check finished",
        extra={"status": summary.status, "total": summary.total, "summary_key": analysed.summary_key},
    )
    outbound = (
        OutboundNotice(
            TopicArn=topic,
            Subject=notification.subject,
            Message=notification.message,
            MessageAttributes=notification.sns_message_attributes(),
        )
        if topic
        else None
    )
    return FetchResult(
        outcome=Outcome(
            subscriber_id=summary.subscriber_id,
            target_host=summary.target_host,
            status=summary.status,
            total=summary.total,
            counts=summary.counts,
            partial=summary.partial,
            summary_key=analysed.summary_key,
            report_location=location,
            error=summary.error.model_dump(mode="json") if summary.error else None,
            ignored_total=summary.ignored_total,
            effective_total=summary.effective_total,
            changes=summary.changes.model_dump(mode="json", by_alias=True) if summary.changes else None,
            report_html=html_key,
        ),
        notify=topic is not None and wanted and own,
        notification=outbound,
    )


def should_notify(policy: NotifyPolicy, summary: Summary) -> bool:
    """Whether the check publishes a notice. ERRORED always does (to the ops topic); otherwise
    ``always`` does, ``on-drift`` when drift remains that no rule ignores, and ``on-change`` when the
    check differs from the previous usable one (see ``Changes.changed``)."""
    if summary.status is CheckStatus.ERRORED or policy is NotifyPolicy.ALWAYS:
        return True
    if summary.remediation is not None:  # the verdict of a resync someone approved or allowed
        return True
    if policy is NotifyPolicy.ON_DRIFT:
        return summary.status is CheckStatus.DRIFT
    return summary.changes is None or summary.changes.changed


def announces_itself(task: SubscriberTask, summary: Summary) -> bool:
    """Whether this check publishes its own notice (and chat) instead of leaving it to the run's: with
    per-subscriber notices (input ``notices: subscriber``), and always for a remediation — the drift
    notice that a remediation follows (the ASL's RemediationWanted?) and the verifying check's verdict."""
    if task.check.notices is NoticeScope.SUBSCRIBER or summary.remediation is not None:
        return True
    return (
        task.remediation is None
        and summary.status is CheckStatus.DRIFT
        and task.subscriber.remediate is not RemediateMode.NEVER
    )


def _emit_metrics(summary: Summary) -> None:
    from aws_lambda_powertools.metrics import single_metric

    metrics.add_metric(name="ChecksCompleted", unit=MetricUnit.Count, value=1)
    if summary.status is CheckStatus.ERRORED:
        metrics.add_metric(name="ErroredChecks", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="IgnoredRecords", unit=MetricUnit.Count, value=summary.ignored_total)
    changes = summary.changes
    if changes is not None and changes.previous_execution is not None:
        metrics.add_metric(name="NewRecords", unit=MetricUnit.Count, value=changes.effective_new)
        metrics.add_metric(name="ResolvedRecords", unit=MetricUnit.Count, value=changes.effective_resolved)
    for record_type, actions in summary.counts.items():
        for action, count in actions.items():
            # One EMF entry per type x action, so CloudWatch can graph each dimension pair.
            with single_metric(
                name="MismatchRecords", unit=MetricUnit.Count, value=count, namespace=metrics.namespace
            ) as metric:
                metric.add_dimension(name="recordType", value=record_type)
                metric.add_dimension(name="recordAction", value=action)
