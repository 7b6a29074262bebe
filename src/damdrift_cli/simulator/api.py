"""DX's endpoints: routing, request checks and response bodies, shaped as HCL's OpenAPI specs define them.

Everything here is about the protocol, nothing about sockets: a handler turns a parsed :class:`Request`
into a :class:`Response` using the state of the host it runs on: the
:class:`~damdrift_cli.simulator.state.PublisherState` for :data:`ROUTES`, a subscriber's DAM for
:data:`SUBSCRIBER_DAM_ROUTES` (login, logout and operations, with the publisher's code). The two APIs
answer errors in different shapes, as on a real DX: the Ring API (auth) with
``{"error": {"code", "message", "reason"}}``, the DAM API with ``{"error": {"statusCode", "message",
"name"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any, Generic, Protocol, TypeVar

from damdrift.dx.models import OperationStatus, RecordAction, RecordType, ResyncStatus
from damdrift_cli.simulator.dataset import (
    MismatchFilter,
    column_row,
    distinct_type_row,
    endless_rows,
    hostile_row,
)
from damdrift_cli.simulator.state import FindOutcome, PublisherState, Rejected

RING_BASE = "/dx/api/core/v1"
DAM_BASE = "/dx/api/dam/v1"
COOKIE_NAME = "LtpaToken2"
JSON_TYPE = "application/json; charset=utf-8"

#: Arrays longer than this are streamed with chunked encoding instead of built in memory.
STREAM_THRESHOLD = 2000
_STREAM_BATCH = 1000

_E = TypeVar("_E", bound=StrEnum)


class SessionHost(Protocol):
    """What the Ring auth endpoints and the DAM session check need of a host."""

    def login(self, username: str, password: str) -> str | None: ...

    def session_user(self, token: str | None) -> str | None: ...

    def logout(self, token: str | None) -> None: ...


class OperationsHost(SessionHost, Protocol):
    """What ``GET /operations`` and ``GET /operations/{id}`` need of a host."""

    def operations(
        self, statuses: frozenset[str] | None, trigger_functions: frozenset[str] | None
    ) -> list[dict[str, Any]]: ...

    def operation(self, op_id: str) -> dict[str, Any]: ...


_H_contra = TypeVar("_H_contra", bound=SessionHost, contravariant=True)
_H = TypeVar("_H", bound=SessionHost)


@dataclass
class Request:
    """A parsed request. ``ignore_offset``, ``find_outcome`` and ``hostile_records`` are set by faults."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    cookie_headers: list[str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    ignore_offset: bool = False
    find_outcome: FindOutcome | None = None
    hostile_records: bool = False
    ignore_limit: bool = False
    endless_pages: bool = False
    distinct_types: int | None = None

    def param(self, name: str) -> str | None:
        """The first value of a query parameter; an empty value counts as absent."""
        # ASSUMPTION: empty-query-param-absent (the spec's enum examples are "", as a form would send)
        values = self.query.get(name)
        return values[0] if values and values[0] != "" else None

    def cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        for header in self.cookie_headers:
            try:
                jar.load(header)
            except CookieError:
                continue
        morsel = jar.get(name)
        return morsel.value if morsel else None

    @property
    def subscriber_key(self) -> str | None:
        """The subscriber the request is about: the path id or the ``subscriberId`` query parameter."""
        return self.params.get("subscriber_id") or self.param("subscriberId")


@dataclass
class Response:
    status: int
    body: bytes | Iterator[bytes] = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, [("Content-Type", JSON_TYPE), *(headers or [])])


def _status(status: int) -> HTTPStatus | None:
    try:
        return HTTPStatus(status)
    except ValueError:
        return None


def dam_error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """The DAM error body; ``statusCode`` is a string in DAM-SPEC, ``name`` as LoopBack's http-errors."""
    known = _status(status)
    words = known.phrase.replace("-", " ").split() if known else ["Http"]
    name = "".join(w[:1].upper() + w[1:] for w in words).removesuffix("Error") + "Error"
    return json_response(
        status, {"error": {"statusCode": str(status), "message": message, "name": name}}, headers
    )


