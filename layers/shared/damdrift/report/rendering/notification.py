"""A subscriber's notice, shown two ways from one :class:`~damdrift.report.rendering.notice.NoticeContent`:
the SNS e-mail (a subject that says it all, a short plain-text body) and the chat message (AWS Chatbot's
custom notification, :mod:`damdrift.report.rendering.chat`). The chat title is the e-mail's subject, from
the same parts.

SNS rules (Publish API): the subject has no line breaks or control characters and fewer than 100
characters (``notice_text.sns_subject``: printable ASCII, cut at 99); the message is at most 256 KB of
UTF-8. The body only ever holds counts, a capped table, the first few NEW and RESOLVED records, capped
error text and a link to the HTML report, so it stays a few KB however large the report is.

Both texts are laid out first, every value that came from DX or from the execution input marked
``notice_text.Untrusted`` (with its cap), and finished last, in one go (:func:`_finish`): in the e-mail
each such value is one line (``notice_text.plain_text``: line breaks become spaces, other control
characters and bidi overrides are removed), so no value can break the layout or start a line that looks
like ours (an "approve here" block). Chatbot renders the title, the description, the next steps and the
keywords as the channel's own markdown (Slack mrkdwn or Teams markdown): every DX value in them, the
title (the SNS subject, with the target host) included, is also escaped (``notice_text.chat_markdown``):
Slack's control characters ``& < >`` as ``&amp; &lt; &gt;`` and Markdown's formatting characters
backslash-escaped, so a host name such as ``<https://evil.example|Approve the resync>`` can neither
format the message, mention a channel, nor forge a link. Metadata (thread id, context) is one line.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel

from damdrift.models.summary import CheckStatus, Summary
from damdrift.notice_text import SUBJECT_MAX as SUBJECT_MAX  # noqa: PLC0414 - re-exported
from damdrift.notice_text import (
    Untrusted,
    ascii_line,
    chat_markdown,
    chat_text,
    one_line,
    plain_text,
    shorten,
    slack_escaped,
    sns_subject,
)
from damdrift.report.analysis.age import age_text
from damdrift.report.analysis.diff import ChangeClass, RunDiff
from damdrift.report.rendering.chat import DESCRIPTION_MAX, ChatContent, ChatEvent, ChatMetadata
from damdrift.report.rendering.notice import NoticeContent, ReportLink, notice_content

MESSAGE_MAX_BYTES = 64 * 1024  # a safety net far below SNS's 256 KB; the layout stays well under it
TABLE_MAX_ROWS = 60  # 12 record types x 3 actions fit, with room for types DX adds
TOP_RECORDS = 10  # NEW / RESOLVED records listed; the HTML report has up to 500 of each
_FIELD_MAX = 300
_ERROR_MESSAGE_MAX = 2000
_DIAGNOSIS_MAX_ITEMS = 20
_DIAGNOSIS_VALUE_MAX = 1000

_SUBJECT_TAGS = {
    CheckStatus.IN_SYNC: "[IN SYNC]",
    CheckStatus.DRIFT: "[DRIFT]",
    CheckStatus.ERRORED: "[ERRORED]",
}


class Notification(BaseModel):
    """What to publish: ``sns.publish(TopicArn=..., Subject=n.subject, Message=n.message,
    MessageAttributes=n.sns_message_attributes())``."""

    subject: str
    message: str
    #: Plain strings so that e-mail/SQS subscriptions can filter on them (status, subscriberId, publisher).
    attributes: dict[str, str]

    def sns_message_attributes(self) -> dict[str, dict[str, str]]:
        """``attributes`` in the shape SNS's Publish takes."""
        return {name: {"DataType": "String", "StringValue": value} for name, value in self.attributes.items()}


#: A line of a text we lay out: ours as it is, or ours with DX's text marked Untrusted.
Line = str | list[str | Untrusted]


class RenderedNotice(NamedTuple):
    """The subscriber's notice as e-mail and, when the stack posts to chat, as chat."""

    email: Notification
    chat: ChatEvent | None


class ChatDraft(NamedTuple):
    """The chat message laid out, DX's text still :class:`~damdrift.notice_text.Untrusted` (escaped when
    the message is finished)."""

    description: list[Line]
    steps: list[str]


