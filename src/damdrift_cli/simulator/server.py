"""The DX publisher simulator over real HTTP, and the Python API tests and benchmarks drive it with.

A ``ThreadingHTTPServer`` on loopback speaks HTTP/1.1 with keep-alive, as an ingress in front of DX does,
so a client's connection pooling, timeouts and retries meet real sockets. Wire-level faults (dropped
connections, truncated bodies) are done here; the protocol lives in :mod:`.api`, the publisher in
:mod:`.state`.

Nothing here logs a cookie value or a password: the access log has the request line only, and an
:class:`Exchange`'s ``repr`` leaves headers and bodies out.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from damdrift_cli.simulator.api import (
    DAM_BASE,
    RING_BASE,
    Request,
    Response,
    Route,
    dam_error,
    dispatch,
    error_for,
    resolve,
)
from damdrift_cli.simulator.clock import Clock
from damdrift_cli.simulator.dataset import Drift
from damdrift_cli.simulator.faults import ActiveFault, Fault, FaultInjector, FaultKind
from damdrift_cli.simulator.scenario import Scenario, SubscriberSpec, load_scenario, parse_drift
from damdrift_cli.simulator.state import (
    ConflictPolicy,
    FindOutcome,
    PublisherState,
    Rejected,
    ResyncOutcome,
    SubscriberState,
)

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


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client refusing the TLS certificate, or hanging up, is what some tests are about: no traceback.
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
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
        sim = self.server.simulator
        split = urlsplit(self.path)
        resolved = resolve(self.command, split.path)
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
        sim._note_request(endpoint)
        key = req.subscriber_key
        plan = sim.faults.plan(endpoint, key and (sim.state.subscriber_id(key) or key))
        exchange.faults = tuple(plan.kinds)
        if plan.delay:
            sim._stopping.wait(plan.delay)
        if plan.expire_sessions:
            sim.state.expire_sessions()
        for subscriber_id in plan.deregister:
            with suppress(Rejected):
                sim.state.deregister(subscriber_id)
        req.ignore_offset, req.find_outcome = plan.ignore_offset, plan.find_outcome
        req.hostile_records = plan.hostile_records
        if plan.answer is not None and plan.answer.kind == "drop":
            sim._record(exchange)
            self.close_connection = True
            return
        base = route.base if route else (RING_BASE if req.path.startswith(RING_BASE) else DAM_BASE)
        if plan.answer is not None:
            response = _fault_answer(plan.answer, base)
        elif route is None:
            assert isinstance(resolved, Response)
            response = resolved
        else:
            response = _dispatch_safely(sim.state, route, req)
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
            self.server.simulator._record(exchange)
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
        sim = self.server.simulator
        exchange.status, exchange.response_headers = response.status, dict(headers)
        if isinstance(body, bytes):
            cap = sim._max_body_bytes
            exchange.response_body, exchange.response_truncated = body[:cap], len(body) > cap
        sim._record(exchange)
        self.send_response(response.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        cap = sim._max_body_bytes
        kept = bytearray()
        for chunk in body:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if len(kept) < cap:
                kept += chunk[: cap - len(kept)]
            else:
                exchange.response_truncated = True
        exchange.response_body = bytes(kept)
        self.wfile.write(b"0\r\n\r\n")


def _dispatch_safely(state: PublisherState, route: Route, req: Request) -> Response:
    try:
        return dispatch(state, route, req)
    except Exception:
        _log.exception("simulator bug answering %s %s", req.method, req.path)
        return dam_error(500, "Internal error in the DX simulator")


def _fault_answer(fault: Fault, base: str) -> Response:
    if fault.kind == "html":
        status = fault.status or 200
        title = "OK" if status == 200 else "Error"
        page = _HTML_PAGE.format(status=status, title=title).encode()
        return Response(status, page, [("Content-Type", "text/html; charset=utf-8")])
    status = fault.status or 500
    headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
    message = (
        "Forbidden: you do not have permission to access this API"
        if status == 403
        else f"Injected fault: HTTP {status}"
    )
    return error_for(base, status, message, headers)


class Simulator:
    """A DX publisher on loopback. Start it (or use ``with``), point a client at :attr:`base_url`.

    ``scenario`` is a :class:`Scenario`, a built-in name or a JSON file path (``None``: ``default``);
    ``find_duration`` overrides its ``findDurationSeconds``.
    ``clock`` drives job completion and session expiry; pass a
    :class:`~damdrift_cli.simulator.clock.ManualClock` to move time without sleeping.
    ``record_exchanges`` keeps the last ``max_exchanges`` requests and answers (bodies cut at
    ``max_body_bytes``) for tests; it is off by default so a long benchmark keeps nothing.
    ``tls`` (a server-side ``ssl.SSLContext`` with its certificate loaded) serves HTTPS instead of HTTP,
    like an ingress with a private or self-signed certificate.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.monotonic,
        find_duration: float | None = None,
        record_exchanges: bool = False,
        max_exchanges: int = 10_000,
        max_body_bytes: int = 1 << 20,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario or "default")
        self.clock = clock
        self.state = PublisherState(self.scenario.settings(), clock)
        if find_duration is not None:
            self.state.configure(find_duration_seconds=find_duration)
        for spec in self.scenario.subscribers:
            self.state.add_subscriber(spec.to_state())
        self.faults = FaultInjector()
        for fault in self.scenario.faults:
            self.faults.add(fault)
        self.record_exchanges = record_exchanges
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self._max_body_bytes = max_body_bytes
        self._hits: Counter[str] = Counter()
        self._hits_lock = threading.Lock()
        self._address = (host, port)
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        self._server = _HttpServer(self._address, self)
        if self.tls is not None:  # the handshake happens in the connection's thread, on first read
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="dx-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def hostname(self) -> str:
        return str(self._running().server_address[0])

    @property
    def port(self) -> int:
        return int(self._running().server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the APIs are under ``/dx/api/core/v1`` and ``/dx/api/dam/v1``)."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.protocol}://{host}:{self.port}"

    @property
    def protocol(self) -> str:
        """``https`` when serving TLS, else ``http`` (what ``dxProtocol`` must say)."""
        return "https" if self.tls is not None else "http"

    @property
    def ring_base_url(self) -> str:
        return self.base_url + RING_BASE

    @property
    def dam_base_url(self) -> str:
        return self.base_url + DAM_BASE

    @property
    def username(self) -> str:
        return self.state.settings.username

    @property
    def password(self) -> str:
        return self.state.settings.password

    def _running(self) -> _HttpServer:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._server

    # -- the publisher ----------------------------------------------------------------------------------

    def configure(
        self,
        *,
        find_duration_seconds: float | None = None,
        resync_duration_seconds: float | None = None,
        operation_duration_seconds: float | None = None,
        token_ttl_seconds: float | None = None,
        conflict_policy: ConflictPolicy | str | None = None,
    ) -> None:
        """Change publisher-wide settings; ``None`` leaves a setting as it is."""
        changes: dict[str, Any] = {
            "find_duration_seconds": find_duration_seconds,
            "resync_duration_seconds": resync_duration_seconds,
            "operation_duration_seconds": operation_duration_seconds,
            "token_ttl_seconds": token_ttl_seconds,
            "conflict_policy": None if conflict_policy is None else ConflictPolicy(conflict_policy),
        }
        self.state.configure(**{k: v for k, v in changes.items() if v is not None})

    def add_subscriber(
        self,
        target_host: str,
        *,
        subscriber_id: str | None = None,
        drift: Drift | Mapping[str, Mapping[str, Any]] | None = None,
        find_outcome: FindOutcome = "complete",
        resync_outcome: ResyncOutcome = "complete",
        find_duration_seconds: float | None = None,
    ) -> str:
        """Registers a subscriber (as if staged long ago) and returns its id."""
        spec = SubscriberSpec.model_validate(
            {
                "id": subscriber_id or str(uuid.uuid4()),
                "targetHost": target_host,
                "findOutcome": find_outcome,
                "resyncOutcome": resync_outcome,
                "findDurationSeconds": find_duration_seconds,
            }
        )
        sub: SubscriberState = spec.to_state()
        sub.drift = parse_drift(drift)
        self.state.add_subscriber(sub)
        return sub.id

    def remove_subscriber(self, subscriber_id: str) -> None:
        """Deregisters, as ``DELETE /staging/subscriber/{id}`` would (a running find is aborted)."""
        self.state.deregister(subscriber_id)

    def set_drift(self, subscriber_id: str, drift: Drift | Mapping[str, Mapping[str, Any]]) -> None:
        """What the next find reports, e.g. ``{"COLLECTION": {"CREATE": 3}}``; record ids follow the index."""
        self.state.set_drift(subscriber_id, parse_drift(drift))

    def drift(self, subscriber_id: str) -> Drift:
        return self.state.drift(subscriber_id)

    def configure_subscriber(
        self,
        subscriber_id: str,
        *,
        find_outcome: FindOutcome | None = None,
        resync_outcome: ResyncOutcome | None = None,
        find_duration_seconds: float | None = None,
    ) -> None:
        """Change how the subscriber's next jobs end; ``None`` leaves a setting as it is."""
        self.state.set_outcomes(subscriber_id, find_outcome, resync_outcome, find_duration_seconds)

    def expire_sessions(self) -> None:
        self.state.expire_sessions()

    # -- faults -----------------------------------------------------------------------------------------

    def inject_fault(
        self,
        endpoint: str,
        kind: FaultKind,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        seconds: float | None = None,
        subscriber_id: str | None = None,
        times: int | None = None,
        after: int = 0,
    ) -> ActiveFault:
        """E.g. ``inject_fault("GET /staging/mismatches", "status", status=503, retry_after=1, times=2)``.

        Returns the fault in force; its ``seen``/``applied`` counters show whether requests met it.
        """
        fault = Fault.model_validate(
            {
                "endpoint": endpoint,
                "kind": kind,
                "status": status,
                "retryAfter": retry_after,
                "seconds": seconds,
                "subscriberId": subscriber_id,
                "times": times,
                "after": after,
            }
        )
        return self.faults.add(fault)

    def add_fault(self, fault: Fault) -> ActiveFault:
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- instrumentation --------------------------------------------------------------------------------

    def find_trigger_count(self, subscriber_id: str) -> int:
        """``PATCH resyncStatus=FIND_MISMATCH_START`` requests for the subscriber, refused ones included."""
        return self.state.find_triggers[subscriber_id]

    def resync_trigger_count(self, subscriber_id: str) -> int:
        return self.state.resync_triggers[subscriber_id]

    @property
    def max_concurrent_finds(self) -> int:
        """The most find jobs that were running at once (on the simulator's clock)."""
        return self.state.max_concurrent_finds

    @property
    def endpoint_hits(self) -> dict[str, int]:
        """Requests per endpoint key (unknown paths under ``None`` are not counted); always on."""
        with self._hits_lock:
            return dict(self._hits)

    @property
    def exchanges(self) -> list[Exchange]:
        """Recorded requests and answers, oldest first (empty unless ``record_exchanges``)."""
        return list(self._exchanges)

    def clear_exchanges(self) -> None:
        self._exchanges.clear()

    def _note_request(self, endpoint: str | None) -> None:
        if endpoint is not None:
            with self._hits_lock:
                self._hits[endpoint] += 1

    def _record(self, exchange: Exchange) -> None:
        if self.record_exchanges:
            self._exchanges.append(exchange)
