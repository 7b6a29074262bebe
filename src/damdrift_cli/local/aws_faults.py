"""Makes the local AWS (moto) fail on purpose: S3 writes and SNS publishes, for the fault matrix and soak.

A fault names a service and an operation as botocore spells them (``s3``/``PutObject``, ``sns``/``Publish``),
optionally a fragment of the request path (an S3 key such as ``summary.json``), how many matching HTTP
attempts it spares (``after``) and then fails (``times``; ``None`` = every one). Faults are
independent; the first one added that matches an attempt answers it. Counters show they were hit.

How: one ``before-send`` handler, registered *first* on every botocore session (through
``botocore.handlers.BUILTIN_HANDLERS``, as moto registers its own stubber, and on boto3's default
session if it already exists). It runs before moto's stubber, for every client — our Lambdas' clients,
created at their cold start, and the ones moto's Step Functions interpreter makes for ``sns:publish``. No
client code of ours is patched. What it does is what the network or AWS would do, so botocore's real
machinery reacts:

* ``kind="connection"`` raises ``EndpointConnectionError`` before anything is sent: botocore's endpoint
  catches it and its retry handler retries with its backoff (``LocalAws(retry_time_scale=…)`` shrinks
  the sleeps); when its attempts are spent the error reaches our code as in production.
* ``kind="error"`` answers an HTTP error with the service's own error body (S3's REST-XML, SNS's query
  XML), parsed by botocore: ``InternalError``/500, ``SlowDown``/503 are retried by botocore, then raised
  as ``ClientError``; ``AccessDenied``/403 is raised at once. So that moto does not perform the
  operation anyway (botocore calls every ``before-send`` handler), the failed attempt's URL is pointed at
  an address moto does not serve; botocore builds a fresh request for its next attempt.

Only while a :class:`AwsFaults` is installed (``LocalAws`` installs its own) does the handler do anything.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import boto3
from botocore import handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import EndpointConnectionError

FaultKind = Literal["connection", "error"]

#: Where a failed attempt's request is pointed so that moto's stubber leaves it alone.
_DIVERTED_URL = "https://damdrift-injected-fault.invalid/"
_HANDLER_ID = "damdrift-local-aws-faults"
_PROTOCOLS = {"s3": "rest-xml", "sns": "query"}


@dataclass
class AwsFault:
    """One scripted failure; ``seen``/``applied`` count matching attempts and failed ones."""

    service: str
    operation: str
    kind: FaultKind = "error"
    code: str = "InternalError"
    status: int = 500
    path_contains: str | None = None
    times: int | None = None
    after: int = 0
    seen: int = 0
    applied: int = 0

    def matches(self, service: str, operation: str, path: str) -> bool:
        return (self.service, self.operation) == (service, operation) and (
            self.path_contains is None or self.path_contains in path
        )

    def take(self) -> bool:
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.applied >= self.times):
            return False
        self.applied += 1
        return True


class AwsFaults:
    """The AWS faults in force for one local run; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[AwsFault] = []

    def fail(
        self,
        service: str,
        operation: str,
        *,
        kind: FaultKind = "error",
        code: str = "InternalError",
        status: int = 500,
        path_contains: str | None = None,
        times: int | None = None,
        after: int = 0,
    ) -> AwsFault:
        """E.g. ``fail("s3", "PutObject", code="SlowDown", status=503, times=3)``; returns the fault."""
        if service not in _PROTOCOLS:
            raise ValueError(f"faults are for {', '.join(sorted(_PROTOCOLS))}, not {service!r}")
        if kind == "error" and not 400 <= status <= 599:
            raise ValueError("an error fault needs a 4xx or 5xx status")
        if (times is not None and times < 1) or after < 0:
            raise ValueError("times must be at least 1 (or None) and after not negative")
        fault = AwsFault(service, operation, kind, code, status, path_contains, times, after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[AwsFault]:
        with self._lock:
            return list(self._faults)

    @contextlib.contextmanager
    def installed(self) -> Iterator[AwsFaults]:
        """Makes this the set of faults the ``before-send`` handler applies, until the block ends."""
        _ensure_registered()
        with _installed.lock:
            if _installed.faults is not None:
                raise RuntimeError("another AwsFaults is installed: one local AWS at a time")
            _installed.faults = self
        try:
            yield self
        finally:
            with _installed.lock:
                _installed.faults = None

    def answer(self, request: AWSPreparedRequest, event_name: str) -> AWSResponse | None:
        """The handler's work: None lets the request through to moto."""
        _, service, operation = [*event_name.split("."), "", ""][:3]
        path = unquote(urlsplit(request.url or "").path)
        with self._lock:
            fault = next(
                (f for f in self._faults if f.matches(service, operation, path) and f.take()),
                None,
            )
        if fault is None:
            return None
        if fault.kind == "connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        request.url = _DIVERTED_URL
        return _error_response(fault)


class _Body:
    """The raw body botocore reads from an ``AWSResponse``."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._data


def _error_response(fault: AwsFault) -> AWSResponse:
    request_id = uuid.uuid4().hex
    message = f"injected fault: {fault.code}"
    if _PROTOCOLS[fault.service] == "query":
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
            f"<Type>{'Receiver' if fault.status >= 500 else 'Sender'}</Type><Code>{fault.code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{fault.code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    headers = HTTPHeaders()
    headers["Content-Type"] = "text/xml"
    headers["x-amzn-RequestId"] = request_id
    return AWSResponse(_DIVERTED_URL, fault.status, headers, _Body(body.encode()))


@dataclass
class _Installed:
    lock: threading.Lock
    faults: AwsFaults | None = None


_installed = _Installed(threading.Lock())


def _before_send(request: AWSPreparedRequest, event_name: str, **kwargs: Any) -> AWSResponse | None:
    faults = _installed.faults
    return faults.answer(request, event_name) if faults is not None else None


def _ensure_registered() -> None:
    """Every session made from now on gets the handler; so does boto3's default session if it exists."""
    spec = ("before-send", _before_send, handlers.REGISTER_FIRST)
    if spec not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(spec)
    if boto3.DEFAULT_SESSION is not None:
        handler: Any = _before_send  # botocore's stubs say handlers return None; before-send ones may answer
        boto3.DEFAULT_SESSION.events.register_first("before-send", handler, unique_id=_HANDLER_ID)


_ensure_registered()
