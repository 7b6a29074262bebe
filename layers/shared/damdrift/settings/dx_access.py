"""The settings of a function that talks to DX: which hosts the stack's credentials may go to, the
default credentials secret, and how the client talks (timeouts, retries, caps, the trigger requests)."""

from __future__ import annotations

from pydantic import Field, field_validator

from damdrift.dx.connection import DxConnection
from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, RESYNC_DEFAULT, TriggerRequest
from damdrift.dx.tuning import ClientTuning
from damdrift.errors import InvalidInput
from damdrift.settings.base import FunctionSettings


class DxAccessSettings(FunctionSettings):
    credentials_secret: str | None = Field(None, alias="CREDENTIALS_SECRET")
    #: The DX hosts the stack's credentials are for (comma separated): the publisher (template parameter
    #: DxHostname) and the subscriber DAMs (AllowedDxHosts). An input naming another host is refused
    #: before any request. ``*`` allows any host: only the local CLI sets it (its user typed the password
    #: for the host they named); the template's parameters cannot hold it. Unset: no host is allowed.
    allowed_dx_hosts: frozenset[str] = Field(frozenset(), alias="ALLOWED_DX_HOSTS")
    #: Whether an input may send the credentials unprotected (dxProtocol http, verifyTls false).
    allow_insecure_dx: bool = Field(False, alias="ALLOW_INSECURE_DX")
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
    #: The calls that start DX's jobs, when a DX differs from the default (damdrift.dx.trigger).
    dx_find_mismatch_request: TriggerRequest = Field(FIND_MISMATCH_DEFAULT, alias="DX_FIND_MISMATCH_REQUEST")
    dx_resync_request: TriggerRequest = Field(RESYNC_DEFAULT, alias="DX_RESYNC_REQUEST")

    @field_validator("allowed_dx_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(_host_key(host) for host in value.split(",") if host.strip())
        return value

    @field_validator("dx_find_mismatch_request", "dx_resync_request", mode="before")
    @classmethod
    def _trigger_spec(cls, value: object) -> object:
        """``"METHOD /path {json body}"`` (damdrift.dx.trigger); a malformed one fails the cold start."""
        return TriggerRequest.parse(value, "the request") if isinstance(value, str) else value

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
            find_mismatch_request=self.dx_find_mismatch_request,
            resync_request=self.dx_resync_request,
        )


def _host_key(host: str) -> str:
    """A host name as compared: trimmed, lower case, an IPv6 literal without its brackets."""
    return host.strip().lower().removeprefix("[").removesuffix("]")
