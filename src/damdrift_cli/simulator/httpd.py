"""One simulated DX host over real HTTP: a route table and its state, faults, counters and records.

A ``ThreadingHTTPServer`` on loopback speaks HTTP/1.1 with keep-alive, as an ingress in front of DX does,
so a client's connection pooling, timeouts and retries meet real sockets. Wire-level faults (dropped
connections, truncated bodies) are done here; the protocol lives in :mod:`.api`, the hosts' state in
:mod:`.state`. The publisher and every subscriber DAM are each a :class:`Site` served by a
:class:`Listener` of its own (own port, own faults, own records).

Nothing here logs a cookie value or a password: the access log has the request line only, and an
:class:`Exchange`'s ``repr`` leaves headers and bodies out.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import logging
import socket
import ssl
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from damdrift_cli.simulator.api import (
    DAM_BASE,
    JSON_TYPE,
    RING_BASE,
    Request,
    Response,
    Route,
    SessionHost,
    dam_error,
    dispatch,
    error_for,
    resolve,
)
from damdrift_cli.simulator.faults import SIZED_KINDS, Fault, FaultInjector
from damdrift_cli.simulator.state import Rejected

_log = logging.getLogger(__name__)

_HTML_PAGE = (
    "<html><head><title>{status} {title}</title></head><body><center><h1>{status} {title}</h1></center>"
    "<hr><center>ingress</center></body></html>"
)


@dataclass
class Exchange:
    """One request and what the simulator answered (``status`` is ``None`` when the connection dropped).

    Bodies are kept up to the simulator's ``max_body_bytes``; ``response_truncated`` says when cut.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    request_headers: dict[str, str]
    request_body: bytes
    endpoint: str | None
    faults: tuple[str, ...] = ()
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    response_truncated: bool = False

    def json(self) -> Any:
        return json.loads(self.response_body)

    def __repr__(self) -> str:  # headers and bodies may hold a session cookie or a password
        return (
            f"Exchange({self.method} {self.path} query={self.query} -> {self.status}, "
            f"faults={list(self.faults)}, {len(self.response_body)} response bytes)"
        )


class SiteState(SessionHost, Protocol):
    """What the HTTP layer needs of a host's state besides its handlers: the effects of faults."""

    def subscriber_id(self, key: str) -> str | None: ...

    def expire_sessions(self) -> None: ...

    def deregister(self, key: str) -> None: ...


_S = TypeVar("_S", bound=SiteState)


class Site(Generic[_S]):
    """What one HTTP server answers: a route table and the state behind it, its faults, its records.

    ``record_exchanges`` keeps the last ``max_exchanges`` requests and answers (bodies cut at
    ``max_body_bytes``); endpoint hits are always counted.
    """

    def __init__(
        self,
        routes: Sequence[Route[_S]],
        state: _S,
        *,
        record_exchanges: bool = False,
        max_exchanges: int = 10_000,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self.routes = routes
        self.state = state
        self.faults = FaultInjector()
        self.record_exchanges = record_exchanges
        self.max_body_bytes = max_body_bytes
        self.stopping = threading.Event()  # set while stopping, so an injected delay ends early
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self._hits: Counter[str] = Counter()
        self._hits_lock = threading.Lock()

    @property
    def endpoint_hits(self) -> dict[str, int]:
        with self._hits_lock:
            return dict(self._hits)

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self._exchanges)

    def clear_exchanges(self) -> None:
        self._exchanges.clear()

    def note_request(self, endpoint: str | None) -> None:
        if endpoint is not None:
            with self._hits_lock:
                self._hits[endpoint] += 1

    def record(self, exchange: Exchange) -> None:
        if self.record_exchanges:
            self._exchanges.append(exchange)


