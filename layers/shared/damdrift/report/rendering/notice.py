"""What a subscriber's notice says, worked out once for both ways it is shown
(:mod:`damdrift.report.rendering.notification` renders it as the e-mail and as the chat message): how the
check words its mismatches and what changed, the counts table's rows, the next steps and HCL's hint, the
links.

Nothing here is escaped: DX's text stays as DX sent it until a renderer shows it (each channel escapes
its own way, :mod:`damdrift.notice_text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from damdrift.models.summary import Changes, CheckStatus, Summary, counts_table
from damdrift.report.analysis.diff import RunDiff
from damdrift.report.rendering.next_steps import NextStep, error_hint, next_steps


class ReportLink(BaseModel):
    """The notice's links. ``url`` (the HTML report) and ``overview_url`` (the publisher's overview) go
    through the report viewer and work until ``expires``, exactly: the viewer checks their signature and
    expiry. ``console_url`` opens the report's folder in the S3 console (an AWS login decides)."""

    url: str | None = None
    expires: datetime | None = None
    overview_url: str | None = None
    console_url: str | None = None


@dataclass(frozen=True)
class NoticeContent:
    """Everything the e-mail and the chat message say, beyond the summary's own fields."""

    summary: Summary
    #: Where the report is (``s3://...`` or a URL).
    location: str
    diff: RunDiff | None
    link: ReportLink | None
    #: :func:`mismatches_text`, :func:`since_text` (None without changes), and the subject's
    #: :func:`new_and_resolved` ("" when the check was not compared or nothing counted changed).
    mismatches: str
    since: str | None
    news: str
    #: ``(recordType, recordAction, n)`` in display order: the summary's counts and, compared with a
    #: previous check, the pairs that only have RESOLVED records (n = 0).
    table: list[tuple[str, str, int]]
    #: A DRIFT check's commands (:func:`~damdrift.report.rendering.next_steps.next_steps`); HCL's hint for
    #: an error.
    steps: list[NextStep]
    hint: str | None

    @property
    def compared(self) -> bool:
        """Whether the check was compared with a previous one (the table's New and Resolved columns)."""
        return self.diff is not None and self.diff.previous is not None


def notice_content(
    summary: Summary, location: str, *, diff: RunDiff | None = None, link: ReportLink | None = None
) -> NoticeContent:
    """The notice's content for ``summary``: ``diff`` adds the NEW and RESOLVED records and columns,
    ``link`` the viewer's and the console's links."""
    changes = summary.changes
    since_previous = changes is not None and changes.previous_execution is not None
    counts = _with_resolved_pairs(summary, diff)
    run = location.removeprefix("s3://").split("/", 1)[-1].rstrip("/") or None
    return NoticeContent(
        summary=summary,
        location=location,
        diff=diff,
        link=link,
        mismatches=mismatches_text(summary),
        since=since_text(changes) if changes is not None else None,
        news=new_and_resolved(changes.effective_new, changes.effective_resolved)
        if changes is not None and since_previous
        else "",
        table=counts_table(counts),
        steps=next_steps(summary, check_folder=run),
        hint=error_hint(summary.error),
    )


def _with_resolved_pairs(summary: Summary, diff: RunDiff | None) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {t: dict(a) for t, a in summary.counts.items()}
    if diff is not None and diff.previous is not None:
        for rtype, actions in diff.resolved.counts.items():
            for action in actions:
                counts.setdefault(rtype, {}).setdefault(action, 0)
    return counts


def new_and_resolved(new: int, resolved: int) -> str:
    """``+5 new, -3 resolved`` with only the parts that count something (ignore rules applied): a record
    every rule ignores is no news, and "-0 resolved" reads as if something was."""
    return ", ".join(part for n, part in ((new, f"+{new} new"), (resolved, f"-{resolved} resolved")) if n)


def mismatches_text(summary: Summary) -> str:
    """The mismatch count as every view words it: "unknown" (never "0") when the check did not finish."""
    if summary.partial:
        return f"{summary.total} so far (partial report)"
    if summary.status is CheckStatus.ERRORED and summary.total == 0:
        return "unknown (the check did not finish)"  # not "0": that would read as in sync
    if summary.ignored_total:
        ignored = summary.ignored_total
        return f"{summary.effective_total} (and {ignored} ignored by rules, {summary.total} in all)"
    return str(summary.total)


def since_text(changes: Changes) -> str:
    """One line on what changed since the previous usable check."""
    if changes.error is not None:
        return f"not compared ({changes.error})"
    if changes.previous_execution is None:
        return "first check of this subscriber"
    text = f"+{changes.new} new, -{changes.resolved} resolved, {changes.unchanged} unchanged"
    ignored = changes.new_ignored + changes.resolved_ignored
    if ignored:
        text += f" ({changes.new_ignored} of the new, {changes.resolved_ignored} of the resolved ignored)"
    if changes.status_changed and changes.previous_status is not None:
        text += f"; was {changes.previous_status}"
    return text + f"; previous: {changes.previous_execution}"
