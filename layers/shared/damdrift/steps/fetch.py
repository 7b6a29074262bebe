"""Step 4: download the whole mismatch report, keep it in S3, and say what the notice should be.

Records stream page by page into local files (gzip JSON Lines as DX sent them, plus a dxclient-style
CSV) and from there to S3 with boto3's multipart transfer, so memory stays flat at a million rows. The
download is stored in checkpointed parts (:mod:`damdrift.report.ingest`): if DX or S3 fails midway,
what was downloaded is kept and Step Functions' retry of this step resumes after it.

The same step records a check that errored earlier (``$.error`` set by a Catch): an ERRORED summary,
so every subscriber of every run has a ``summary.json``. If the error ended a download, the parts it
stored become the report, marked ``partial`` — a report is never thrown away.

While writing, each record is keyed and matched against the ignore rules; then the check is compared
with the subscriber's previous usable one, and gets its HTML report (:mod:`damdrift.report.insight`).
Whether a notice goes out is decided here (:func:`should_notify`); the ASL only reads ``notify``. By
default a check leaves its notice in its run record (:mod:`damdrift.fleet.records`) and the fleet step
after the Map sends one notice per run (:func:`announces_itself` says when a check sends its own).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from damdrift.check_clients import dx_client
from damdrift.dx.client import DxClient
from damdrift.errors import ReportStorageError, split_diagnosis
from damdrift.execution_input import NoticeScope, NotifyPolicy, RemediateMode
from damdrift.fleet.records import NoticeTopic, RunRecord, SubscriberNotice, put_record
from damdrift.latest_pointer import put_latest
from damdrift.models.summary import CheckStatus, ErrorInfo, ReportKeys, Summary, status_for
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.remediation.verdict import remediation_record
from damdrift.report.age import drift_age
from damdrift.report.chat import ChatEvent, chat_event, publish_chat
from damdrift.report.diff import RunDiff
from damdrift.report.ingest import (
    Download,
    StoringReport,
    discard_parts,
    download_report,
    salvage,
)
from damdrift.report.insight import (
    History,
    compare_with_previous,
    load_history,
    load_ignore_rules,
    notice_links,
    previous_usable,
    store_html,
)
from damdrift.report.next_steps import FIND_ERRORS
from damdrift.report.notification import Notification, build_notification
from damdrift.report.overview import TREND_POINTS, OverviewRow, store_row
from damdrift.report.tracker import RecordTracker
from damdrift.report.upload import upload_report_files
from damdrift.report.writer import ReportFiles
from damdrift.report_history import put_summary
from damdrift.report_layout import HTML_FILENAME, SUMMARY_FILENAME, prefix_for
from damdrift.settings import FetchReportSettings
from damdrift.state import FetchResult, OutboundNotice, Outcome, PollPhase, PollState, SubscriberTask
from damdrift.store import ReportStore


def fetch_report(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime
) -> FetchResult:
    if task.error is not None:
        return record_errored(task, settings, store, now)
    return fetch_with(dx_client(task.check, settings), task, settings, store, now)


def fetch_with(
    client: DxClient, task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime
) -> FetchResult:
    check, subscriber_id = task.check, task.subscriber.subscriber_id
    prefix = prefix_for(check.publisher_id, subscriber_id, check.started_at, task.report_run)
    rules = load_ignore_rules(store, settings, check.publisher_id, subscriber_id, now)
    history = load_history(store, settings, check.publisher_id, subscriber_id, task.report_run)
    workdir = _workdir(settings)
    tracker = RecordTracker(rules.matcher, spill_dir=workdir / "keys")
    try:
        download = download_report(
            lambda offset, first: client.iter_mismatches(
                subscriber_id, start_offset=offset, known_first=first
            ),
            store,
            prefix,
            workdir,
            settings.report_part_records,
            observer=tracker.observe,
            max_records=settings.report_max_records,
        )
        files = download.files
        with StoringReport(store, prefix, download) as storing:  # S3 assembles it while we compare
            if download.resumed_at:  # parts stored by an earlier attempt were not seen while writing
                tracker = RecordTracker.from_records_file(
                    files.records_path, rules.matcher, spill_dir=workdir / "keys-resumed"
                )
            status = status_for(files.total - tracker.ignored_total)
            previous = previous_usable(store, history, task.report_run)
            comparison = compare_with_previous(
                store,
                task.report_run,
                status,
                tracker,
                files,
                prefix,
                workdir,
                previous,
                started=check.started_at,
            )
        stored = storing.keys
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    summary = _summary(
        task, now, status, files, error=None, partial=False, prefix=prefix, ignored=tracker.ignored_counts()
    )
    summary.ignore_rules = rules.summary_with(tracker)
    summary.changes = comparison.changes
    earlier = [s for _key, s in history.summaries]
    if previous is not None and all(s.execution != previous[1].execution for s in earlier):
        earlier.insert(0, previous[1])
    summary.drift_age = drift_age(summary, earlier)
    summary.files = ReportKeys(
        records=stored.get("records"),
        csv=stored.get("csv"),
        summary=prefix + SUMMARY_FILENAME,
        **comparison.stored,
    )
    result = _finish(task, settings, store, summary, prefix, history=history, diff=comparison.diff)
    discard_parts(store, prefix, download.checkpoint)
    return result


def record_errored(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime
) -> FetchResult:
    assert task.error is not None
    check, subscriber_id = task.check, task.subscriber.subscriber_id
    message, diagnosis = split_diagnosis(task.error.message())
    error = ErrorInfo(type=task.error.Error, message=message, diagnosis=diagnosis)
    prefix = prefix_for(check.publisher_id, subscriber_id, check.started_at, task.report_run)
    salvaged: Download | None = None
    stored: dict[str, str] = {}
    if task.poll is not None and task.poll.phase is PollPhase.COMPLETED:  # the download had begun
        workdir = _workdir(settings)
        try:
            salvaged = salvage(store, prefix, workdir)
            if salvaged is not None:
                stored = upload_report_files(store, prefix, salvaged.files)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if salvaged is None:
        summary = _summary(task, now, CheckStatus.ERRORED, None, error=error, partial=False, prefix=prefix)
        return _finish(task, settings, store, summary, prefix)
    files = salvaged.files
    logger.warning("the download failed; its stored parts are the report", extra={"records": files.total})
    error.message += f" ({files.total} records were downloaded and stored before the failure)"
    summary = _summary(task, now, CheckStatus.ERRORED, files, error=error, partial=True, prefix=prefix)
    summary.files = ReportKeys(
        records=stored.get("records"), csv=stored.get("csv"), summary=prefix + SUMMARY_FILENAME
    )
    result = _finish(task, settings, store, summary, prefix)
    discard_parts(store, prefix, salvaged.checkpoint)
    return result


def _workdir(settings: FetchReportSettings) -> Path:
    """A new empty directory of this invocation's own, never named after DX text (a subscriber id of
    ``/some/dir`` or ``../..`` would otherwise name a directory to delete); the caller removes it."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="dam-drift-", dir=settings.work_dir))


