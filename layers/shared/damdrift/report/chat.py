"""The notice for chat: AWS Chatbot's (Amazon Q Developer in chat applications) custom notification.

Published to the optional chat topic (``CHAT_TOPIC_ARN``) beside every drift and ops notice the check
sends; a Chatbot Slack or Microsoft Teams channel subscribed to that topic shows it. The event schema is
AWS's documented one (adminguide, "Custom notifications", event schema): ``version`` "1.0", ``source``
"custom", ``content`` (``textType`` "client-markdown", ``title``, ``description``, ``nextSteps``,
``keywords``) and ``metadata`` (``threadId``, ``summary``, ``eventType``, ``relatedResources``,
``additionalContext``). :class:`ChatEvent` is that schema (unknown fields refused), so a message that
does not fit it cannot be built.

Chatbot renders the title, the description, the next steps and the keywords as the channel's own markdown
(Slack mrkdwn or Teams markdown). Every DX value in them, the title (the SNS subject, with the target
host) included, goes through ``notice_text.chat_text``: one line (no control or bidi characters,
capped), Slack's control characters ``& < >`` as ``&amp; &lt; &gt;`` and Markdown's formatting characters
backslash-escaped, so a host name such as ``<https://evil.example|Approve the resync>`` can neither
format the message, mention a channel, nor forge a link. Metadata (thread id, context) is one line.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from damdrift.models.summary import CheckStatus, Summary, counts_table
from damdrift.notice_text import chat_text, one_line, slack_escaped
from damdrift.observability import logger
from damdrift.report.age import age_text
from damdrift.report.next_steps import error_hint, next_steps
from damdrift.report.notification import ReportLink, subject_parts

#: Chat posts stay short: the report and the overview hold the rest.
DESCRIPTION_MAX = 3000
_EMOJI = {
    CheckStatus.DRIFT: ":warning:",
    CheckStatus.IN_SYNC: ":white_check_mark:",
    CheckStatus.ERRORED: ":x:",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatContent(_Strict):
    textType: Literal["client-markdown"] | None = None
    title: str | None = None
    description: str = Field(min_length=1)
    nextSteps: list[str] | None = None
    keywords: list[str] | None = None


class ChatMetadata(_Strict):
    threadId: str | None = None
    summary: str | None = None
    eventType: str | None = None
    relatedResources: list[str] | None = None
    additionalContext: dict[str, str] | None = None


class ChatEvent(_Strict):
    """AWS Chatbot's custom notification event (the documented schema)."""

    version: Literal["1.0"] = "1.0"
    source: Literal["custom"] = "custom"
    id: str | None = None
    content: ChatContent
    metadata: ChatMetadata | None = None

    def message(self) -> str:
        """The SNS message body: the event as JSON."""
        return self.model_dump_json(exclude_none=True)


def chat_event(summary: Summary, subject: str, link: ReportLink | None, location: str) -> ChatEvent:
    """The chat notice for a finished check (DRIFT, IN_SYNC, ERRORED, or a remediation's verdict)."""
    host = chat_text(summary.target_host or summary.subscriber_id, 120)
    publisher = chat_text(summary.publisher, 120)
    lines = [f"{_EMOJI[summary.status]} *{summary.status}* on {host} (publisher {publisher})"]
    if summary.status is CheckStatus.ERRORED:
        error = summary.error
        what, message = (error.type, error.message) if error else ("error", "-")
        lines.append(f"*{chat_text(what, 60)}*: {chat_text(message, 600)}")
    else:
        ignored = f" ({summary.ignored_total} ignored by rules)" if summary.ignored_total else ""
        lines.append(f"*{summary.effective_total}* mismatches{ignored}")
        changes = summary.changes
        if changes is not None and changes.error is None and changes.previous_execution is not None:
            lines.append(
                f"Since the previous check: +{changes.effective_new} new, "
                f"-{changes.effective_resolved} resolved"
            )
        age = summary.drift_age
        if age is not None and age.checks:
            lines.append(f"Drifting since {age_text(age)}")
        for rtype, action, n in counts_table(summary.counts)[:8]:
            lines.append(f"• {chat_text(rtype, 40)} {chat_text(action, 20)}: {n}")
    if link is not None and link.url:
        lines.append(f"Report (link works until {_when(link)}): {link.url}")
    description = "\n".join(lines)[:DESCRIPTION_MAX]
    return ChatEvent(
        content=ChatContent(
            textType="client-markdown",
            title=_title(summary),
            description=description,
            nextSteps=_next_steps(summary, link, location) or None,
            keywords=[
                str(summary.status),
                chat_text(summary.publisher, 80) or "-",
                chat_text(summary.target_host or summary.subscriber_id, 80) or "-",
            ],
        ),
        metadata=ChatMetadata(
            threadId=one_line(f"dam-drift/{summary.publisher}/{summary.subscriber_id}", 200),
            summary=slack_escaped(one_line(subject, 200)),
            eventType=f"dam-drift {summary.status}",
            relatedResources=[location] if location else None,
            additionalContext={
                "execution": one_line(summary.execution, 200),
                "subscriberId": one_line(summary.subscriber_id, 200),
            },
        ),
    )


def _title(summary: Summary) -> str:
    """The e-mail's subject, its DX names as inert chat text (Chatbot renders the title as markdown)."""
    parts = subject_parts(summary)
    publisher, subscriber = chat_text(parts.publisher, 120), chat_text(parts.subscriber, 120)
    return f"{parts.tag} {publisher} -> {subscriber}{slack_escaped(parts.tail)}"


def _next_steps(summary: Summary, link: ReportLink | None, location: str) -> list[str]:
    steps: list[str] = []
    if link is not None and link.overview_url:
        steps.append(f"Every subscriber of the publisher: {link.overview_url}")
    if summary.status is CheckStatus.DRIFT:
        run = location.removeprefix("s3://").split("/", 1)[-1].rstrip("/") or None
        # The terminal's and the HTML report's commands (protocol and port included), not a paraphrase.
        commands = {step.what: step.command for step in next_steps(summary, check_folder=run)}
        remediate = next(cmd for what, cmd in commands.items() if what.startswith("remediate"))
        baseline = next(cmd for what, cmd in commands.items() if what.startswith("accept"))
        steps.append(f"Remediate (a person approves the resync from the notice): {remediate}")
        steps.append(f"Or accept as the baseline (after damdrift report pull): {baseline}")
    elif summary.status is CheckStatus.ERRORED:
        hint = error_hint(summary.error)  # HCL's advice, worded as the terminal and the report word it
        if hint is not None:
            steps.append(hint)
        steps.append("The error and DX's diagnosis are in the report and in summary.json")
    if link is not None and link.console_url:
        steps.append(f"The files in the S3 console: {link.console_url}")
    return steps


def _when(link: ReportLink) -> str:
    return link.expires.isoformat().replace("+00:00", "Z") if link.expires else "-"


def to_json(event: ChatEvent) -> str:
    return json.dumps(json.loads(event.message()), indent=2, ensure_ascii=False)


@cache
def _sns() -> Any:
    import boto3

    return boto3.client("sns")


def publish_chat(topic_arn: str, event: ChatEvent) -> bool:
    """Publishes ``event`` to the chat topic; False (logged) on failure: the e-mail notice and the report
    do not depend on chat."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _sns().publish(TopicArn=topic_arn, Message=event.message())
    except (BotoCoreError, ClientError) as exc:
        logger.warning("the chat notice was not published", extra={"error": str(exc)[:300]})
        return False
    return True
