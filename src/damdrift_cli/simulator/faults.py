"""Fault injection: make chosen requests fail the way networks, ingresses and DX publishers fail.

A :class:`Fault` names an endpoint (``"GET /staging/mismatches"``, ``"POST /auth/login"`` or ``"*"``),
optionally a subscriber, and how many matching requests it spares (``after``) and then hits (``times``;
``None`` = every one). Faults are independent: each counts its own matches. When two would answer the same
request, the one added first wins. The publisher and each subscriber DAM have an injector of their own
(a DAM serves only login, logout and the operations endpoints: only those, or ``"*"``, fit there).

Kinds, by what they do:

* answer instead of the publisher (the request is not processed): ``status`` (any 4xx/5xx with the
  API's error body, optional ``Retry-After``; ``message`` is the body's message, line breaks and all,
  as a DX that writes its own diagnostics there sends it), ``drop`` (close the connection, no
  response), ``html`` (an HTML page, status 200 unless ``status`` says otherwise, like an ingress error page),
  ``redirect`` (``status`` 3xx with ``Location: location``), ``gzip_bomb`` (200, ``Content-Encoding:
  gzip``, a ~1 MiB body that inflates to ``size`` bytes, 1 GiB by default), ``drip`` (200 whose body
  arrives one byte every ``seconds``, for as long as the client listens), ``deep_json`` (200 with
  ``size`` nested arrays, 100,000 by default: what makes a JSON parser recurse too deep), ``echo``
  (``status``, 400 by default, with the API's error body whose message repeats the request line, its
  ``Cookie`` header and its body on lines of their own, as a DX or an ingress that reflects requests
  in its errors does; ``encoding`` shows them as such a server may, a JSON body as the server read it
  (``\\u00e4`` as ``ä``): ``json`` (``\\/`` and ``\\u00e4`` escapes), ``html`` (``&#39;``, decimal
  entities), ``xml`` (``&apos;``, hex entities, ``/`` too), ``url`` (percent-encoded, ``/`` kept),
  ``base64``, ``latin1`` (UTF-8 read as latin-1: mojibake)), ``json`` (200 with ``body`` as JSON: a DX
  that says whatever it likes, such as a subscriber whose id is a path), ``empty_objects`` (200 with
  ``[{},{},…]`` of ``size`` bytes, 8 MiB by default: the most memory a JSON parser allocates per byte
  received);
* spoil the publisher's answer: ``truncate`` (Content-Length larger than what is sent, then close),
  ``malformed_json`` (cut the JSON body short), ``drop_answer`` (the request *is* processed, then the
  connection closes before any answer: the client cannot know it went through);
* change the publisher first, then answer normally: ``delay`` (wait ``seconds``), ``expire_sessions``
  (every session ends, so the request gets 401), ``deregister`` (the ``subscriberId`` subscriber
  disappears), ``ignore_offset`` (``GET /staging/mismatches`` always answers the first page),
  ``find_stuck`` / ``find_failed`` (a find started by this request stays in FIND_MISMATCH_START, or
  fails with a FAILED ``findStagingMismatch`` operation whose ``retryCounter`` is 1), ``hostile_records``
  (``GET /staging/mismatches`` rows carry markup, quotes, line breaks, spreadsheet formulas, very long
  text and lone surrogates in ``recordId``, an extra ``note`` field and, for one row in 8, the
  ``recordType``: what a report's readers must see as text, never as markup or formulas),
  ``distinct_record_types`` (``GET /staging/mismatches`` rows each carry a ``recordType`` of their own,
  ``size`` characters long, 100,000 by default: a report whose type counts would grow without bound).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from damdrift_cli.simulator.api import ENDPOINTS
from damdrift_cli.simulator.state import FindOutcome

#: How an ``echo`` shows what it reflects (see :data:`ECHO_ENCODINGS` in :mod:`.httpd`).
EchoEncoding = Literal["plain", "json", "html", "xml", "url", "base64", "latin1"]
FaultKind = Literal[
    "status",
    "drop",
    "html",
    "truncate",
    "malformed_json",
    "drop_answer",
    "delay",
    "expire_sessions",
    "deregister",
    "ignore_offset",
    "find_stuck",
    "find_failed",
    "hostile_records",
    "redirect",
    "gzip_bomb",
    "drip",
    "deep_json",
    "ignore_limit",
    "endless_pages",
    "echo",
    "json",
    "empty_objects",
    "distinct_record_types",
]
#: Kinds that take ``size``, and their default.
SIZED_KINDS = {
    "gzip_bomb": 1 << 30,
    "deep_json": 100_000,
    "empty_objects": 8 << 20,
    "distinct_record_types": 100_000,
}


class Fault(BaseModel):
    """One scripted failure; also the shape of an entry in a scenario file's ``faults`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    endpoint: str = "*"
    kind: FaultKind
    status: int | None = Field(None, ge=200, le=599)
    encoding: EchoEncoding | None = Field(None, description="For kind echo: how the echo is encoded")
    retry_after: int | None = Field(None, ge=0, alias="retryAfter")
    seconds: float | None = Field(None, ge=0)
    subscriber_id: str | None = Field(
        None,
        alias="subscriberId",
        description="Spare requests about other subscribers (requests about none still match); "
        "for kind deregister, the subscriber that disappears",
    )
    times: int | None = Field(None, ge=1)
    after: int = Field(0, ge=0)
    location: str | None = Field(None, description="For kind redirect: the Location header")
    size: int | None = Field(
        None,
        ge=1,
        le=1 << 34,
        description="For gzip_bomb: inflated bytes; for deep_json: nesting depth; for empty_objects: "
        "bytes; for distinct_record_types: characters of each recordType",
    )
    body: Any = Field(None, description="For kind json: the JSON value answered")
    message: str | None = Field(None, description="For kind status: the error body's message")

    @field_validator("endpoint")
    @classmethod
    def _known_endpoint(cls, value: str) -> str:
        if value != "*" and value not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {value!r}; use '*' or one of: {', '.join(sorted(ENDPOINTS))}")
        return value

    @model_validator(mode="after")
    def _options_fit_kind(self) -> Self:
        if self.kind == "status" and (self.status is None or self.status < 400):
            raise ValueError("kind 'status' needs a status of 400 or more")
        if self.kind == "redirect" and (
            self.status is None or not 300 <= self.status < 400 or not self.location
        ):
            raise ValueError("kind 'redirect' needs a 3xx status and a location")
        if self.status is not None and self.kind not in ("status", "html", "redirect", "echo"):
            raise ValueError("status is only for kinds 'status', 'html', 'redirect' and 'echo'")
        if self.kind == "echo" and self.status is not None and self.status < 400:
            raise ValueError("kind 'echo' answers an error: a status of 400 or more")
        if self.encoding is not None and self.kind != "echo":
            raise ValueError("encoding is only for kind 'echo'")
        if self.location is not None and self.kind != "redirect":
            raise ValueError("location is only for kind 'redirect'")
        if self.size is not None and self.kind not in SIZED_KINDS:
            raise ValueError(f"size is only for kinds {', '.join(map(repr, SIZED_KINDS))}")
        if (self.body is None) != (self.kind != "json"):
            raise ValueError("body is required for kind 'json' and only for it")
        if self.message is not None and self.kind != "status":
            raise ValueError("message is only for kind 'status'")
        if self.retry_after is not None and self.kind != "status":
            raise ValueError("retryAfter is only for kind 'status'")
        if (self.seconds is None) != (self.kind not in ("delay", "drip")):
            raise ValueError("seconds is required for kinds 'delay' and 'drip' and only for them")
        if self.kind == "deregister" and self.subscriber_id is None:
            raise ValueError("kind 'deregister' needs subscriberId")
        return self