def _summary(
    task: SubscriberTask,
    now: datetime,
    status: CheckStatus,
    files: ReportFiles | None,
    *,
    error: ErrorInfo | None,
    partial: bool,
    prefix: str,
    ignored: dict[str, dict[str, int]] | None = None,
) -> Summary:
    poll = task.poll
    find_completed = now if poll is not None and poll.phase == "COMPLETED" else None
    summary = Summary(
        publisher=task.check.publisher_id,
        dx_protocol=task.check.publisher.protocol,
        subscriber_id=task.subscriber.subscriber_id,
        target_host=task.subscriber.target_host,
        status=status,
        counts=files.counts if files else {},
        total=files.total if files else 0,
        execution=task.report_run,
        started_at=task.check.started_at,
        find_started_at=poll.find_started_at if poll else None,
        find_completed_at=find_completed,
        finished_at=now,
        # Clamped: Lambda's clock and the one that stamped findStartedAt may disagree slightly.
        find_duration_seconds=max(0.0, (now - poll.find_started_at).total_seconds())
        if poll and find_completed
        else None,
        poll_count=_polls(poll, error),
        error=error,
        partial=partial,
        report_prefix=prefix,
        ignored=ignored or {},
        ignored_total=sum(n for actions in (ignored or {}).values() for n in actions.values()),
    )
    summary.remediation = remediation_record(task, summary)
    return summary


