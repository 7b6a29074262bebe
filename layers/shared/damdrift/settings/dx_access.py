"""The settings of a function that talks to DX: where each of the stack's credentials secrets may go
(damdrift.dx.binding), the default secret, and how the client talks (timeouts, retries, caps, the
trigger requests)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from damdrift.dx.binding import Endpoint, own_ca_bundle, same_secret, unlisted
from damdrift.dx.connection import DxConnection
from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, RESYNC_DEFAULT, TriggerRequest
from damdrift.dx.tuning import ClientTuning
from damdrift.errors import InvalidInput
from damdrift.settings.base import FunctionSettings


class DxAccessSettings(FunctionSettings):
    credentials_secret: str | None = Field(None, alias="CREDENTIALS_SECRET")
    #: The DX endpoints the stack's secret may go to (comma separated ``host`` or ``host:port``; a host
    #: alone = the protocol's default port): the publisher's (template parameters DxHostname, DxPort,
    #: RingApiPort, DamApiPort) and the subscriber DAMs' (AllowedDxHosts). An input naming another host
    #: or port is refused before any request. ``*`` allows any host and secret: only the local CLI sets it
    #: (its user typed the password for the host they named); the template's parameters cannot hold it.
    #: Unset: nothing is allowed.
    allowed_dx_hosts: frozenset[str] = Field(frozenset(), alias="ALLOWED_DX_HOSTS")
    #: Other secrets an input may name (ARNs, parameter ExtraCredentialsSecretArns), and, in the same
    #: order, the endpoints each may go to (``host[:port]`` joined by ``+``; ExtraCredentialsSecretHosts).
    extra_credentials_secrets: tuple[str, ...] = Field((), alias="EXTRA_CREDENTIALS_SECRETS")
    extra_credentials_secret_hosts: tuple[str, ...] = Field((), alias="EXTRA_CREDENTIALS_SECRET_HOSTS")
    #: The CA bundle files an input's ``caBundle`` may name: these paths, or files below them (the layer's
    #: ``/opt/python/ca-bundles`` in the template). Unset: an input may name none.
    dx_ca_bundles: tuple[str, ...] = Field((), alias="DX_CA_BUNDLES")
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
            return frozenset(host.strip().lower() for host in value.split(",") if host.strip())
        return value

    @field_validator(
        "extra_credentials_secrets", "extra_credentials_secret_hosts", "dx_ca_bundles", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _secrets_pair_with_hosts(self) -> Self:
        secrets, hosts = self.extra_credentials_secrets, self.extra_credentials_secret_hosts
        if len(secrets) != len(hosts):
            raise ValueError(
                f"EXTRA_CREDENTIALS_SECRET_HOSTS needs one entry per secret of EXTRA_CREDENTIALS_SECRETS "
                f"(stack parameters ExtraCredentialsSecretHosts, ExtraCredentialsSecretArns): {len(hosts)} "
                f"for {len(secrets)}"
            )
        return self

    @field_validator("dx_find_mismatch_request", "dx_resync_request", mode="before")
    @classmethod
    def _trigger_spec(cls, value: object) -> object:
        """``"METHOD /path {json body}"`` (damdrift.dx.trigger); a malformed one fails the cold start."""
        return TriggerRequest.parse(value, "the request") if isinstance(value, str) else value

    def permit(self, connection: DxConnection, field: str, secret: str) -> None:
        """Refuses (``InvalidInput``, before any request or secret read) sending ``secret`` to a DX host or
        port the stack does not list for it, an input's CA bundle that is not one of the stack's files, or
        a connection that would carry the credentials unprotected when the stack does not allow that."""
        if "*" not in self.allowed_dx_hosts:
            endpoints, whose, source = self._endpoints_for(secret, field)
            refused = unlisted(connection, endpoints, field)
            if refused is not None:
                allowed = ", ".join(sorted(str(e) for e in endpoints)) or "none"
                noun = "a DX host" if refused.startswith(f"{field}.hostname") else "one"
                raise InvalidInput(
                    f"invalid execution input: {refused} is not {noun} {whose} for "
                    f"(allowed: {allowed}; set by {source})"
                )
        bundle = connection.ca_bundle
        if bundle is not None and not own_ca_bundle(bundle, self.dx_ca_bundles):
            raise InvalidInput(
                f"invalid execution input: {field}.caBundle: {bundle[:120]!r} is not one of this stack's CA "
                f"bundles (files under: {', '.join(self.dx_ca_bundles) or 'none'}; docs/security.md)"
            )
        if not self.allow_insecure_dx and (connection.protocol == "http" or not connection.verify_tls):
            what = "dxProtocol: http" if connection.protocol == "http" else "verifyTls: false"
            raise InvalidInput(
                f"invalid execution input: {field}: {what} would send the DX password unprotected; the "
                "stack allows it only when deployed with AllowInsecureDx=true"
            )

    def _endpoints_for(self, secret: str, field: str) -> tuple[frozenset[Endpoint], str, str]:
        """Where ``secret`` may go, whose it is and which stack parameters say so; refuses an unlisted one."""
        if self.credentials_secret and same_secret(secret, self.credentials_secret):
            endpoints = frozenset(Endpoint.parse(entry) for entry in self.allowed_dx_hosts)
            source = "the stack parameters DxHostname, DxPort, RingApiPort, DamApiPort and AllowedDxHosts"
            return endpoints, "this stack's credentials are", source
        pairs = zip(self.extra_credentials_secrets, self.extra_credentials_secret_hosts, strict=True)
        for arn, hosts in pairs:
            if same_secret(secret, arn):
                endpoints = frozenset(Endpoint.parse(entry) for entry in hosts.split("+") if entry.strip())
                source = "the stack parameter ExtraCredentialsSecretHosts"
                return endpoints, f"the secret {secret!r} is", source
        raise InvalidInput(
            f"invalid execution input: {field}: the credentials secret {secret[:200]!r} is not one this "
            "stack may use (its own secret, or one listed in the stack parameter ExtraCredentialsSecretArns)"
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
