"""How to reach a DX publisher: the settings dxclient's staging commands take, validated.

Field names mirror dxclient's options (``-dxProtocol -hostname -dxPort -damAPIPort -ringAPIPort
-damAPIVersion -ringAPIVersion``) in snake case; the execution input uses the camelCase aliases.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# A DNS name or an IPv4/IPv6 literal; no scheme, path, port, user info or whitespace.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
_IPV6 = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?$")
_API_VERSION = re.compile(r"^v[0-9]+$")


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
        if _HOSTNAME.match(value) or (":" in value and _IPV6.match(value)):
            return value
        raise ValueError(
            "expected a bare host name such as dx.example.com (no scheme, port, path or credentials)"
        )

    @field_validator("ring_api_version", "dam_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.match(value):
            raise ValueError("expected an API version such as v1")
        return value

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
        """The name reports are filed under: host, plus the port when it is not the default."""
        port = self.dam_api_port or self.dx_port
        return self.hostname + (f"_{port}" if port else "")


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
