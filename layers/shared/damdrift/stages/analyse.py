"""Stage 2, analyse: the check compared with the previous usable one, its drift aged, its summary, HTML
report and latest pointer stored, and its row of the publisher's overview.

A check that errored earlier takes the same path with an ERRORED summary, so every subscriber of every
run has a ``summary.json``; a salvaged download makes it ``partial`` — a report is never thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from damdrift.errors import split_diagnosis
from damdrift.models.summary import CheckStatus, ErrorInfo, ReportKeys, Summary, status_for
from damdrift.remediation.verdict import remediation_record
from damdrift.report.analysis.age import drift_age
from damdrift.report.analysis.comparison import compare_with_previous, previous_usable
from damdrift.report.analysis.diff import RunDiff
from damdrift.report.filing import file_check
from damdrift.report.ingest.download import StoringReport
from damdrift.report.rendering.html import report_page, trend_points
from damdrift.report.rendering.next_steps import FIND_ERRORS
from damdrift.report.rendering.overview import TREND_POINTS, OverviewRow
from damdrift.report_history import load_history
from damdrift.report_layout import HTML_FILENAME, SUMMARY_FILENAME
from damdrift.settings import FetchReportSettings
from damdrift.stages.fetch import Ingested
from damdrift.state import PollPhase, SubscriberTask
from damdrift.store import ReportStore


@dataclass(frozen=True)
class Analysed:
    """What analyse hands on: the stored check and where its pages are."""

    summary: Summary
    prefix: str
    summary_key: str
    html_key: str
    row: OverviewRow
    diff: RunDiff | None = None


def analyse(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime, ingested: Ingested
) -> Analysed:
    """The check's summary, compared and aged (or ERRORED), stored with its page, pointer and row.

    Three moves: what is stored about the subscriber's earlier checks is read once, first
    (:func:`~damdrift.report_history.load_history`); the summary, its comparison, drift age, page and
    overview row are worked out; the check's own pages are stored at the end, in the order
    :func:`~damdrift.report.filing.file_check` keeps (the latest pointer after what it points at). A
    download made now is stored whole meanwhile: S3 assembles it from its parts while the previous check is
    read and the keys are compared (local files only); the summary names it once it is stored.
    """
    summary, prefix, download = _summary(task, now, ingested), ingested.prefix, ingested.download
    tracker, workdir = ingested.tracker, ingested.workdir
    history = load_history(store, settings, summary.publisher, summary.subscriber_id, summary.execution)
    earlier = history.earlier
    diff: RunDiff | None = None
    if tracker is not None and workdir is not None and download is not None:
        with StoringReport(store, prefix, download) as storing:  # S3 assembles it while we compare
            previous = previous_usable(store, history, task.report_run)
            comparison = compare_with_previous(
                store,
                task.report_run,
                summary.status,
                tracker,
                download.files,
                prefix,
                workdir,
                previous,
                started=task.check.started_at,
            )
        summary.ignore_rules = ingested.ignore_rules
        summary.changes, diff = comparison.changes, comparison.diff
        summary.drift_age = drift_age(summary, earlier, previous[1] if previous is not None else None)
        summary.files = ReportKeys(
            records=storing.keys.get("records"),
            csv=storing.keys.get("csv"),
            summary=prefix + SUMMARY_FILENAME,
            **comparison.stored,
        )
    elif download is not None:  # salvaged after an error: stored already
        summary.files = ReportKeys(
            records=ingested.stored.get("records"),
            csv=ingested.stored.get("csv"),
            summary=prefix + SUMMARY_FILENAME,
        )
    summary.files = (summary.files or ReportKeys(summary=prefix + SUMMARY_FILENAME)).model_copy(
        update={"html": prefix + HTML_FILENAME}
    )
    page = report_page(summary, diff, earlier, settings.report_trend_runs)
    row = OverviewRow.of(summary, trend_points(summary, earlier, TREND_POINTS), summary.files.html)
    html_key, summary_key = file_check(store, prefix, summary, page, row, last_good=history.last_good)
    return Analysed(summary, prefix, summary_key, html_key, row, diff)


def _summary(task: SubscriberTask, now: datetime, ingested: Ingested) -> Summary:
    """The check's summary before comparison: DRIFT or IN_SYNC by what no rule ignores, or ERRORED with
    the error the Catch recorded (``partial`` when a salvaged download is its report)."""
    poll, download, ignored = task.poll, ingested.download, ingested.ignored
    files = download.files if download is not None else None
    completed = poll is not None and poll.phase == PollPhase.COMPLETED
    error: ErrorInfo | None = None
    if task.error is not None:
        message, diagnosis = split_diagnosis(task.error.message())
        if files is not None:
            message += f" ({files.total} records were downloaded and stored before the failure)"
        error = ErrorInfo(type=task.error.Error, message=message, diagnosis=diagnosis)
    # A poll that failed the find (FAILED, or past the cap) raised instead of returning its state, so
    # ``$.poll`` lacks it; the error's message counts it, and so does poll_count.
    failed_poll = error is not None and error.type in FIND_ERRORS and not completed
    ignored_total = sum(n for actions in ignored.values() for n in actions.values())
    summary = Summary(
        publisher=task.check.publisher_id,
        dx_protocol=task.check.publisher.protocol,
        subscriber_id=task.subscriber.subscriber_id,
        target_host=task.subscriber.target_host,
        status=CheckStatus.ERRORED
        if error is not None
        else status_for((files.total if files else 0) - ignored_total),
        counts=files.counts if files else {},
        total=files.total if files else 0,
        execution=task.report_run,
        started_at=task.check.started_at,
        find_started_at=poll.find_started_at if poll else None,
        find_completed_at=now if completed else None,
        finished_at=now,
        # Clamped: Lambda's clock and the one that stamped findStartedAt may disagree slightly.
        find_duration_seconds=max(0.0, (now - poll.find_started_at).total_seconds())
        if poll and completed
        else None,
        poll_count=poll.poll_count + (1 if failed_poll else 0) if poll is not None else None,
        error=error,
        partial=error is not None and files is not None,
        report_prefix=ingested.prefix,
        ignored=ignored,
        ignored_total=ignored_total,
    )
    summary.remediation = remediation_record(task, summary)
    return summary
