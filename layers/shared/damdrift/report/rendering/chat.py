"""AWS Chatbot's (Amazon Q Developer in chat applications) custom notification, and its publishing.

Published to the optional chat topic (``CHAT_TOPIC_ARN``) beside every drift and ops notice the check
sends; a Chatbot Slack or Microsoft Teams channel subscribed to that topic shows it. The event schema is
AWS's documented one (adminguide, "Custom notifications", event schema): ``version`` "1.0", ``source``
"custom", ``content`` (``textType`` "client-markdown", ``title``, ``description``, ``nextSteps``,
``keywords``) and ``metadata`` (``threadId``, ``summary``, ``eventType``, ``relatedResources``,
``additionalContext``). :class:`ChatEvent` is that schema (unknown fields refused), so a message that
does not fit it cannot be built. A subscriber's chat message is rendered with its e-mail
(:mod:`damdrift.report.rendering.notification`), the run's with the run's notice
(:mod:`damdrift.fleet.digest`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from damdrift.observability import logger

#: Chat posts stay short: the report and the overview hold the rest.
DESCRIPTION_MAX = 3000


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
