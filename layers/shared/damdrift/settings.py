"""Every function's settings, read from its environment once, at cold start.

A missing or malformed variable fails the cold start with a ``ConfigurationError`` that names it, so a
bad deployment shows up on the first invocation instead of halfway through a check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from damdrift.dx.client import ClientTuning
from damdrift.dx.connection import DxConnection
from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, RESYNC_DEFAULT, TriggerRequest
from damdrift.errors import ConfigurationError, InvalidInput

#: Where the ignore rules file is looked for (damdrift.report.ignore) unless IGNORE_RULES_KEY says. Kept
#: here, not beside the rules' models, so that a function's settings do not import those models.
DEFAULT_RULES_KEY = "config/ignore-rules.json"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    report_bucket: str = Field(alias="REPORT_BUCKET", min_length=3)
    drift_topic_arn: str | None = Field(None, alias="DRIFT_TOPIC_ARN")
    ops_topic_arn: str | None = Field(None, alias="OPS_TOPIC_ARN")
    credentials_secret: str | None = Field(None, alias="CREDENTIALS_SECRET")
    #: The DX hosts the stack's credentials are for (comma separated): the publisher (template parameter
    #: DxHostname) and the subscriber DAMs (AllowedDxHosts). An input naming another host is refused
    #: before any request. ``*`` allows any host: only the local CLI sets it (its user typed the password
    #: for the host they named); the template's parameters cannot hold it. Unset: no host is allowed.
    allowed_dx_hosts: frozenset[str] = Field(frozenset(), alias="ALLOWED_DX_HOSTS")
    #: Whether an input may send the credentials unprotected (dxProtocol http, verifyTls false).
    allow_insecure_dx: bool = Field(False, alias="ALLOW_INSECURE_DX")
    work_dir: Path = Field(Path("/tmp"), alias="WORK_DIR")  # noqa: S108 - Lambda's /tmp  # nosec B108
    dx_page_size: int = Field(1000, alias="DX_PAGE_SIZE", ge=1, le=100_000)
    dx_connect_timeout: float = Field(5.0, alias="DX_CONNECT_TIMEOUT", gt=0)
    dx_read_timeout: float = Field(60.0, alias="DX_READ_TIMEOUT", gt=0)
    dx_retries: int = Field(4, alias="DX_RETRIES", ge=0, le=10)
    dx_backoff_factor: float = Field(0.5, alias="DX_BACKOFF_FACTOR", ge=0)
    #: Most bytes one DX response may have (a 1,000-record page measures ~0.27 MiB); more is refused.
    dx_max_response_bytes: int = Field(
        8 * 1024 * 1024, alias="DX_MAX_RESPONSE_BYTES", ge=64 * 1024, le=256 * 1024 * 1024
    )
    #: Most seconds one DX request may take, first byte sent to last byte read (a drip-fed body fails).
    dx_request_deadline: float = Field(120.0, alias="DX_REQUEST_DEADLINE", gt=0, le=900)
    #: Longest Retry-After the client honours (urllib3 alone would wait up to 6 hours).
    dx_retry_after_max: int = Field(10, alias="DX_RETRY_AFTER_MAX", ge=0, le=60)
    #: The fetch step stores a checkpoint part every this many records (see damdrift.report.ingest).
    report_part_records: int = Field(250_000, alias="REPORT_PART_RECORDS", ge=1, le=10_000_000)
    #: Most records one report may have: past it the download stops (ERRORED, the records kept as partial),
    #: so a DX that pages forever cannot keep a check running.
    report_max_records: int = Field(5_000_000, alias="REPORT_MAX_RECORDS", ge=1, le=1_000_000_000)
    dx_find_mismatch_request: str | None = Field(None, alias="DX_FIND_MISMATCH_REQUEST")
    dx_resync_request: str | None = Field(None, alias="DX_RESYNC_REQUEST")
    #: The ignore rules file in the report bucket (damdrift.report.ignore); absent = no rules.
    ignore_rules_key: str = Field(DEFAULT_RULES_KEY, alias="IGNORE_RULES_KEY", min_length=1, max_length=1024)
    #: How long the notice's links (report, overview) work: the report viewer refuses them afterwards.
    report_link_expiry_seconds: int = Field(
        7 * 24 * 3600, alias="REPORT_LINK_EXPIRY_SECONDS", ge=60, le=366 * 24 * 3600
    )
    #: The report viewer's function URL; absent: notices carry no viewer links (the S3 location stays).
    report_viewer_url: str | None = Field(None, alias="REPORT_VIEWER_URL", max_length=512)
    #: Or the report viewer function, whose URL is asked for once per cold start (the deployed stack).
    report_viewer_function: str | None = Field(None, alias="REPORT_VIEWER_FUNCTION", max_length=256)
    #: The Secrets Manager secret holding the links' HMAC key (damdrift.viewer.keys).
    report_viewer_key_secret: str | None = Field(None, alias="REPORT_VIEWER_KEY_SECRET", max_length=2048)
    #: The optional chat topic: every notice is also published there in AWS Chatbot's format.
    chat_topic_arn: str | None = Field(None, alias="CHAT_TOPIC_ARN")
    #: Whether notices link to the report's folder in the S3 console (off for local runs: no console).
    report_console_links: bool = Field(True, alias="REPORT_CONSOLE_LINKS")
    aws_region: str | None = Field(None, alias="AWS_REGION")
    #: Checks of the subscriber the HTML report's trend shows (the newest, this one included).
    report_trend_runs: int = Field(30, alias="REPORT_TREND_RUNS", ge=0, le=366)

    @field_validator(
        "drift_topic_arn",
        "ops_topic_arn",
        "credentials_secret",
        "dx_find_mismatch_request",
        "dx_resync_request",
        "report_viewer_url",
        "report_viewer_function",
        "chat_topic_arn",
        "report_viewer_key_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("allowed_dx_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(_host_key(host) for host in value.split(",") if host.strip())
        return value

    def permit(self, connection: DxConnection, field: str) -> None:
        """Refuses (``InvalidInput``, before any request) a DX the stack's credentials are not for, or a
        connection that would carry them unprotected when the stack does not allow that."""
        allowed = self.allowed_dx_hosts
        if "*" not in allowed and _host_key(connection.hostname) not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise InvalidInput(
                f"invalid execution input: {field}.hostname: {connection.hostname!r} is not a DX host this "
                f"stack's credentials are for (allowed: {listed}; set by the stack parameters DxHostname "
                "and AllowedDxHosts)"
            )
        if not self.allow_insecure_dx and (connection.protocol == "http" or not connection.verify_tls):
            what = "dxProtocol: http" if connection.protocol == "http" else "verifyTls: false"
            raise InvalidInput(
                f"invalid execution input: {field}: {what} would send the DX password unprotected; the "
                "stack allows it only when deployed with AllowInsecureDx=true"
            )

    @field_validator("report_link_expiry_seconds", "report_console_links", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object, info: ValidationInfo) -> object:
        """Set on one function only; blank (a local run clears other functions' variables) = default."""
        if value == "":
            assert info.field_name is not None
            return cls.model_fields[info.field_name].default
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        try:
            settings = cls.model_validate(env)
            settings.client_tuning()  # validates the trigger overrides too
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise ConfigurationError(f"invalid function environment: {problems}") from None
        except ValueError as exc:
            raise ConfigurationError(f"invalid function environment: {exc}") from None
        return settings

    def client_tuning(self) -> ClientTuning:
        return ClientTuning(
            connect_timeout=self.dx_connect_timeout,
            read_timeout=self.dx_read_timeout,
            retries=self.dx_retries,
            backoff_factor=self.dx_backoff_factor,
            page_size=self.dx_page_size,
            max_response_bytes=self.dx_max_response_bytes,
            request_deadline=self.dx_request_deadline,
            retry_after_max=self.dx_retry_after_max,
            find_mismatch_request=(
                TriggerRequest.parse(self.dx_find_mismatch_request, "DX_FIND_MISMATCH_REQUEST")
                if self.dx_find_mismatch_request
                else FIND_MISMATCH_DEFAULT
            ),
            resync_request=(
                TriggerRequest.parse(self.dx_resync_request, "DX_RESYNC_REQUEST")
                if self.dx_resync_request
                else RESYNC_DEFAULT
            ),
        )


def _host_key(host: str) -> str:
    """A host name as compared: trimmed, lower case, an IPv6 literal without its brackets."""
    return host.strip().lower().removeprefix("[").removesuffix("]")