def render_notice(content: NoticeContent, *, chat: bool) -> RenderedNotice:
    """The e-mail and (with ``chat``) the chat message. Both are laid out first, DX's text in them still
    :class:`~damdrift.notice_text.Untrusted`; :func:`_finish` then makes it safe for each, in one go."""
    message = _message(content)
    draft = _chat_draft(content) if chat else None
    return _finish(content, message, draft)


def _finish(content: NoticeContent, message: list[Line], draft: ChatDraft | None) -> RenderedNotice:
    """The texts finished (``notice_text``): the subject in printable ASCII under SNS's limit (the chat
    title is its parts, escaped), the body and the attributes one safe line per value, chat's DX text
    inert markdown."""
    summary = content.summary
    parts = subject_parts(content)
    subject = sns_subject(parts.text())
    remediation = summary.remediation
    email = Notification(
        subject=subject,
        message=plain_text(message, max_bytes=MESSAGE_MAX_BYTES),
        attributes={
            "status": str(summary.status),
            "subscriberId": one_line(summary.subscriber_id, 256) or "-",
            "publisher": one_line(summary.publisher, 256) or "-",
            **({"remediation": str(remediation.verdict or "FAILED")} if remediation is not None else {}),
        },
    )
    if draft is None:
        return RenderedNotice(email, None)
    host = summary.target_host or summary.subscriber_id
    title: Line = [f"{parts.tag} ", Untrusted(parts.publisher, 120), " -> ", Untrusted(parts.subscriber, 120)]
    chat = ChatEvent(
        content=ChatContent(
            textType="client-markdown",
            title=chat_markdown([title]) + slack_escaped(parts.tail),
            description=chat_markdown(draft.description)[:DESCRIPTION_MAX],
            nextSteps=draft.steps or None,
            keywords=[
                str(summary.status),
                chat_text(summary.publisher, 80) or "-",
                chat_text(host, 80) or "-",
            ],
        ),
        metadata=ChatMetadata(
            threadId=one_line(f"dam-drift/{summary.publisher}/{summary.subscriber_id}", 200),
            summary=slack_escaped(one_line(subject, 200)),
            eventType=f"dam-drift {summary.status}",
            relatedResources=[content.location] if content.location else None,
            additionalContext={
                "execution": one_line(summary.execution, 200),
                "subscriberId": one_line(summary.subscriber_id, 200),
            },
        ),
    )
    return RenderedNotice(email, chat)


class SubjectParts(NamedTuple):
    """The subject's pieces: ``tag`` and ``tail`` are ours, ``publisher`` and ``subscriber`` DX's (ASCII,
    shortened so that the whole fits SNS); the chat title escapes only the latter."""

    tag: str
    publisher: str
    subscriber: str
    tail: str

    def text(self) -> str:
        return f"{self.tag} {self.publisher} -> {self.subscriber}{self.tail}"


def subject_parts(content: NoticeContent) -> SubjectParts:
    """What the subject says: the status (or the remediation's verdict), both hosts, the count."""
    summary = content.summary
    tag = _SUBJECT_TAGS[summary.status]
    if summary.remediation is not None and summary.remediation.verdict is not None:
        tag = "[" + summary.remediation.verdict.replace("_", " ") + "]"
    if summary.status is CheckStatus.ERRORED:
        tail = ": " + ascii_line(summary.error.type if summary.error else "error", 40)
    elif summary.effective_total == 0:
        tail = ": no mismatches" + (f" ({summary.ignored_total} ignored)" if summary.ignored_total else "")
    else:
        tail = f": {summary.effective_total} mismatch" + ("" if summary.effective_total == 1 else "es")
        tail += f" ({content.news})" if content.news else ""
    publisher = ascii_line(summary.publisher, SUBJECT_MAX) or "?"
    subscriber = ascii_line(summary.target_host or summary.subscriber_id, SUBJECT_MAX) or "?"
    # Shorten the names, never the tag or the tail: the longer name gives way first.
    room = SUBJECT_MAX - len(tag) - len(" -> ") - len(tail) - 1
    if len(publisher) + len(subscriber) > room:
        half = room // 2
        if len(publisher) <= half:
            subscriber = shorten(subscriber, room - len(publisher))
        elif len(subscriber) <= half:
            publisher = shorten(publisher, room - len(subscriber))
        else:
            publisher, subscriber = shorten(publisher, half), shorten(subscriber, room - half)
    return SubjectParts(tag, publisher, subscriber, tail)


