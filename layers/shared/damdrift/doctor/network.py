"""Below HTTP: can the host be reached, does its TLS hold, does the port speak the protocol we were told?

These checks send no credentials and no HTTP request that names a path of DX: a TCP connect, a TLS
handshake (https), or a ``HEAD /`` sniff (http), so their failures can name the real cause, which the
HTTP client's retries and wrapping hide (a DNS failure, a refused port, an unknown CA, a port that
speaks the other protocol).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any

from damdrift.doctor.models import Check, Status
from damdrift.dx.connection import DxConnection

#: A certificate expiring sooner than this is a warning.
CERT_WARN_DAYS = 21
_PLAIN_HTTP_HINTS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG")


def origins(connection: DxConnection) -> list[tuple[str, int]]:
    """The distinct host:port pairs the Ring and DAM APIs live on."""
    default = 443 if connection.protocol == "https" else 80
    host = connection.hostname.strip("[]")
    ports = [
        connection.ring_api_port or connection.dx_port or default,
        connection.dam_api_port or connection.dx_port or default,
    ]
    return [(host, port) for port in dict.fromkeys(ports)]


def network_checks(connection: DxConnection, timeout: float) -> list[Check]:
    checks: list[Check] = []
    for host, port in origins(connection):
        reach, sock = _connect(host, port, timeout)
        checks.append(reach)
        if sock is None:
            skipped = "NOT CHECKED", f"{host}:{port} is not reachable"
            checks.append(Check(id=f"tls {host}:{port}", status=Status.NOT_CHECKED, evidence=skipped[1]))
            continue
        with sock:
            if connection.protocol == "https":
                checks.append(_tls(connection, host, port, sock))
            else:
                checks.append(_plain_http(host, port, sock, timeout))
    return checks


def _connect(host: str, port: int, timeout: float) -> tuple[Check, socket.socket | None]:
    check_id = f"reachability {host}:{port}"
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        cause = f"the host name {host} does not resolve ({exc.strerror}): check DNS or the VPC's resolver"
        return Check(id=check_id, status=Status.FAIL, evidence=cause), None
    except ConnectionRefusedError:
        cause = f"{host} refused the connection on port {port}: nothing listens there (wrong port?)"
        return Check(id=check_id, status=Status.FAIL, evidence=cause), None
    except TimeoutError:
        cause = (
            f"no answer from {host}:{port} within {timeout:g} s: a firewall, security group or missing "
            "route drops the packets"
        )
        return Check(id=check_id, status=Status.FAIL, evidence=cause), None
    except OSError as exc:
        cause = f"cannot connect to {host}:{port}: {exc.strerror or type(exc).__name__}"
        return Check(id=check_id, status=Status.FAIL, evidence=cause), None
    sock.settimeout(timeout)
    peer = sock.getpeername()[0]
    elapsed = (time.monotonic() - started) * 1000
    evidence = f"TCP connect to {peer}:{port} in {elapsed:.0f} ms"
    return Check(id=check_id, status=Status.PASS, evidence=evidence), sock


def _tls(connection: DxConnection, host: str, port: int, sock: socket.socket) -> Check:
    check_id = f"tls {host}:{port}"
    if connection.verify_tls:
        context = ssl.create_default_context(cafile=connection.ca_bundle)
    else:  # the operator chose verifyTls=false; the probe looks the way the client will
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # mirrors the operator's verifyTls=false
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        hint = "--ca-bundle / caBundle with the CA that signed it" if connection.ca_bundle is None else ""
        message = f"the certificate is not trusted: {exc.verify_message}"
        return Check(id=check_id, status=Status.FAIL, evidence=message + (f"; give {hint}" if hint else ""))
    except ssl.SSLError as exc:
        if any(hint in str(exc).upper().replace(" ", "_") for hint in _PLAIN_HTTP_HINTS):
            evidence = (
                f"port {port} speaks plain HTTP, not TLS: use --dx-protocol http (dxProtocol), "
                "or the HTTPS port"
            )
            return Check(id=f"protocol {host}:{port}", status=Status.FAIL, evidence=evidence)
        return Check(id=check_id, status=Status.FAIL, evidence=f"TLS handshake failed: {exc.reason or exc}")
    except (OSError, TimeoutError) as exc:
        return Check(id=check_id, status=Status.FAIL, evidence=f"TLS handshake failed: {type(exc).__name__}")
    with tls:
        version = tls.version()
        if not connection.verify_tls:
            evidence = (
                f"{version}; certificate NOT verified (verifyTls=false): the password can be intercepted"
            )
            return Check(id=check_id, status=Status.WARN, evidence=evidence)
        cert = tls.getpeercert() or {}
    subject = _names(cert.get("subject", ()))
    issuer = _names(cert.get("issuer", ()))
    not_after = cert.get("notAfter")
    days = None
    if isinstance(not_after, str):
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
        days = (expires - datetime.now(UTC)).days
    evidence = (
        f"{version}, certificate for {subject.get('commonName', '?')} issued by "
        f"{issuer.get('commonName') or issuer.get('organizationName', '?')}, verified"
        + (f", expires in {days} days" if days is not None else "")
    )
    status = Status.WARN if days is not None and days < CERT_WARN_DAYS else Status.PASS
    return Check(id=check_id, status=status, evidence=evidence)


def _plain_http(host: str, port: int, sock: socket.socket, timeout: float) -> Check:
    """http: is it really plain HTTP? A TLS port answers ``HEAD /`` with an alert or an HTTPS hint."""
    check_id = f"protocol {host}:{port}"
    try:
        sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: dam-drift-doctor\r\n\r\n".encode())
        head = sock.recv(512)
    except (OSError, TimeoutError) as exc:
        return Check(
            id=check_id, status=Status.WARN, evidence=f"no HTTP answer to HEAD /: {type(exc).__name__}"
        )
    tls_answer = head[:1] in (b"\x15", b"\x16") or b"HTTPS port" in head or b"plain HTTP" in head
    if tls_answer or (not head.startswith(b"HTTP/") and _speaks_tls(host, port, timeout)):
        evidence = f"port {port} speaks HTTPS (TLS), not plain HTTP: use --dx-protocol https (dxProtocol)"
        return Check(id=check_id, status=Status.FAIL, evidence=evidence)
    if not head.startswith(b"HTTP/"):
        return Check(
            id=check_id, status=Status.WARN, evidence=f"port {port} answered HEAD / with no HTTP status line"
        )
    if _is_loopback(host):
        status_line = head.split(b"\r\n")[0].decode("latin-1")[:40]
        return Check(id=check_id, status=Status.PASS, evidence=f"plain HTTP on loopback ({status_line})")
    evidence = "plain HTTP: the DX password and session cookie cross the network unencrypted; use https"
    return Check(id=check_id, status=Status.WARN, evidence=evidence)


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether a TLS handshake succeeds on the port (certificate not checked: only the protocol matters)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # no credentials go over it: it only sniffs
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return False


def _names(rdns: Any) -> dict[str, str]:
    """``getpeercert()``'s subject or issuer (a tuple of RDNs of (name, value) pairs) as a dict."""
    return {str(pair[0]): str(pair[1]) for rdn in rdns for pair in rdn if len(pair) == 2}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback
