"""The run's notices: at most one to the drift topic and one to the ops topic, at any fleet size.

Each lists every subscriber that needs attention (status, mismatches, new/resolved, its report link)
and links the publisher's overview. A topic with exactly one such subscriber gets that subscriber's own
notice, as its check built it (the NEW and RESOLVED records, DX's diagnosis): a run's digest of one is
that notice. SNS's limits hold (Publish API): the subject is printable ASCII under 100 characters, the
message at most 256 KB — past :data:`MESSAGE_MAX_BYTES` the worst subscribers are listed and the rest
counted, with the overview link for all of them.

Every value that came from DX goes through the notices' own escaping (:mod:`damdrift.notice_text`: one
safe line for e-mail, printable ASCII for the subject, Slack and Markdown escaping for chat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from damdrift.fleet.records import NoticeTopic, RunRecord
from damdrift.fleet.run import RunEntry, RunSummary
from damdrift.models.summary import CheckStatus
from damdrift.notice_text import SUBJECT_MAX, ascii_line, chat_text, one_line, slack_escaped
from damdrift.report.rendering.chat import DESCRIPTION_MAX, ChatContent, ChatEvent, ChatMetadata
from damdrift.report.rendering.notice import new_and_resolved

#: Below SNS's 256 KB (262,144 bytes, message attributes included), with room for the attributes.
MESSAGE_MAX_BYTES = 250 * 1024
_TAGS = {NoticeTopic.DRIFT: "[DRIFT]", NoticeTopic.OPS: "[ERRORED]"}
_STATUS_TAGS = {
    CheckStatus.DRIFT: "[DRIFT]",
    CheckStatus.ERRORED: "[ERRORED]",
    CheckStatus.IN_SYNC: "[IN SYNC]",
}


@dataclass(frozen=True)
class RunLinks:
    """Signed report-viewer links (absent when the stack has no viewer): the overview, and each listed
    subscriber's report by its subscriber id."""

    overview: str | None = None
    reports: Mapping[str, str] | None = None
    expires: datetime | None = None
    #: Where run.json is (``s3://<bucket>/runs/<publisher>/<execution>/run.json``).
    run_location: str | None = None


@dataclass(frozen=True)
class RunNotice:
    topic: NoticeTopic
    subject: str
    message: str
    attributes: dict[str, str]
    subscribers: int
    #: The chat event's JSON (AWS Chatbot's custom notification).
    chat: str


def run_notices(run: RunSummary, records: Mapping[str, RunRecord], links: RunLinks) -> list[RunNotice]:
    """The run's notices, drift first; none for a topic whose subscribers need no attention."""
    notices = []
    for topic in (NoticeTopic.DRIFT, NoticeTopic.OPS):
        entries = run.needing_notice(topic)
        if not entries:
            continue
        own = records.get(entries[0].subscriber_id)
        if len(entries) == 1 and own is not None and own.notice is not None and own.notice.topic is topic:
            notice = own.notice
            chat = notice.chat or _chat(run, topic, notice.subject, entries, links)
            notices.append(RunNotice(topic, notice.subject, notice.message, notice.attributes, 1, chat))
            continue
        status = _status_of(topic, entries)
        subject = subject_line(run, topic, status)
        attributes = {
            "status": str(status),
            "kind": "run",
            "publisher": one_line(run.publisher, 256) or "-",
            "execution": one_line(run.execution, 256) or "-",
        }
        message = message_text(run, topic, entries, links)
        notices.append(
            RunNotice(
                topic, subject, message, attributes, len(entries), _chat(run, topic, subject, entries, links)
            )
        )
    return notices


def _status_of(topic: NoticeTopic, entries: Sequence[RunEntry]) -> CheckStatus:
    """The status a topic's run notice carries (tag and ``status`` attribute, which subscriptions filter
    on): ERRORED on the ops topic; on the drift topic DRIFT if any listed check drifts, else IN_SYNC (a
    notifyPolicy of always or on-change lists checks that are in sync)."""
    if topic is NoticeTopic.OPS:
        return CheckStatus.ERRORED
    return CheckStatus.DRIFT if any(e.status is CheckStatus.DRIFT for e in entries) else CheckStatus.IN_SYNC


def subject_line(run: RunSummary, topic: NoticeTopic, status: CheckStatus) -> str:
    """E.g. ``[DRIFT] dx.example.com: 17 drift (+40 new), 3 errored, 280 in sync`` (< 100 characters)."""
    tally = run.by_status
    drift = f"{tally.get('DRIFT', 0)} drift" + (f" (+{run.new_total} new)" if run.new_total else "")
    parts = [drift, f"{tally.get('ERRORED', 0)} errored", f"{tally.get('IN_SYNC', 0)} in sync"]
    if topic is NoticeTopic.OPS:
        parts = [parts[1], parts[0], parts[2]]
    tail = ": " + ", ".join(parts)
    tag = _STATUS_TAGS[status]
    publisher = ascii_line(run.publisher, max(SUBJECT_MAX - len(tag) - len(tail) - 1, 8)) or "?"
    return f"{tag} {publisher}{tail}"[:SUBJECT_MAX]