def _message(content: NoticeContent) -> list[Line]:
    """The e-mail's body laid out: DX's text is :class:`Untrusted` until :func:`_finish` makes each value
    one safe line (``notice_text.plain_text``)."""
    summary, diff, report_link = content.summary, content.diff, content.link
    lines: list[Line] = [
        f"dam-drift check: {summary.status}" + (" (partial report)" if summary.partial else ""),
        "",
        _field("Publisher", summary.publisher),
        _field("Subscriber", summary.subscriber_id),
    ]
    if summary.target_host:
        lines.append(_field("Target host", summary.target_host))
    lines.append(_field("Status", str(summary.status)))
    lines.append(_field("Mismatches", content.mismatches))
    if content.since is not None and summary.status is not CheckStatus.ERRORED:
        lines.append(_field("Since previous", content.since))
    if summary.counts or (diff is not None and diff.resolved.total):
        lines += ["", *_table(content)]
    if diff is not None:
        lines += _records("New records", diff.new)
        lines += _records("Resolved records", diff.resolved)
    lines += _rule_lines(summary)
    lines += _remediation_lines(summary)
    lines += [
        "",
        _field("Started", _time(summary.started_at)),
        _field("Find started", _time(summary.find_started_at)),
        _field("Find completed", _time(summary.find_completed_at)),
        _field(
            "Find took",
            f"{summary.find_duration_seconds:.1f} s" if summary.find_duration_seconds is not None else "-",
        ),
        _field("Status polls", str(summary.poll_count) if summary.poll_count is not None else "-"),
        _field("Finished", _time(summary.finished_at)),
        _field("Execution", summary.execution),
        _field("Report", content.location or "-"),
    ]
    if report_link is not None:
        lines += link_lines(report_link)
    if summary.error is not None:
        lines += ["", *_error_lines(content)]
    return lines


def link_lines(link: ReportLink) -> list[str]:
    """The links, each under a line that says how long it works (not through _field: a signed URL is
    longer than its cap, and is ours, not DX's text)."""
    lines: list[str] = []
    until = _time(link.expires)
    if link.url:
        lines += ["", f"HTML report (this link works until {until}):", f"  {link.url}"]
    if link.overview_url:
        title = f"Overview of every subscriber (this link works until {until}):"
        lines += ["", title, f"  {link.overview_url}"]
    if link.console_url:
        title = "The report's folder in the S3 console (with your AWS login):"
        lines += ["", title, f"  {link.console_url}"]
    return lines


def counts_lines(summary: Summary, diff: RunDiff | None = None) -> list[str]:
    """A text table of counts by type and action; with a diff, NEW and RESOLVED columns; with ignored
    records, theirs (also what ``damdrift report show`` prints)."""
    return _table(notice_content(summary, "", diff=diff))


def _table(content: NoticeContent) -> list[str]:
    """The counts table, aligned: its record types and actions are made one safe line here, as the column
    widths need them (the one part of the body not finished by ``plain_text``)."""
    summary, diff = content.summary, content.diff
    columns = ["Count"]
    if content.compared:
        columns += ["New", "Resolved"]
    if summary.ignored_total:
        columns.append("Ignored")
    rows: list[tuple[str, str, list[int]]] = []
    for rtype, action, n in content.table:
        cells = [n]
        if diff is not None and content.compared:
            cells += [_cell(diff.new.counts, rtype, action), _cell(diff.resolved.counts, rtype, action)]
        if summary.ignored_total:
            cells.append(_cell(summary.ignored, rtype, action))
        rows.append((one_line(rtype, 40), one_line(action, 20), cells))
    shown = rows[:TABLE_MAX_ROWS]
    type_width = max(len("Record type"), *(len(row[0]) for row in shown))
    action_width = max(len("Action"), *(len(row[1]) for row in shown))
    widths = [
        max(len(column), *(len(str(row[2][index])) for row in shown)) for index, column in enumerate(columns)
    ]
    header = "  ".join(f"{column:>{width}}" for column, width in zip(columns, widths, strict=True))
    out = [f"{'Record type':<{type_width}}  {'Action':<{action_width}}  {header}"]
    out.append("  ".join(["-" * type_width, "-" * action_width, *("-" * width for width in widths)]))
    for rtype, action, cells in shown:
        numbers = "  ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True))
        out.append(f"{rtype:<{type_width}}  {action:<{action_width}}  {numbers}")
    if len(rows) > len(shown):
        out.append(f"... and {len(rows) - len(shown)} more rows (see summary.json)")
    return out