class Listener:
    """Serves a :class:`Site` on ``host:port`` (0: any free port) in a daemon thread; HTTPS with ``tls``."""

    def __init__(self, site: Site[Any], host: str, port: int, tls: ssl.SSLContext | None, name: str) -> None:
        self.site = site
        self.tls = tls
        self._address = (host, port)
        self._name = name
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self._name} is already running")
        self.site.stopping.clear()
        self._server = _HttpServer(self._address, self.site)
        if self.tls is not None:  # the handshake happens in the connection's thread, on first read
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.site.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def hostname(self) -> str:
        return str(self._running().server_address[0])

    @property
    def port(self) -> int:
        return int(self._running().server_address[1])

    @property
    def protocol(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.protocol}://{host}:{self.port}"

    def _running(self) -> _HttpServer:
        if self._server is None:
            raise RuntimeError(f"the {self._name} is not running: call start() first")
        return self._server


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client refusing the TLS certificate, or hanging up, is what some tests are about: no traceback.
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def __init__(self, address: tuple[str, int], site: Site[Any]) -> None:
        self.site = site
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_open_connections(self) -> None:
        """Idle keep-alive connections would otherwise outlive the server."""
        with self.connections_lock:
            for conn in self.open_connections:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dx-simulator"
    timeout = 60
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.open_connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY, ...) reaches the route table too, so a method the spec does not
        declare gets 405 with ``Allow``, as HCL's spec and RFC 9110 want, not http.server's 501 page."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        site = self.server.site
        split = urlsplit(self.path)
        resolved = resolve(site.routes, self.command, split.path)
        route, params = resolved if isinstance(resolved, tuple) else (None, {})
        req = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            cookie_headers=self.headers.get_all("Cookie") or [],
            body=self._read_body(),
            params={name: unquote(value) for name, value in params.items()},
        )
        endpoint = route.key if route else None
        exchange = Exchange(req.method, req.path, req.query, dict(req.headers), req.body, endpoint)
        site.note_request(endpoint)
        key = req.subscriber_key
        plan = site.faults.plan(endpoint, key and (site.state.subscriber_id(key) or key))
        exchange.faults = tuple(plan.kinds)
        if plan.delay:
            site.stopping.wait(plan.delay)
        if plan.expire_sessions:
            site.state.expire_sessions()
        for subscriber_id in plan.deregister:
            with suppress(Rejected):
                site.state.deregister(subscriber_id)
        req.ignore_offset, req.find_outcome = plan.ignore_offset, plan.find_outcome
        req.hostile_records = plan.hostile_records
        req.ignore_limit, req.endless_pages = plan.ignore_limit, plan.endless_pages
        req.distinct_types = plan.distinct_types
        if plan.answer is not None and plan.answer.kind == "drop":
            site.record(exchange)
            self.close_connection = True
            return
        base = route.base if route else (RING_BASE if req.path.startswith(RING_BASE) else DAM_BASE)
        if plan.answer is not None:
            response = _fault_answer(plan.answer, base, site.stopping, req)
        elif route is None:
            assert isinstance(resolved, Response)
            response = resolved
        else:
            response = _dispatch_safely(site.state, route, req)
        try:
            self._send(response, plan.spoil, exchange)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, response: Response, spoil: Fault | None, exchange: Exchange) -> None:
        body = response.body
        declared: int | None = None
        if spoil is not None and spoil.kind == "drop_answer":  # processed; the answer never leaves
            if not isinstance(body, bytes):
                body = b"".join(body)  # the rows are generated while sending: let that happen
            exchange.status = response.status
            self.server.site.record(exchange)
            self.close_connection = True
            return
        if spoil is not None:
            whole = body if isinstance(body, bytes) else b"".join(body)
            if spoil.kind == "malformed_json":
                body = whole[: len(whole) // 2] if len(whole) > 1 else b"{"
            else:  # truncate: promise the whole body, send half of it, hang up
                declared, body = len(whole) or 16, whole[: len(whole) // 2]
                self.close_connection = True
        headers = list(response.headers)
        if isinstance(body, bytes):
            if response.status != 204:
                headers.append(("Content-Length", str(declared if declared is not None else len(body))))
        else:
            headers.append(("Transfer-Encoding", "chunked"))
        if self.close_connection:
            headers.append(("Connection", "close"))
        # Recorded before the client can see the answer, so a test reading the exchanges never races.
        site = self.server.site
        exchange.status, exchange.response_headers = response.status, dict(headers)
        if isinstance(body, bytes):
            cap = site.max_body_bytes
            exchange.response_body, exchange.response_truncated = body[:cap], len(body) > cap
        site.record(exchange)
        self.send_response(response.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        cap = site.max_body_bytes
        kept = bytearray()
        for chunk in body:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if len(kept) < cap:
                kept += chunk[: cap - len(kept)]
            else:
                exchange.response_truncated = True
        exchange.response_body = bytes(kept)
        self.wfile.write(b"0\r\n\r\n")


def _dispatch_safely(state: SiteState, route: Route[Any], req: Request) -> Response:
    try:
        return dispatch(state, route, req)
    except Exception:
        _log.exception("simulator bug answering %s %s", req.method, req.path)
        return dam_error(500, "Internal error in the DX simulator")


def _fault_answer(fault: Fault, base: str, stopping: threading.Event, req: Request) -> Response:
    if fault.kind == "echo":
        cookie = "; ".join(req.cookie_headers) or "none"
        body = req.body.decode("utf-8", "replace") or "none"
        if fault.encoding not in (None, "plain"):
            body = _as_read(body)
        query = f"?{urlencode(req.query, doseq=True)}" if req.query else ""
        reflected = f"{req.method} {req.path}{query}\nCookie: {cookie}\n\n{body}"
        message = "Bad request:\n" + ECHO_ENCODINGS[fault.encoding or "plain"](reflected)
        return error_for(base, fault.status or 400, message)
    if fault.kind == "redirect":
        return Response(fault.status or 302, b"", [("Location", fault.location or "/")])
    if fault.kind == "gzip_bomb":
        headers = [("Content-Type", JSON_TYPE), ("Content-Encoding", "gzip")]
        return Response(200, _gzip_bomb(fault.size or _GIB), headers)
    if fault.kind == "deep_json":
        depth = fault.size or 100_000
        return Response(200, b"[" * depth + b"]" * depth, [("Content-Type", JSON_TYPE)])
    if fault.kind == "json":
        return Response(200, json.dumps(fault.body).encode(), [("Content-Type", JSON_TYPE)])
    if fault.kind == "empty_objects":
        size = fault.size or SIZED_KINDS["empty_objects"]
        return Response(200, _empty_objects(size), [("Content-Type", JSON_TYPE)])
    if fault.kind == "drip":
        return Response(200, _drip(fault.seconds or 1.0, stopping), [("Content-Type", JSON_TYPE)])
    if fault.kind == "html":
        status = fault.status or 200
        title = "OK" if status == 200 else "Error"
        page = _HTML_PAGE.format(status=status, title=title).encode()
        return Response(status, page, [("Content-Type", "text/html; charset=utf-8")])
    status = fault.status or 500
    headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
    message = fault.message or (
        "Forbidden: you do not have permission to access this API"
        if status == 403
        else f"Injected fault: HTTP {status}"
    )
    return error_for(base, status, message, headers)


def _as_read(body: str) -> str:
    """A JSON body as the server read it (``\\u00e4`` is ``ä`` again), before it encodes it its own way."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        return body


def _xml_escaped(text: str) -> str:
    """Every character but letters and digits as a hex character reference (``'`` as ``&apos;``)."""
    return "".join(
        c if c.isascii() and c.isalnum() else "&apos;" if c == "'" else f"&#x{ord(c):x};" for c in text
    )


#: How an ``echo`` fault shows the request it reflects, as servers and ingresses have been seen to.
ECHO_ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda text: text,
    "json": lambda text: json.dumps(text)[1:-1].replace("/", "\\/"),
    "html": lambda text: (
        html.escape(text).replace("&#x27;", "&#39;").encode("ascii", "xmlcharrefreplace").decode()
    ),
    "xml": _xml_escaped,
    "url": lambda text: quote(text, safe="/"),
    "base64": lambda text: base64.b64encode(text.encode()).decode("ascii"),
    "latin1": lambda text: text.encode().decode("latin-1"),
}

_GIB = 1 << 30


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """``size`` bytes of JSON whitespace, gzipped: one member of up to 16 MiB, repeated (RFC 1952 allows
    members one after another), so building a 1 GiB bomb (~1 MiB) takes a fraction of a second."""
    block = 16 << 20
    member = gzip.compress(b" " * min(size, block), compresslevel=9, mtime=0)
    whole, rest = divmod(size, block)
    tail = gzip.compress(b" " * rest, compresslevel=9, mtime=0) if rest and whole else b""
    return member * max(whole, 1) + tail


def _empty_objects(size: int) -> bytes:
    """``[{},{},…,{}]`` of about ``size`` bytes."""
    return b"[" + b",".join([b"{}"] * max(1, (size - 2) // 3)) + b"]"


def _drip(seconds: float, stopping: threading.Event) -> Iterator[bytes]:
    """A JSON array that never ends, one byte every ``seconds``, until the client or the server stops."""
    yield b"["
    while not stopping.wait(seconds):
        yield b" "
