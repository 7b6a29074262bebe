"""The fleet step after the drift check's Map: the run as a whole, once.

Reads each subscriber's run record (one GET each: :mod:`damdrift.fleet.records`), renders the
publisher's overview once, sends the run's notices (:mod:`damdrift.fleet.digest`: by default at most one
to the drift topic and one to the ops topic), stores ``run.json`` and emits the run's metrics. It never
talks to DX. The state machine catches its failure: the run still succeeds, every report is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from damdrift.fleet.digest import RunLinks, RunNotice, run_notices
from damdrift.fleet.records import RUN_FILENAME, NoticeTopic, read_records, run_prefix
from damdrift.fleet.run import NoticeSent, RunSummary, summarise
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.report.rendering.notice_links import notice_links
from damdrift.report.rendering.overview import publish_page
from damdrift.settings import SummariseRunSettings
from damdrift.state import RunEvent, RunNoticeResult, RunResult
from damdrift.store import ReportStore

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


def summarise_run(
    event: RunEvent, settings: SummariseRunSettings, store: ReportStore, sns: SNSClient, now: datetime
) -> RunResult:
    check = event.check
    ids = [result.subscriber_id for result in event.subscribers]
    records = read_records(store, check.publisher_id, check.execution, ids)
    run = summarise(check.execution, check.publisher_id, check.started_at, event.subscribers, records, now)
    run.overview = publish_page(store, check.publisher_id, now, {k: r.row for k, r in records.items()})
    run_key = run_prefix(check.publisher_id, check.execution) + RUN_FILENAME
    links = _links(settings, run, now, f"s3://{settings.report_bucket}/{run_key}")
    for notice in run_notices(run, records, links):
        run.notices.append(_publish(settings, sns, notice))
    store.put_document(run_key, run.model_dump(mode="json", by_alias=True), check_prefix=run_key)
    _emit_metrics(run)
    logger.info("run summarised", extra={"byStatus": run.by_status, "notices": len(run.notices)})
    return RunResult(
        run_key=run_key,
        overview=run.overview,
        by_status=run.by_status,
        notices=[
            RunNoticeResult(topic=n.topic, status=n.status, subscribers=n.subscribers) for n in run.notices
        ],
    )


def _links(settings: SummariseRunSettings, run: RunSummary, now: datetime, run_location: str) -> RunLinks:
    """Signed viewer links for the listed subscribers' reports and the overview (none without a viewer)."""
    listed = [e for topic in NoticeTopic for e in run.needing_notice(topic) if e.report]
    reports: dict[str, str] = {}
    overview, expires = None, None
    for entry in listed:
        link = notice_links(settings, run.publisher, str(entry.report), now)
        if link is None:
            break
        overview, expires = link.overview_url, link.expires
        if link.url:
            reports[entry.subscriber_id] = link.url
    return RunLinks(overview=overview, reports=reports, expires=expires, run_location=run_location)


def _publish(settings: SummariseRunSettings, sns: SNSClient, notice: RunNotice) -> NoticeSent:
    """Publishes the notice (and its chat post); a refused publish is logged and recorded, not raised."""
    topic = settings.ops_topic_arn if notice.topic is NoticeTopic.OPS else settings.drift_topic_arn
    topic = topic or settings.drift_topic_arn
    status = "SKIPPED"
    try:
        if topic:
            attributes: dict[str, MessageAttributeValueTypeDef] = {
                k: {"DataType": "String", "StringValue": v} for k, v in notice.attributes.items()
            }
            sns.publish(
                TopicArn=topic, Subject=notice.subject, Message=notice.message, MessageAttributes=attributes
            )
            status = "SENT"
        if settings.chat_topic_arn:
            sns.publish(TopicArn=settings.chat_topic_arn, Message=notice.chat)
    except (BotoCoreError, ClientError) as exc:
        logger.warning(
            "a run notice was not published", extra={"topic": notice.topic, "error": str(exc)[:300]}
        )
        status = "FAILED"
    return NoticeSent(
        topic=notice.topic, subject=notice.subject, subscribers=notice.subscribers, status=status
    )


def _emit_metrics(run: RunSummary) -> None:
    from aws_lambda_powertools.metrics import single_metric

    metrics.add_metric(name="RunSubscribers", unit=MetricUnit.Count, value=len(run.subscribers))
    metrics.add_metric(name="RunNewRecords", unit=MetricUnit.Count, value=run.new_total)
    metrics.add_metric(name="RunResolvedRecords", unit=MetricUnit.Count, value=run.resolved_total)
    metrics.add_metric(name="RunDuration", unit=MetricUnit.Seconds, value=run.duration_seconds)
    for status, count in run.by_status.items():
        with single_metric(
            name="RunSubscribersByStatus", unit=MetricUnit.Count, value=count, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="status", value=status)