def _cell(counts: dict[str, dict[str, int]], rtype: str, action: str) -> int:
    return counts.get(rtype, {}).get(action, 0)


def _records(title: str, changes: ChangeClass) -> list[Line]:
    """The first few records of a class, one line each (the HTML report and the .jsonl.gz have all)."""
    if not changes.total:
        return []
    shown = changes.samples[:TOP_RECORDS]
    lines: list[Line] = ["", f"{title} ({len(shown)} of {changes.total}):"]
    for sample in shown:
        record_id = sample.record_id if isinstance(sample.record_id, str) else json.dumps(sample.record_id)
        ignored = f"  [ignored by rule {sample.ignored_by}]" if sample.ignored_by is not None else ""
        kind: Line = ["  ", Untrusted(sample.record_type, 40), " ", Untrusted(sample.record_action, 20)]
        lines.append([*kind, " ", Untrusted(record_id, 120), ignored])
    return lines


def _rule_lines(summary: Summary) -> list[Line]:
    rules = summary.ignore_rules
    if rules is None or (not rules.expired and rules.error is None):
        return []
    lines: list[Line] = [""]
    if rules.error is not None:
        lines += [
            "Ignore rules NOT applied (the rules file is invalid):",
            ["  ", Untrusted(rules.error, 500)],
        ]
    if rules.expired:
        lines.append(f"Expired ignore rules (no longer applied; renew or remove them): {len(rules.expired)}")
        for rule in rules.expired[:TOP_RECORDS]:
            comment: list[str | Untrusted] = [" - ", Untrusted(rule.comment, 120)] if rule.comment else []
            expired = f", expired {rule.expires}"
            lines.append([f"  rule {rule.index}: ", Untrusted(rule.rule, 120), expired, *comment])
        if len(rules.expired) > TOP_RECORDS:
            lines.append(f"  ... and {len(rules.expired) - TOP_RECORDS} more (see summary.json)")
    return lines


def _error_lines(content: NoticeContent) -> list[Line]:
    error = content.summary.error
    assert error is not None
    # One line, however many DX sent: a line of DX's own could pass for ours (a forged approval link).
    message: Line = ["  ", Untrusted(error.message, _ERROR_MESSAGE_MAX)]
    lines: list[Line] = [_field("Error", error.type), "Message:", message]
    if error.diagnosis:
        lines.append("Diagnosis:")
        items = list(_flatten(error.diagnosis))
        for key, value in items[:_DIAGNOSIS_MAX_ITEMS]:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            lines.append(["  ", Untrusted(key, 80), ": ", Untrusted(text, _DIAGNOSIS_VALUE_MAX)])
        if len(items) > _DIAGNOSIS_MAX_ITEMS:
            lines.append(f"  ... and {len(items) - _DIAGNOSIS_MAX_ITEMS} more (see summary.json)")
    if content.hint is not None:
        lines += ["", "Hint:", *_wrapped(content.hint)]
    return lines


