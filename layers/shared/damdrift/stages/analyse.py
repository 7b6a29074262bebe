"""Stage 2, analyse: the check compared with the previous usable one, its drift aged, its summary, HTML
report and latest pointer stored, and its row of the publisher's overview.

A check that errored earlier takes the same path with an ERRORED summary, so every subscriber of every
run has a ``summary.json``; a salvaged download makes it ``partial`` — a report is never thrown away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from damdrift.errors import split_diagnosis
from damdrift.latest_pointer import put_latest
from damdrift.models.summary import CheckStatus, ErrorInfo, ReportKeys, Summary, status_for
from damdrift.remediation.verdict import remediation_record
from damdrift.report.age import drift_age
from damdrift.report.comparison import compare_with_previous
from damdrift.report.diff import DIFF_FILENAME, NEW_FILENAME, RESOLVED_FILENAME, RunDiff
from damdrift.report.html import render_report, trend_points
from damdrift.report.ingest import StoringReport
from damdrift.report.next_steps import FIND_ERRORS
from damdrift.report.overview import TREND_POINTS, OverviewRow, store_row
from damdrift.report.writer import CSV_FILENAME, RECORDS_FILENAME
from damdrift.report_history import History, load_history, previous_usable, put_summary
from damdrift.report_layout import HTML_FILENAME, SUMMARY_FILENAME
from damdrift.report_page import HTML_CONTENT_TYPE
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

    A download made now is stored whole meanwhile: S3 assembles it from its parts while the keys are
    compared, which reads only local files; the summary names it once it is stored.
    """
    summary, prefix, download = _summary(task, now, ingested), ingested.prefix, ingested.download
    history = load_history(store, settings, summary.publisher, summary.subscriber_id, summary.execution)
    diff: RunDiff | None = None
    if ingested.tracker is not None and ingested.workdir is not None and download is not None:
        with StoringReport(store, prefix, download) as storing:  # S3 assembles it while we compare
            previous = previous_usable(store, history, task.report_run)
            comparison = compare_with_previous(
                store,
                task.report_run,
                summary.status,
                ingested.tracker,
                download.files,
                prefix,
                ingested.workdir,
                previous,
                started=task.check.started_at,
            )
        summary.ignore_rules = ingested.ignore_rules
        summary.changes, diff = comparison.changes, comparison.diff
        earlier = history.earlier()
        if previous is not None and all(s.execution != previous[1].execution for s in earlier):
            earlier.insert(0, previous[1])
        summary.drift_age = drift_age(summary, earlier)
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
    # The overview row's, read before anything is written.
    trend = trend_points(summary, history.earlier(), TREND_POINTS)
    html_key = store_html(store, summary, diff, history, settings.report_trend_runs, prefix)
    summary_key = put_summary(store, prefix, summary)
    # Last: the pointer moves only once everything it points at is stored.
    put_latest(
        store, summary.publisher, summary.subscriber_id, summary_key, summary, last_good=history.last_good()
    )
    # Then the subscriber's row of the publisher's overview (an extra: a failure is logged, never raised);
    # the page itself is rendered once per run, by the fleet step after the Map.
    row = OverviewRow.of(summary, trend, html_key)
    store_row(store, row, summary.publisher)
    return Analysed(summary, prefix, summary_key, html_key, row, diff)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def store_html(
    store: ReportStore, summary: Summary, diff: RunDiff | None, history: History, runs: int, prefix: str
) -> str:
    """Renders and stores ``report.html``; returns its key."""
    stored = summary.files or ReportKeys()
    candidates = (
        ("All records (JSON Lines, as DX sent them)", RECORDS_FILENAME, stored.records),
        ("All records (CSV)", CSV_FILENAME, stored.csv),
        ("New records (JSON Lines)", NEW_FILENAME, stored.new),
        ("Resolved records (JSON Lines)", RESOLVED_FILENAME, stored.resolved),
        ("What changed (diff.json)", DIFF_FILENAME, stored.diff),
        ("Summary (summary.json)", SUMMARY_FILENAME, stored.summary),
    )
    # Relative links: they work beside the report, in S3 as in a downloaded folder.
    files = {label: name for label, name, key in candidates if key}
    page = render_report(summary, diff, trend_points(summary, history.earlier(), runs), files=files)
    # A lone surrogate DX sent (JSON "\ud800") has no UTF-8 form: the page shows U+FFFD instead.
    body = _LONE_SURROGATE.sub("\ufffd", page).encode("utf-8")
    return store.put_bytes(prefix + HTML_FILENAME, body, HTML_CONTENT_TYPE, check_prefix=prefix)


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
