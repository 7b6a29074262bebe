"""One login before a check starts, so a wrong host, port, protocol or password fails in seconds.

The state machine retries a failing login for minutes (rightly: a DX ingress restarting is worth
waiting for), and by then the cause is a class name. Here the first attempt is made once, with short
timeouts, and a failure is classified from what the network said: nothing listening, a name that does
not resolve, a server that answers plain http to a TLS hello (OpenSSL's ``WRONG_VERSION_NUMBER``), an
untrusted certificate, or DX refusing the credentials. The DX client keeps its own retries and
messages; this module only looks at the socket and TLS layers it does not expose.
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any

from pydantic import ValidationError
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.dx.models import Subscriber
from damdrift.errors import AuthenticationError, DxError
from damdrift_cli.exit_status import CommandFailed

#: Seconds for a TCP connect and a TLS handshake; DX's login answers well within READ_TIMEOUT.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: the chain verified, the
#: name (or IP address) did not.
_NAME_MISMATCH = frozenset({62, 64})

_OPTION = {
    "hostname": "--hostname",
    "dxProtocol": "--dx-protocol",
    "dxPort": "--dx-port",
    "ringAPIPort": "--ring-api-port",
    "damAPIPort": "--dam-api-port",
    "ringAPIVersion": "--ring-api-version",
    "damAPIVersion": "--dam-api-version",
    "caBundle": "--ca-bundle",
    "verifyTls": "--insecure",
}


def connection_of(publisher: dict[str, Any]) -> DxConnection:
    """The publisher options validated as the state machine will, the error naming the option."""
    try:
        return DxConnection.model_validate(publisher)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        value = publisher.get(field)
        shown = f" {value!r}" if field and field != "caBundle" and value is not None else ""
        message = first["msg"].removeprefix("Value error, ")
        if field not in _OPTION:  # a rule across fields: named as the execution input spells them
            for name, option in (("verifyTls false", "--insecure"), *_OPTION.items()):
                message = re.sub(rf"\b{name}\b", option, message)
            raise CommandFailed(message) from None
        raise CommandFailed(f"{_OPTION[field]}{shown}: {message}") from None


def login_once(publisher: dict[str, Any], username: str, password: str) -> list[Subscriber]:
    """Logs in once (no retries), lists the subscribers, logs out; CommandFailed names what went wrong."""
    connection = connection_of(publisher)
    for host, port in _origins(connection):
        _probe(connection, host, port)
    client = DxClient(
        connection,
        DxCredentials.model_validate({"username": username, "password": password}),
        ClientTuning(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries=0),
    )
    try:
        client.login()
    except AuthenticationError as exc:
        raise CommandFailed(f"{exc.message}: check --dx-username and the password") from None
    except DxError as exc:
        host, port = _origins(connection)[0]
        if connection.protocol == "http" and _speaks_tls(host, port):
            raise CommandFailed(f"{host}:{port} answers https: use --dx-protocol https") from None
        raise CommandFailed(f"the first login failed: {exc.message}") from None
    try:
        return client.list_subscribers()
    except DxError as exc:  # logged in: what is wrong is DX's list (a 403, an id that is a path, ...)
        raise CommandFailed(f"listing the subscribers failed: {exc.message}") from None
    finally:
        client.logout()


def _origins(connection: DxConnection) -> list[tuple[str, int]]:
    default = 443 if connection.protocol == "https" else 80
    host = connection.hostname.strip("[]")
    ports = [connection.ring_api_port or connection.dx_port or default]
    ports += [p for p in [connection.dam_api_port or connection.dx_port or default] if p not in ports]
    return [(host, port) for port in ports]


def _probe(connection: DxConnection, host: str, port: int) -> None:
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except socket.gaierror:
        raise CommandFailed(f"the host name {host!r} does not resolve: check --hostname") from None
    except ConnectionRefusedError:
        raise CommandFailed(f"nothing listens on {where}: check --hostname and --dx-port") from None
    except TimeoutError:
        raise CommandFailed(
            f"{where} did not answer within {CONNECT_TIMEOUT:g} s: check --hostname, --dx-port and firewalls"
        ) from None
    except OSError as exc:
        raise CommandFailed(f"cannot connect to {where}: {exc.strerror or exc}") from None
    with sock:
        if connection.protocol != "https":
            return
        if connection.verify_tls:
            context = ssl.create_default_context(cafile=connection.ca_bundle or DEFAULT_CA_BUNDLE_PATH)
        else:
            context = _unverified()
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code in _NAME_MISMATCH:
                raise CommandFailed(
                    f"the TLS certificate of {where} is trusted but not issued for the name {host!r} "
                    f"({exc.verify_message}): give --hostname as the certificate names the host"
                ) from None
            raise CommandFailed(
                f"the TLS certificate of {where} is not trusted ({exc.verify_message}): "
                "give its CA with --ca-bundle"
            ) from None
        except ssl.SSLError as exc:
            if _plain_http(exc):
                raise CommandFailed(f"{where} answers plain http: use --dx-protocol http") from None
            raise CommandFailed(f"TLS with {where} failed ({exc.reason or exc})") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CommandFailed(f"{where} ended the TLS handshake ({reason})") from None


def _plain_http(exc: ssl.SSLError) -> bool:
    """OpenSSL's answer to a TLS hello that got a plain-text reply (``HTTP/1.1 400 ...``)."""
    return exc.reason in {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"} or (
        "wrong version number" in str(exc)
    )


def _speaks_tls(host: str, port: int) -> bool:
    """Whether the port completes a TLS handshake (certificate not checked: this only classifies)."""
    try:
        with (
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock,
            _unverified().wrap_socket(sock, server_hostname=host),
        ):
            return True
    except OSError:
        return False


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nosec B502 - classifies a failed login; sends nothing over it
    return context