def _flatten(diagnosis: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``key: value`` pairs, one level of nesting spelled ``operation.retryCounter``."""
    for key, value in diagnosis.items():
        if isinstance(value, Mapping) and value:
            for inner, inner_value in value.items():
                yield f"{key}.{inner}", inner_value
        else:
            yield str(key), value


def _field(label: str, value: str) -> list[str | Untrusted]:
    return [f"{label + ':':<15} ", Untrusted(value, _FIELD_MAX, "-")]  # a long label still gets its space


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "-"


def _wrapped(value: str) -> list[str]:
    return textwrap.wrap(value, width=76, initial_indent="  ", subsequent_indent="  ")


def _remediation_lines(summary: Summary) -> list[Line]:
    record = summary.remediation
    if record is None:
        return []
    lines: list[Line] = [
        "",
        _field("Remediation", f"{record.verdict or 'FAILED'} (remediate: {record.mode})"),
    ]
    lines.append(_field("Before resync", f"{record.initial_effective_total} mismatches not ignored"))
    if record.remaining_total is not None:
        lines.append(_field("After resync", f"{record.remaining_total} mismatches not ignored"))
    if record.approved_by:
        lines.append(_field("Approved by", record.approved_by))
    lines.append(_field("Resync started", _time(record.resync_started_at)))
    ops = record.operations
    if ops is not None:
        text = f"{ops.succeeded} succeeded, {ops.failed} failed"
        if ops.failed_functions:
            text += " (" + ", ".join(ops.failed_functions[:5]) + ")"
        lines.append(_field("Sync operations", text))
    if record.initial_summary_key:
        lines.append(_field("Report before", record.initial_summary_key))
    return lines


_EMOJI = {
    CheckStatus.DRIFT: ":warning:",
    CheckStatus.IN_SYNC: ":white_check_mark:",
    CheckStatus.ERRORED: ":x:",
}


def _chat_draft(content: NoticeContent) -> ChatDraft:
    summary, link = content.summary, content.link
    host = Untrusted(summary.target_host or summary.subscriber_id, 120)
    emoji = _EMOJI[summary.status]
    lines: list[Line] = [
        [f"{emoji} *{summary.status}* on ", host, " (publisher ", Untrusted(summary.publisher, 120), ")"]
    ]
    if summary.status is CheckStatus.ERRORED:
        error = summary.error
        what, message = (error.type, error.message) if error else ("error", "-")
        lines.append(["*", Untrusted(what, 60), "*: ", Untrusted(message, 600)])
    else:
        ignored = f" ({summary.ignored_total} ignored by rules)" if summary.ignored_total else ""
        lines.append(f"*{summary.effective_total}* mismatches{ignored}")
        changes = summary.changes
        if changes is not None and changes.error is None and changes.previous_execution is not None:
            new, resolved = changes.effective_new, changes.effective_resolved
            lines.append(f"Since the previous check: +{new} new, -{resolved} resolved")
        age = summary.drift_age
        if age is not None and age.checks:
            lines.append(f"Drifting since {age_text(age)}")
        # The pairs the check counted (the table also has those with only RESOLVED records).
        counted = [row for row in content.table if row[1] in summary.counts.get(row[0], {})]
        for rtype, action, n in counted[:8]:
            lines.append(["• ", Untrusted(rtype, 40), " ", Untrusted(action, 20), f": {n}"])
    if link is not None and link.url:
        lines.append(f"Report (link works until {_time(link.expires)}): {link.url}")
    return ChatDraft(lines, _chat_steps(content))


def _chat_steps(content: NoticeContent) -> list[str]:
    link, steps = content.link, []
    if link is not None and link.overview_url:
        steps.append(f"Every subscriber of the publisher: {link.overview_url}")
    if content.steps:  # a DRIFT check: the terminal's and the HTML report's commands, not a paraphrase
        commands = {step.what: step.command for step in content.steps}
        remediate = next(cmd for what, cmd in commands.items() if what.startswith("remediate"))
        baseline = next(cmd for what, cmd in commands.items() if what.startswith("accept"))
        steps.append(f"Remediate (a person approves the resync from the notice): {remediate}")
        steps.append(f"Or accept as the baseline (after damdrift report pull): {baseline}")
    elif content.summary.status is CheckStatus.ERRORED:
        if content.hint is not None:  # HCL's advice, worded as the terminal and the report word it
            steps.append(content.hint)
        steps.append("The error and DX's diagnosis are in the report and in summary.json")
    if link is not None and link.console_url:
        steps.append(f"The files in the S3 console: {link.console_url}")
    return steps
