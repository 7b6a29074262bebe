"""Where the stack's DX credentials may go (issue 23 item 11): each secret to the DX endpoints (host
*and* port) the stack lists for it, and TLS trusted only through the stack's own CA bundle files.

Whoever may start an execution writes its input, ports, CA bundle path and secret names included; only
whoever deploys the stack writes these lists (template parameters DxHostname, DxPort, RingApiPort,
DamApiPort, AllowedDxHosts, ExtraCredentialsSecretArns, ExtraCredentialsSecretHosts). A login sends
the password to the Ring API's port and the session cookie to the DAM API's, so both must be listed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from damdrift.dx.connection import DxConnection

_DEFAULT_PORTS = {"https": 443, "http": 80}
_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass(frozen=True)
class Endpoint:
    """``host`` or ``host:port`` (``[v6]:port``) as listed; no port = the protocol's default port."""

    host: str
    port: int | None

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        text = text.strip().lower()
        host, sep, port = text.rpartition(":")
        bracketed = host.endswith("]") if sep else False
        if sep and port.isdigit() and (bracketed or ":" not in host):
            return cls(host_key(host), int(port))
        return cls(host_key(text), None)

    def admits(self, host: str, port: int | None, protocol: str) -> bool:
        default = _DEFAULT_PORTS[protocol]
        return self.host == host_key(host) and (self.port or default) == (port or default)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host + (f":{self.port}" if self.port else "")


def host_key(host: str) -> str:
    """A host name as compared: trimmed, lower case, an IPv6 literal without its brackets."""
    return host.strip().lower().removeprefix("[").removesuffix("]")


def api_ports(connection: DxConnection) -> list[tuple[str, int | None]]:
    """The (field, port) the credentials travel to: the Ring API (login), then the DAM API (cookie)."""
    ring = (
        ("ringAPIPort", connection.ring_api_port)
        if connection.ring_api_port
        else ("dxPort", connection.dx_port)
    )
    dam = (
        ("damAPIPort", connection.dam_api_port) if connection.dam_api_port else ("dxPort", connection.dx_port)
    )
    return [ring, dam]


def unlisted(connection: DxConnection, endpoints: frozenset[Endpoint], field: str) -> str | None:
    """What of ``connection`` the listed endpoints do not admit (``field.hostname: ...``), or None."""
    host = connection.hostname
    if not any(e.host == host_key(host) for e in endpoints):
        return f"{field}.hostname: {host!r}"
    for port_field, port in api_ports(connection):
        if not any(e.admits(host, port, connection.protocol) for e in endpoints):
            shown = port or _DEFAULT_PORTS[connection.protocol]
            return f"{field}.{port_field}: port {shown} of {host}"
    return None


def same_secret(named: str, listed: str) -> bool:
    """Whether an input's secret name or ARN is the listed secret (listed by full ARN, or by name)."""
    if named == listed:
        return True
    if not listed.startswith("arn:") or ":secret:" not in listed:
        return False
    partial = _ARN_SUFFIX.sub("", listed)
    return named in {partial, partial.split(":secret:", 1)[1]}


def own_ca_bundle(path: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``path``, symbolic links resolved, is one of ``allowed`` or a file below one of them."""
    real = os.path.realpath(path)
    for entry in allowed:
        root = os.path.realpath(entry)
        if real == root or real.startswith(root.rstrip("/") + "/"):
            return True
    return False