def make_fault(
    endpoint: str,
    kind: FaultKind,
    *,
    status: int | None = None,
    encoding: EchoEncoding | None = None,
    retry_after: int | None = None,
    seconds: float | None = None,
    subscriber_id: str | None = None,
    times: int | None = None,
    after: int = 0,
    location: str | None = None,
    size: int | None = None,
    body: Any = None,
    message: str | None = None,
) -> Fault:
    """A :class:`Fault` from Python names (what ``inject_fault`` of the publisher and of a DAM take)."""
    return Fault.model_validate(
        {
            "endpoint": endpoint,
            "kind": kind,
            "status": status,
            "encoding": encoding,
            "retryAfter": retry_after,
            "seconds": seconds,
            "subscriberId": subscriber_id,
            "times": times,
            "after": after,
            "location": location,
            "size": size,
            "body": body,
            "message": message,
        }
    )


@dataclass
class ActiveFault:
    """A fault in force, with its counters (read them to check a fault was hit)."""

    fault: Fault
    seen: int = 0
    applied: int = 0

    def _take(self) -> bool:
        self.seen += 1
        if self.seen <= self.fault.after:
            return False
        if self.fault.times is not None and self.applied >= self.fault.times:
            return False
        self.applied += 1
        return True


@dataclass
class FaultPlan:
    """What the faults in force do to one request."""

    kinds: list[str] = field(default_factory=list)
    delay: float = 0.0
    answer: Fault | None = None
    spoil: Fault | None = None
    expire_sessions: bool = False
    deregister: list[str] = field(default_factory=list)
    ignore_offset: bool = False
    find_outcome: FindOutcome | None = None
    hostile_records: bool = False
    ignore_limit: bool = False
    endless_pages: bool = False
    #: Characters of each row's own recordType (the distinct_record_types fault), or None.
    distinct_types: int | None = None


