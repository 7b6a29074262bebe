"""The settings of a function that tells people: the topics, and the links a drift notice carries."""

from __future__ import annotations

from pydantic import Field

from damdrift.settings.base import FunctionSettings


class OpsTopicSettings(FunctionSettings):
    #: Where errors (and the doctor's reports) go; unset: they are stored and logged, nobody is told.
    ops_topic_arn: str | None = Field(None, alias="OPS_TOPIC_ARN")


class NoticeSettings(OpsTopicSettings):
    drift_topic_arn: str | None = Field(None, alias="DRIFT_TOPIC_ARN")
    #: The optional chat topic: every notice is also published there in AWS Chatbot's format.
    chat_topic_arn: str | None = Field(None, alias="CHAT_TOPIC_ARN")
    #: How long the notice's links (report, overview) work: the report viewer refuses them afterwards.
    report_link_expiry_seconds: int = Field(
        7 * 24 * 3600,
        alias="REPORT_LINK_EXPIRY_SECONDS",
        ge=60,
        le=366 * 24 * 3600,  # links.MAX_LINK_SECONDS
    )
    #: The report viewer's function URL; absent: notices carry no viewer links (the S3 location stays).
    report_viewer_url: str | None = Field(None, alias="REPORT_VIEWER_URL", max_length=512)
    #: Or the report viewer function, whose URL is asked for once per cold start (the deployed stack).
    report_viewer_function: str | None = Field(None, alias="REPORT_VIEWER_FUNCTION", max_length=256)
    #: The Secrets Manager secret holding the links' HMAC key (damdrift.viewer.keys).
    report_viewer_key_secret: str | None = Field(None, alias="REPORT_VIEWER_KEY_SECRET", max_length=2048)
    #: Whether notices link to the report's folder in the S3 console (off for local runs: no console).
    report_console_links: bool = Field(True, alias="REPORT_CONSOLE_LINKS")
    #: The console link's region (Lambda sets AWS_REGION).
    aws_region: str | None = Field(None, alias="AWS_REGION")
