"""How to reach a DX publisher: the settings dxclient's staging commands take, validated.

Field names mirror dxclient's options (``-dxProtocol -hostname -dxPort -damAPIPort -ringAPIPort
-damAPIVersion -ringAPIVersion``) in snake case; the execution input uses the camelCase aliases.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# A DNS name or an IPv4 literal (IPv6 literals are checked by ipaddress); no scheme, path, port, user
# info or whitespace. Always fullmatch: ``$`` alone would let a trailing newline through.
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_API_VERSION = re.compile(r"v[0-9]{1,3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DxConnection(BaseModel):
    """Where the publisher's Ring (auth) and DAM APIs live. Defaults are those of dxclient."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    protocol: Literal["https", "http"] = Field("https", alias="dxProtocol")
    hostname: str = Field(alias="hostname")
    dx_port: int | None = Field(None, alias="dxPort", ge=1, le=65535)
    ring_api_port: int | None = Field(None, alias="ringAPIPort", ge=1, le=65535)
    dam_api_port: int | None = Field(None, alias="damAPIPort", ge=1, le=65535)
    ring_api_version: str = Field("v1", alias="ringAPIVersion")
    dam_api_version: str = Field("v1", alias="damAPIVersion")
    verify_tls: bool = Field(True, alias="verifyTls")
    ca_bundle: str | None = Field(None, alias="caBundle")

    @field_validator("hostname")
    @classmethod
    def _plain_hostname(cls, value: str) -> str:
        if _HOSTNAME.fullmatch(value) or _is_ipv6_literal(value):
            return value
        raise ValueError(
            "expected a bare host name such as dx.example.com (no scheme, port, path or credentials)"
        )

    @field_validator("dx_port", "ring_api_port", "dam_api_port", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true would otherwise be port 1
            raise ValueError("expected a port number")
        return value

    @field_validator("ring_api_version", "dam_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.fullmatch(value):
            raise ValueError("expected an API version such as v1")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _bundle_path(cls, value: str | None) -> str | None:
        if value is not None and (not value or _CONTROL.search(value) or len(value) > 1024):
            raise ValueError("expected the path of a PEM file with the CA certificates to trust")
        return value

    @model_validator(mode="after")
    def _tls_options_agree(self) -> Self:
        if self.ca_bundle is not None and not self.verify_tls:
            raise ValueError("caBundle and verifyTls false contradict each other: verify with the bundle")
        if self.protocol == "http" and (self.ca_bundle is not None or not self.verify_tls):
            raise ValueError("verifyTls and caBundle are for dxProtocol https")
        return self

    def _origin(self, port: int | None) -> str:
        port = port or self.dx_port
        host = f"[{self.hostname.strip('[]')}]" if ":" in self.hostname else self.hostname
        return f"{self.protocol}://{host}" + (f":{port}" if port else "")

    @property
    def ring_base_url(self) -> str:
        """Base of the DX Core ("Ring") API, where ``/auth/login`` lives."""
        return f"{self._origin(self.ring_api_port)}/dx/api/core/{self.ring_api_version}"

    @property
    def dam_base_url(self) -> str:
        """Base of the DAM API, where ``/staging/*`` and ``/operations`` live."""
        return f"{self._origin(self.dam_api_port)}/dx/api/dam/{self.dam_api_version}"

    @property
    def publisher_id(self) -> str:
        """The name reports, baselines and history are filed under: the host name lower-cased (DNS
        names are case-insensitive), plus the DAM API's port when it is not the protocol's default, so
        ``--dx-port 443`` and no port are one publisher, not two histories."""
        port = self.dam_api_port or self.dx_port
        default = 443 if self.protocol == "https" else 80
        return self.hostname.lower() + (f"_{port}" if port and port != default else "")


def _is_ipv6_literal(value: str) -> bool:
    """``::1`` or ``[::1]``, a valid IPv6 address (an IPv4 address with a port is not one)."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if ":" not in bare or "%" in bare:  # a zone id (fe80::1%eth0) has no place in a URL here
        return False
    try:
        ipaddress.IPv6Address(bare)
    except ValueError:
        return False
    return True


class DxCredentials(BaseModel):
    """A DX administrator's user name and password. The password never prints (``SecretStr``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = Field(min_length=1)
    password: SecretStr

    @field_validator("password")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("expected a non-empty password")
        return value