class FaultInjector:
    """The faults in force; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[ActiveFault] = []

    def add(self, fault: Fault) -> ActiveFault:
        active = ActiveFault(fault)
        with self._lock:
            self._faults.append(active)
        return active

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[ActiveFault]:
        with self._lock:
            return list(self._faults)

    def plan(self, endpoint: str | None, subscriber_id: str | None) -> FaultPlan:
        plan = FaultPlan()
        with self._lock:
            hits = [a.fault for a in self._faults if _matches(a.fault, endpoint, subscriber_id) and a._take()]
        for fault in hits:
            plan.kinds.append(fault.kind)
            match fault.kind:
                case (
                    "status"
                    | "drop"
                    | "html"
                    | "redirect"
                    | "gzip_bomb"
                    | "drip"
                    | "deep_json"
                    | "echo"
                    | "json"
                    | "empty_objects"
                ):
                    plan.answer = plan.answer or fault
                case "truncate" | "malformed_json" | "drop_answer":
                    plan.spoil = plan.spoil or fault
                case "delay":
                    plan.delay += fault.seconds or 0.0
                case "expire_sessions":
                    plan.expire_sessions = True
                case "deregister":
                    plan.deregister.append(fault.subscriber_id or "")
                case "ignore_offset":
                    plan.ignore_offset = True
                case "find_stuck":
                    plan.find_outcome = plan.find_outcome or "stuck"
                case "find_failed":
                    plan.find_outcome = plan.find_outcome or "fail"
                case "hostile_records":
                    plan.hostile_records = True
                case "ignore_limit":
                    plan.ignore_limit = True
                case "endless_pages":
                    plan.endless_pages = True
                case "distinct_record_types":
                    plan.distinct_types = fault.size or SIZED_KINDS["distinct_record_types"]
        return plan


def _matches(fault: Fault, endpoint: str | None, subscriber_id: str | None) -> bool:
    about_another = None not in (fault.subscriber_id, subscriber_id) and fault.subscriber_id != subscriber_id
    return fault.endpoint in ("*", endpoint) and not about_another