def ring_error(
    status: int, message: str, reason: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """The Ring (auth) error body; its ``code`` values are invented, only the shape is in RING-SPEC."""
    # The code is the HTTP status name, e.g. UNAUTHORIZED: invented, RING-SPEC has no values.
    known = _status(status)
    code = known.name if known else "HTTP_ERROR"
    return json_response(status, {"error": {"code": code, "message": message, "reason": reason}}, headers)


def error_for(base: str, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """An error in the shape of the API that owns ``base``."""
    if base == RING_BASE:
        return ring_error(status, message, message, headers)
    return dam_error(status, message, headers)


def json_array(items: Iterator[Any], size: int) -> Response:
    """A JSON array; long ones are generated while sending so a 1,000,000-row answer stays small in memory."""
    if size <= STREAM_THRESHOLD:
        return json_response(200, list(items))

    def chunks() -> Iterator[bytes]:
        yield b"["
        batch: list[str] = []
        first = True
        for item in items:
            batch.append(json.dumps(item, separators=(",", ":")))
            if len(batch) == _STREAM_BATCH:
                yield (b"" if first else b",") + ",".join(batch).encode()
                batch, first = [], False
        if batch:
            yield (b"" if first else b",") + ",".join(batch).encode()
        yield b"]"

    return Response(200, chunks(), [("Content-Type", JSON_TYPE)])


# -- request checks --------------------------------------------------------------------------------------


class BadRequest(Exception):
    """A request parameter or body the publisher refuses with 400."""


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadRequest("The request body is not valid JSON") from exc


def _enum_param(req: Request, name: str, enum: type[_E]) -> _E | None:
    value = req.param(name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        raise BadRequest(f"{name} must be one of {', '.join(e.value for e in enum)}") from None


def _int_param(req: Request, name: str) -> int | None:
    # ASSUMPTION: offset-limit-integers (the spec types them as string/number; parsed as integers >= 0)
    value = req.param(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def _list_param(req: Request, name: str) -> frozenset[str] | None:
    # ASSUMPTION: operations-comma-lists (a single value or a comma-separated list)
    value = req.param(name)
    return frozenset(v.strip() for v in value.split(",") if v.strip()) if value else None


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


#: ``SubscriberRegistrationReq`` (and ``…ReqPartial``): field → (check, what the check wants).
_SUBSCRIBER_BODY: dict[str, tuple[Callable[[Any], bool], str]] = {
    "targetHost": (lambda v: isinstance(v, str), "a string"),  # the spec allows "" too
    "cycleLength": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "status": (lambda v: isinstance(v, bool), "a boolean"),
    "lastSyncTime": (_is_datetime, "a date-time string"),
    "syncStatus": (lambda v: isinstance(v, str), "a string"),
    # ASSUMPTION: patch-rejects-unknown-resync-status (values outside MISMATCH-DOC's six are 400)
    "resyncStatus": (
        lambda v: isinstance(v, str) and v in ResyncStatus.__members__,
        "one of " + ", ".join(ResyncStatus),
    ),
    "lastResyncTime": (_is_datetime, "a date-time string"),
    "syncFailureLogs": (lambda v: isinstance(v, str), "a string"),
    "created": (_is_datetime, "a date-time string"),
    "updated": (_is_datetime, "a date-time string"),
}


def _subscriber_body(req: Request, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body checked against the spec's request schema (``additionalProperties: false``)."""
    body = _json_body(req)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    for name in required:
        if name not in body:
            raise BadRequest(f"{name} is required")
    for name, value in body.items():
        if name not in _SUBSCRIBER_BODY:
            raise BadRequest(f"Unknown field {name[:60]!r}")
        check, wanted = _SUBSCRIBER_BODY[name]
        if not check(value):
            raise BadRequest(f"{name} must be {wanted}")
    return body


# -- Ring API: auth --------------------------------------------------------------------------------------


def _login(state: SessionHost, req: Request) -> Response:
    try:
        body = _json_body(req)
    except BadRequest as exc:
        return ring_error(400, str(exc), "Send a JSON object with username and password")
    # RING-SPEC's body is an object whose username and password are optional strings: other JSON is a
    # 400, a missing field a failed login (401), as for a wrong password.
    # ASSUMPTION: login-without-fields-401 (the spec allows {} but does not say what DX answers)
    if not isinstance(body, dict) or any(
        not isinstance(body.get(name, ""), str) for name in ("username", "password")
    ):
        return ring_error(
            400, "username and password must be strings", "Send a JSON object with username and password"
        )
    token = state.login(body.get("username", ""), body.get("password", ""))
    if token is None:
        # ASSUMPTION: bad-login-ring-body (Ring error shape from RING-SPEC; the values are invented)
        return ring_error(401, "Authentication failed", "The user name or password is not valid")
    cookie = f"{COOKIE_NAME}={token}; Path=/; HttpOnly"
    payload = {"statusCode": 200, "message": "Login successful", "data": {"UId": _uid(body["username"])}}
    return json_response(200, payload, [("Set-Cookie", cookie)])


def _uid(username: str) -> str:
    # Invented: a WebSphere user DN (RING-SPEC only says UId is a string; clients do not use it).
    return f"uid={username},o=defaultWIMFileBasedRealm"


def _validate(state: SessionHost, req: Request) -> Response:
    user = state.session_user(req.cookie(COOKIE_NAME))
    if user is None:
        return ring_error(401, "Not authenticated", "The LtpaToken2 cookie is missing, invalid or expired")
    return json_response(200, {"statusCode": 200, "message": "Token is valid", "data": {"UId": _uid(user)}})


def _custom_login(state: SessionHost, req: Request) -> Response:
    """``POST /auth/custom-login``: a login from the Cookie the caller already holds (RING-SPEC)."""
    user = state.session_user(req.cookie(COOKIE_NAME))
    if user is None:
        return ring_error(
            401, "Authentication failed", "The LtpaToken2 cookie is missing, invalid or expired"
        )
    payload = {"statusCode": 200, "message": "Login successful", "data": {"UId": _uid(user)}}
    return json_response(200, payload)


def _logout(state: SessionHost, req: Request) -> Response:
    # ASSUMPTION: logout-without-session-200 (the spec lists 401 too; logging out twice is harmless here)
    state.logout(req.cookie(COOKIE_NAME))
    expired = f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly"
    return json_response(
        200, {"statusCode": 200, "data": "You are successfully logged out"}, [("Set-Cookie", expired)]
    )


# -- DAM API: staging and operations ---------------------------------------------------------------------


def _list_subscribers(state: PublisherState, req: Request) -> Response:
    return json_response(200, state.subscribers())


def _get_subscriber(state: PublisherState, req: Request) -> Response:
    return json_response(200, state.subscriber(req.params["subscriber_id"]))


def _register(state: PublisherState, req: Request) -> Response:
    created = state.register(_subscriber_body(req, required=("targetHost",)))
    return json_response(200, {**created, "isSuccess": True, "errorMessage": ""})


def _patch_subscriber(state: PublisherState, req: Request) -> Response:
    fields = _subscriber_body(req)
    return json_response(200, state.update(req.params["subscriber_id"], fields, req.find_outcome))


def _delete_subscriber(state: PublisherState, req: Request) -> Response:
    state.deregister(req.params["subscriber_id"])
    return Response(204)


def _get_mismatches(state: PublisherState, req: Request) -> Response:
    query = MismatchFilter(
        req.param("subscriberId"),
        _enum_param(req, "recordType", RecordType),
        _enum_param(req, "recordAction", RecordAction),
    )
    offset, limit = _int_param(req, "offset") or 0, _int_param(req, "limit")
    cap = state.settings.max_page_size  # a scenario's DX that caps its pages below what was asked
    if cap is not None:
        limit = cap if limit is None else min(limit, cap)
    # ASSUMPTION: offset-limit-integers (and no limit answers every row)
    # ASSUMPTION: mismatches-unknown-subscriber-empty (an unknown subscriberId gives [], not 404)
    if req.endless_pages:
        count = limit or 1000
        return json_array(endless_rows(req.param("subscriberId") or "", offset, count), count)
    size, rows = state.mismatch_page(
        query, 0 if req.ignore_offset else offset, None if req.ignore_limit else limit
    )
    if req.hostile_records:
        rows = (hostile_row(row, offset + i) for i, row in enumerate(rows))
    if req.distinct_types is not None:
        rows = (distinct_type_row(row, offset + i, req.distinct_types) for i, row in enumerate(rows))
    if state.settings.record_fields == "columns":
        rows = (column_row(row) for row in rows)
    return json_array(rows, size)


def _delete_mismatches(state: PublisherState, req: Request) -> Response:
    state.delete_mismatches(req.param("subscriberId"))
    return Response(204)


def _list_operations(state: OperationsHost, req: Request) -> Response:
    statuses = _list_param(req, "status")
    # ASSUMPTION: operations-unknown-status-400 (values outside the spec's list are refused)
    unknown = sorted((statuses or set()) - set(OperationStatus))
    if unknown:
        raise BadRequest(f"status must be one of {', '.join(OperationStatus)}; got {', '.join(unknown)[:80]}")
    offset, limit = _int_param(req, "offset") or 0, _int_param(req, "limit")
    operations = state.operations(statuses, _list_param(req, "triggerFunctions"))
    return json_response(200, operations[offset : None if limit is None else offset + limit])


def _get_operation(state: OperationsHost, req: Request) -> Response:
    return json_response(200, state.operation(req.params["operation_id"]))


# -- routing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route(Generic[_H_contra]):
    """An endpoint and its handler; a route for any host (``Route[SessionHost]``) fits every host."""

    method: str
    base: str
    template: str
    handler: Callable[[_H_contra, Request], Response]
    pattern: re.Pattern[str]

    @property
    def key(self) -> str:
        """How faults name the endpoint, e.g. ``GET /staging/mismatches``."""
        return f"{self.method} {self.template}"


def _route(method: str, base: str, template: str, handler: Callable[[_H, Request], Response]) -> Route[_H]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, base, template, handler, re.compile(f"^{re.escape(base)}{regex}$"))


#: The publisher's endpoints.
ROUTES: tuple[Route[PublisherState], ...] = (
    _route("POST", RING_BASE, "/auth/login", _login),
    _route("POST", RING_BASE, "/auth/custom-login", _custom_login),
    _route("POST", RING_BASE, "/auth/validate", _validate),
    _route("POST", RING_BASE, "/auth/logout", _logout),
    _route("GET", DAM_BASE, "/staging/subscriber", _list_subscribers),
    _route("POST", DAM_BASE, "/staging/subscriber", _register),
    _route("GET", DAM_BASE, "/staging/subscriber/{subscriber_id}", _get_subscriber),
    _route("PATCH", DAM_BASE, "/staging/subscriber/{subscriber_id}", _patch_subscriber),
    _route("DELETE", DAM_BASE, "/staging/subscriber/{subscriber_id}", _delete_subscriber),
    _route("GET", DAM_BASE, "/staging/mismatches", _get_mismatches),
    _route("DELETE", DAM_BASE, "/staging/mismatches", _delete_mismatches),
    _route("GET", DAM_BASE, "/operations", _list_operations),
    _route("GET", DAM_BASE, "/operations/{operation_id}", _get_operation),
)

#: A subscriber's own DAM: what remediation needs to watch the resync's operations there.
SUBSCRIBER_DAM_ROUTES: tuple[Route[OperationsHost], ...] = (
    _route("POST", RING_BASE, "/auth/login", _login),
    _route("POST", RING_BASE, "/auth/logout", _logout),
    _route("GET", DAM_BASE, "/operations", _list_operations),
    _route("GET", DAM_BASE, "/operations/{operation_id}", _get_operation),
)

#: Every endpoint key, e.g. ``"PATCH /staging/subscriber/{subscriber_id}"``.
ENDPOINTS = frozenset(route.key for route in ROUTES)
#: The endpoint keys a subscriber DAM serves (a subset of :data:`ENDPOINTS`).
SUBSCRIBER_DAM_ENDPOINTS = frozenset(route.key for route in SUBSCRIBER_DAM_ROUTES)


def resolve(
    routes: Sequence[Route[_H]], method: str, path: str
) -> tuple[Route[_H], dict[str, str]] | Response:
    """The route and its path parameters, or the 404/405 answer."""
    allowed: list[str] = []
    for route in routes:
        match = route.pattern.match(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        allowed.append(route.method)
    base = RING_BASE if path.startswith(RING_BASE) else DAM_BASE
    # ASSUMPTION: undeclared-method-405 (what DX answers is unknown; 405 with Allow is what RFC 9110 and
    # schemathesis' unsupported_method check expect, and tells a client's author most)
    if allowed:
        return error_for(
            base, 405, f"{method} is not allowed on {path[:200]}", [("Allow", ", ".join(allowed))]
        )
    return error_for(base, 404, f"No endpoint {path[:200]}")


def dispatch(state: _H, route: Route[_H], req: Request) -> Response:
    """Checks the session for DAM endpoints, runs the handler and maps refusals to error bodies."""
    if route.base == DAM_BASE and state.session_user(req.cookie(COOKIE_NAME)) is None:
        return dam_error(401, "Unauthorized: the LtpaToken2 cookie is missing, invalid or expired")
    try:
        return route.handler(state, req)
    except BadRequest as exc:
        return error_for(route.base, 400, str(exc))
    except Rejected as exc:
        return dam_error(exc.status, exc.message)
