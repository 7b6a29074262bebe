"""One check's summary and report files, as the tests of the report bucket's modules store them."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from damdrift.models.summary import CheckStatus, ErrorInfo, Summary
from damdrift.report.analysis.diff import RunDiff
from damdrift.report.ingest.writer import ReportFiles, ReportWriter
from damdrift.report.rendering.notice import ReportLink, notice_content
from damdrift.report.rendering.notification import Notification, render_notice

STARTED = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
PREFIX = "reports/dx.example.com/sub-1/2024/05/01/exec-1/"
FINISHED = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


def report_files(tmp_path: Path, n: int = 3) -> ReportFiles:
    with ReportWriter(tmp_path) as writer:
        writer.add_many(
            {"id": str(i), "subscriberId": "sub-1", "recordType": "COLLECTION", "recordAction": "CREATE"}
            for i in range(n)
        )
    return writer.result


def drift_summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "status": CheckStatus.DRIFT,
        "counts": {"COLLECTION": {"CREATE": 3}},
        "total": 3,
        "execution": "exec-1",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(minutes=5),
        "report_prefix": PREFIX,
    }
    fields.update(overrides)
    return Summary(**fields)


def summary_of(execution: str, status: CheckStatus = CheckStatus.DRIFT, **fields: Any) -> Summary:
    """A check of subscriber ``s`` of publisher ``p`` by its execution and status (one drifting record,
    or an error), finished at ``FINISHED``: what tests of which check is compared with, and notified, need."""
    counts = {"KEYWORD": {"CREATE": 1}} if status is CheckStatus.DRIFT else {}
    error = ErrorInfo(type="FindMismatchFailed", message="m") if status is CheckStatus.ERRORED else None
    return Summary(
        publisher="p",
        subscriber_id="s",
        status=status,
        counts=counts,
        total=sum(n for a in counts.values() for n in a.values()),
        execution=execution,
        finished_at=FINISHED,
        error=error,
        **fields,
    )


def build_notification(
    summary: Summary,
    report_location: str,
    *,
    diff: RunDiff | None = None,
    report_link: ReportLink | None = None,
) -> Notification:
    """The e-mail for ``summary`` as the announce stage renders it (its content, then the e-mail alone):
    the notification tests' one call."""
    content = notice_content(summary, report_location, diff=diff, link=report_link)
    return render_notice(content, chat=False).email