def message_text(run: RunSummary, topic: NoticeTopic, entries: Sequence[RunEntry], links: RunLinks) -> str:
    tally = run.by_status
    head = [
        f"dam-drift checked {len(run.subscribers)} subscribers of publisher {one_line(run.publisher, 300)}.",
        "",
        f"{'Execution:':<15} {one_line(run.execution, 300)}",
        f"{'Started:':<15} {_time(run.started_at)}",
        f"{'Duration:':<15} {run.duration_seconds:.0f} s",
        f"{'Subscribers:':<15} {tally.get('DRIFT', 0)} DRIFT, {tally.get('ERRORED', 0)} ERRORED, "
        f"{tally.get('IN_SYNC', 0)} IN SYNC",
        f"{'Since last run:':<15} +{run.new_total} new, -{run.resolved_total} resolved",
    ]
    if links.overview:
        until = f" (the link works until {_time(links.expires)})" if links.expires else ""
        head += ["", f"Every subscriber, on one page{until}:", f"  {links.overview}"]
    what = "errored" if topic is NoticeTopic.OPS else "need attention"
    head += ["", f"{len(entries)} subscribers {what}, worst first:", ""]
    footer = ["", f"The run's summary (every subscriber): {links.run_location}"] if links.run_location else []
    size = len("\n".join(head + footer).encode("utf-8"))
    body: list[str] = []
    for index, entry in enumerate(entries):
        lines = _entry_lines(entry, (links.reports or {}).get(entry.subscriber_id))
        grown = sum(len(line.encode("utf-8")) + 1 for line in lines)
        if size + grown > MESSAGE_MAX_BYTES - 200:
            body.append(f"... and {len(entries) - index} more: every one is on the overview.")
            break
        body += lines
        size += grown
    return "\n".join(head + body + footer)


def _entry_lines(entry: RunEntry, report_url: str | None) -> list[str]:
    name = one_line(entry.name, 120) or "?"
    ident = f" ({one_line(entry.subscriber_id, 128)})" if entry.target_host else ""
    if entry.status is CheckStatus.ERRORED:
        detail = one_line(entry.error or "error", 200)
    else:
        detail = f"{entry.mismatches if entry.mismatches is not None else '?'} mismatches"
        if entry.new is not None and (phrase := new_and_resolved(entry.new, entry.resolved or 0)):
            detail += f", {phrase}"
    lines = [f"- {entry.status:<8} {name}{ident}: {detail}"]
    if report_url:
        lines.append(f"  report: {report_url}")
    elif entry.report:
        lines.append(f"  report: {one_line(entry.report, 600)}")
    return lines


def _chat(
    run: RunSummary, topic: NoticeTopic, subject: str, entries: Sequence[RunEntry], links: RunLinks
) -> str:
    lines = [f"*{chat_text(subject, SUBJECT_MAX)}*"]
    for entry in entries:
        report = (links.reports or {}).get(entry.subscriber_id)
        what = (
            chat_text(entry.error or "error", 80)
            if entry.status is CheckStatus.ERRORED
            else (
                f"{entry.mismatches if entry.mismatches is not None else '?'} mismatches"
                + (f", +{entry.new} new" if entry.new else "")
            )
        )
        line = f"• {entry.status} {chat_text(entry.name, 80)}: {what}" + (f" — {report}" if report else "")
        if sum(len(x) + 1 for x in lines) + len(line) > DESCRIPTION_MAX - 80:
            lines.append(f"… and {len(entries) - (len(lines) - 1)} more on the overview")
            break
        lines.append(line)
    event = ChatEvent(
        content=ChatContent(
            textType="client-markdown",
            title=slack_escaped(subject),
            description="\n".join(lines)[:DESCRIPTION_MAX],
            nextSteps=[f"Every subscriber of the publisher: {links.overview}"] if links.overview else None,
            keywords=[_TAGS[topic].strip("[]"), one_line(run.publisher, 80) or "-"],
        ),
        metadata=ChatMetadata(
            threadId=one_line(f"dam-drift/{run.publisher}/run", 200),
            summary=subject,
            eventType=f"dam-drift run {_TAGS[topic].strip('[]')}",
            additionalContext={"execution": one_line(run.execution, 200), "subscribers": str(len(entries))},
        ),
    )
    return event.message()


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "-"


__all__ = ["MESSAGE_MAX_BYTES", "RunLinks", "RunNotice", "message_text", "run_notices", "subject_line"]