def _polls(poll: PollState | None, error: ErrorInfo | None) -> int | None:
    """Status polls made. A poll that failed the find (FAILED, or past the cap) raised instead of
    returning its state, so ``$.poll`` lacks it; the error's message counts it, and so does this."""
    if poll is None:
        return None
    failed_poll = error is not None and error.type in FIND_ERRORS and poll.phase != PollPhase.COMPLETED
    return poll.poll_count + (1 if failed_poll else 0)


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


def _finish(
    task: SubscriberTask,
    settings: FetchReportSettings,
    store: ReportStore,
    summary: Summary,
    prefix: str,
    *,
    history: History | None = None,
    diff: RunDiff | None = None,
) -> FetchResult:
    if history is None:
        history = load_history(store, settings, summary.publisher, summary.subscriber_id, summary.execution)
    summary.files = (summary.files or ReportKeys(summary=prefix + SUMMARY_FILENAME)).model_copy(
        update={"html": prefix + HTML_FILENAME}
    )
    html_key = store_html(store, summary, diff, history, settings.report_trend_runs, prefix)
    summary_key = put_summary(store, prefix, summary)
    # Last: the pointer moves only once everything it points at is stored.
    put_latest(
        store, summary.publisher, summary.subscriber_id, summary_key, summary, last_good=history.last_good()
    )
    # Then the subscriber's row of the publisher's overview (an extra: a failure is logged, never raised);
    # the page itself is rendered once per run, by the fleet step after the Map.
    row = OverviewRow.of(summary, history.trend(summary, TREND_POINTS), html_key)
    store_row(store, row, summary.publisher)
    _emit_metrics(summary)
    location = f"s3://{settings.report_bucket}/{prefix}"
    link = notice_links(settings, summary.publisher, html_key, summary.finished_at or task.check.started_at)
    notification = build_notification(summary, location, diff=diff, report_link=link)
    errored = summary.status is CheckStatus.ERRORED
    topic = (settings.ops_topic_arn if errored else settings.drift_topic_arn) or settings.drift_topic_arn
    wanted = should_notify(task.check.notify_policy, summary)
    own = announces_itself(task, summary)
    chat = (
        chat_event(summary, notification.subject, link, location)
        if settings.chat_topic_arn and wanted
        else None
    )
    if settings.chat_topic_arn and chat is not None and own:
        publish_chat(settings.chat_topic_arn, chat)
    _leave_record(task, store, summary, row, notification, chat, attention=wanted, own=own)
    notify = topic is not None and wanted and own
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
            ignored_total=summary.ignored_total,
            effective_total=summary.effective_total,
            changes=summary.changes.model_dump(mode="json", by_alias=True) if summary.changes else None,
            report_html=html_key,
        ),
        notify=notify,
        notification=_outbound(notification, topic) if topic else None,
    )


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


def _leave_record(
    task: SubscriberTask,
    store: ReportStore,
    summary: Summary,
    row: OverviewRow,
    notification: Notification,
    chat: ChatEvent | None,
    *,
    attention: bool,
    own: bool,
) -> None:
    """The run record the fleet step reads (damdrift.fleet.records); a failure is logged: the fleet step
    then has the Map's result (the status) for this subscriber."""
    errored = summary.status is CheckStatus.ERRORED
    record = RunRecord(
        subscriber_id=summary.subscriber_id,
        row=row,
        attention=attention,
        notified_separately=own,
        notice=SubscriberNotice(
            topic=NoticeTopic.OPS if errored else NoticeTopic.DRIFT,
            subject=notification.subject,
            message=notification.message,
            attributes=notification.attributes,
            chat=chat.message() if chat is not None else None,
        ),
    )
    try:
        put_record(store, summary.publisher, task.check.execution, record)
    except (ReportStorageError, ValueError) as exc:
        logger.warning("the run record was not stored", extra={"error": str(exc)[:500]})


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
