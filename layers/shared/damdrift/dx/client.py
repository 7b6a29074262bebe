"""A typed client for the DX publisher APIs that DAM staging mismatch uses.

Transport concerns are urllib3's: one ``requests.Session`` with a ``Retry`` that backs off (with
jitter) on connection errors, 429/502/503/504 and honours ``Retry-After`` (capped). What is left here is
DX's own behaviour: LTPA cookie sessions (log in again once on a DAM 401), DX's two error body shapes,
and paging through mismatch logs with constant memory.

Everything DX sends is untrusted: redirects are never followed (the credentials and the session go
only to the host the operator named; any 3xx is an ``UnexpectedResponse``), the session cookie is the
one the login answer set and is sent only to that host, every body is read streamed under a byte cap
and a deadline, and DX text in an error is redacted before it is cut.

Nothing in here formats a password or a cookie value into a message or a log line.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any, Literal, TypeVar, cast
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3.exceptions
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from urllib3.util.retry import Retry

from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.dx.models import Operation, RecordAction, RecordType, Subscriber
from damdrift.dx.redaction import Redactor
from damdrift.dx.trigger import TriggerRequest
from damdrift.dx.tuning import ClientTuning as ClientTuning  # noqa: PLC0414 - re-exported: the client's knobs
from damdrift.errors import (
    AuthenticationError,
    Conflict,
    DxError,
    DxUnavailable,
    NotFound,
    PermissionDenied,
    SubscriberNotFound,
    UnexpectedResponse,
)

logger = logging.getLogger(__name__)

SESSION_COOKIE = "LtpaToken2"
_BODY_PREVIEW = 120
_MESSAGE_CHARS = 300
#: The most characters of an operation's ``errorInfo`` (as JSON) our errors carry: DX's diagnosis travels
#: in an error's message to summary.json, the notices and the execution history (a cause keeps 32,768).
ERROR_INFO_CHARS = 1000
#: The most characters of an operation's ``status`` our errors carry (DX's own are single words).
_STATUS_CHARS = 100
_READ_CHUNK = 64 * 1024
#: RFC 6265 cookie-octets: anything else (a CR/LF, a quote) could not be sent back as a header anyway.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,4096}")
Api = Literal["ring", "dam"]
#: How messages name a user whose name holds the password.
WITHHELD_USER = "the configured user (name withheld)"
#: The calls whose answer may be large (a page of records, a list of operations): they get the whole
#: ``max_response_bytes``. Every other answer gets ``max_small_response_bytes``.
_LARGE_ANSWERS = frozenset({("GET", "/staging/mismatches"), ("GET", "/operations")})
#: JSON objects and arrays a mismatch page may hold per record asked for (a record is one object).
_CONTAINERS_PER_RECORD = 16
#: Bytes a mismatch page may average per record it holds. A DX record is ~270 bytes (seven short fields);
#: the bound is 30 times that. Records are buffered by count while they are written (the read-ahead), so
#: without it a page of a few 100 KB records (the 8 MiB cap admits them) would hold hundreds of MB there.
_BYTES_PER_RECORD = 8 * 1024
_Model = TypeVar("_Model", bound=BaseModel)


class _DeadlineRetry(Retry):
    """urllib3's ``Retry`` that never waits past the request's deadline nor starts an attempt after it.

    urllib3's timeouts bound each socket operation, not a request: with retries, backoff and
    ``Retry-After`` one request could last many minutes. The deadline makes the whole request's time
    ``request_deadline`` plus at most one attempt already under way.
    """

    deadline: float | None = None

    def new(self, **kw: Any) -> _DeadlineRetry:
        retry = super().new(**kw)
        retry.deadline = self.deadline
        return retry

    def _remaining(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), self._remaining())

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self._remaining())

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or (self.deadline is not None and self._remaining() <= 0)


def _retry_policy(tuning: ClientTuning) -> _DeadlineRetry:
    return _DeadlineRetry(
        total=tuning.retries,
        connect=tuning.retries,
        read=tuning.retries,
        status=tuning.retries,
        other=tuning.retries,
        backoff_factor=tuning.backoff_factor,
        backoff_max=tuning.backoff_max,
        backoff_jitter=tuning.backoff_jitter,
        status_forcelist=(429, 502, 503, 504),
        # Every call here is safe to repeat: reads, deletes of the whole log, and a trigger whose
        # repeat DX answers with 409, which the trigger step treats as "already running".
        allowed_methods=frozenset({"GET", "POST", "PATCH", "DELETE"}),
        respect_retry_after_header=True,
        retry_after_max=tuning.retry_after_max,
        # Never followed: a redirect would carry the password or the session cookie to another host.
        redirect=0,
        raise_on_redirect=False,
        raise_on_status=False,
    )


@dataclass(frozen=True)
class _Answer:
    """One DX response, its body read whole (under the cap) and the connection released."""

    status: int
    content_type: str
    body: bytes
    session_token: str | None = None
    #: The cookies a login answer set, as parsed (the doctor reports their attributes); empty otherwise.
    login_cookies: tuple[Cookie, ...] = ()


class DxClient:
    """One publisher, one user, one session. Cheap to keep across warm Lambda invocations."""

    def __init__(
        self,
        connection: DxConnection,
        credentials: DxCredentials,
        tuning: ClientTuning | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.connection = connection
        self._credentials = credentials
        self.tuning = tuning or ClientTuning()
        self._session = session or requests.Session()
        self._retry = _retry_policy(self.tuning)
        self._adapter = HTTPAdapter(max_retries=self._retry)
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        # Passed with every request too: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
        # environment override a session's ``verify``, which would ignore caBundle and verifyTls.
        self._verify: str | bool = connection.ca_bundle or connection.verify_tls
        self._session.verify = self._verify
        if not connection.verify_tls:
            logger.warning(
                "TLS certificate verification is OFF for %s (verifyTls=false): anyone on the path can "
                "read the DX credentials; use caBundle for a private CA instead",
                connection.hostname,
            )
        # No cookie jar: the one cookie that matters is kept below and sent only to the DX host.
        self._session.cookies = RequestsCookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        # identity: a compressed body could expand past any memory (urllib3 still caps what it inflates).
        self._session.headers.update(
            {"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": "dam-drift"}
        )
        self._token: str | None = None
        self._redactor = Redactor([credentials.password.get_secret_value()])
        self._logged_in = False
        #: How many HTTP exchanges this client made (after urllib3's retries): for metrics and tests.
        self.calls = 0

    def __repr__(self) -> str:
        return f"DxClient({self.connection.publisher_id!r}, {self.user})"

    @property
    def user(self) -> str:
        """The account as messages name it: ``user 'wpsadmin'``. A user name is not a secret, but one
        that holds the password (DX's default account is wpsadmin/wpsadmin) would show it, so such a
        name is withheld: :data:`WITHHELD_USER`, never a ``[redacted]`` that reads like a name."""
        name = self._credentials.username
        return f"user {name!r}" if self._redactor.redact(name) == name else WITHHELD_USER

    # -- session ----------------------------------------------------------------------------------

    def login(self) -> None:
        """``POST {ring}/auth/login``; the ``LtpaToken2`` cookie lands in the session's jar."""
        self._token = None
        body = {
            "username": self._credentials.username,
            "password": self._credentials.password.get_secret_value(),
        }
        answer = self._send("POST", "ring", "/auth/login", json=body)
        if answer.status in (400, 401):
            raise AuthenticationError(
                f"DX at {self.connection.hostname} refused the login of {self.user} "
                f"(HTTP {answer.status}: {self._dx_says(answer, login=True)})"
            )
        self._check(answer, "POST", "/auth/login", login=True)
        if not answer.session_token:
            raise UnexpectedResponse(
                f"POST {self.connection.ring_base_url}/auth/login answered {answer.status} "
                f"without a {SESSION_COOKIE} cookie"
            )
        self._token = answer.session_token
        self._logged_in = True

    def logout(self) -> None:
        """Best effort: ends the session on the server; never raises."""
        if not self._logged_in:
            return
        try:
            self._send("POST", "ring", "/auth/logout")
        except DxError:
            logger.info("logout failed; the session will expire on its own")
        self._logged_in = False
        self._token = None

    # -- subscribers --------------------------------------------------------------------------------

    def list_subscribers(self) -> list[Subscriber]:
        data = self._json("GET", "/staging/subscriber")
        if not isinstance(data, list):
            raise UnexpectedResponse(
                f"GET /staging/subscriber: expected a JSON array, got {type(data).__name__}"
            )
        where = "GET /staging/subscriber"
        return [self._model(Subscriber, item, where, f"subscriber {n}'s") for n, item in enumerate(data, 1)]

    def get_subscriber(self, subscriber_id: str) -> Subscriber:
        try:
            data = self._json("GET", f"/staging/subscriber/{quote(subscriber_id, safe='')}")
        except NotFound as exc:
            raise SubscriberNotFound(
                f"subscriber {subscriber_id!r} is not registered on {self.connection.hostname}"
            ) from exc
        return self._model(Subscriber, data, f"GET /staging/subscriber/{subscriber_id}", "the subscriber's")

    def start_find_mismatch(self, subscriber_id: str) -> None:
        """Starts find-staging-mismatch for one subscriber. Raises ``Conflict`` if one is running."""
        self._trigger(self.tuning.find_mismatch_request, subscriber_id)

    def start_resync(self, subscriber_id: str) -> None:
        """Starts a staging resync for one subscriber (DX repairs the subscriber from the publisher)."""
        self._trigger(self.tuning.resync_request, subscriber_id)

    def _trigger(self, request: TriggerRequest, subscriber_id: str) -> None:
        method, path, body = request.render(subscriber_id)
        try:
            self._json(method, path, json=body, expect_body=False)
        except NotFound as exc:
            raise SubscriberNotFound(
                f"subscriber {subscriber_id!r} is not registered on {self.connection.hostname}"
            ) from exc

    # -- mismatch log -------------------------------------------------------------------------------

    def delete_mismatches(self, subscriber_id: str) -> None:
        """Clears the subscriber's mismatch log: DX appends rows, so a fresh report needs a clean log."""
        self._json("DELETE", "/staging/mismatches", params={"subscriberId": subscriber_id}, expect_body=False)

    def iter_mismatches(
        self,
        subscriber_id: str,
        record_type: RecordType | str | None = None,
        record_action: RecordAction | str | None = None,
        page_size: int | None = None,
        start_offset: int = 0,
        known_first: Any = None,
    ) -> Iterator[dict[str, Any]]:
        """Yields every mismatch record, page by page (``offset``/``limit``), holding one page at a time.

        Records are yielded as DX sent them (dicts): at a million records a model per record would
        cost more than the download. A server that ignores ``offset`` (returns the same page again)
        is detected and reported instead of looping forever. When resuming (``start_offset`` > 0),
        ``known_first`` is the log's first record: a page starting with it again is that same fault.
        """
        limit = page_size or self.tuning.page_size
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        params: dict[str, str] = {"subscriberId": subscriber_id}
        if record_type is not None:
            params["recordType"] = RecordType(record_type).value
        if record_action is not None:
            params["recordAction"] = RecordAction(record_action).value
        offset = start_offset
        previous_first: Any = known_first
        while True:
            # ASSUMPTION: offset-limit-integers
            page = self._json(
                "GET",
                "/staging/mismatches",
                params={**params, "offset": str(offset), "limit": str(limit)},
                max_containers=_CONTAINERS_PER_RECORD * limit + _CONTAINERS_PER_RECORD,
                max_bytes_per_item=_BYTES_PER_RECORD,
            )
            if not isinstance(page, list):
                raise UnexpectedResponse(
                    f"GET /staging/mismatches?offset={offset}: expected a JSON array, "
                    f"got {type(page).__name__}"
                )
            if not page:
                return
            if len(page) > limit:
                raise UnexpectedResponse(
                    f"GET /staging/mismatches?offset={offset}: {len(page)} records in a page asked for at "
                    f"most {limit}: the server ignores 'limit'; stopping instead of trusting its paging"
                )
            first = page[0]
            if previous_first is not None and first == previous_first:
                raise UnexpectedResponse(
                    f"GET /staging/mismatches returned the same page at offset {offset} as before: "
                    "the server ignores 'offset'; stopping instead of looping"
                )
            previous_first = first
            yield from page
            # A short page is NOT the end: DX may cap its pages below our limit (its maximum is not
            # documented), and stopping there would silently cut the report. Only an empty page ends it.
            offset += len(page)

    # -- operations -------------------------------------------------------------------------------

    def list_operations(
        self,
        status: str | list[str] | None = None,
        trigger_functions: str | list[str] | None = None,
        limit: int | None = None,
    ) -> list[Operation]:
        """DAM background operations, for pre-flight checks and for diagnosing a failed find."""
        params: dict[str, str] = {}
        # ASSUMPTION: operations-comma-lists
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if trigger_functions:
            params["triggerFunctions"] = (
                trigger_functions if isinstance(trigger_functions, str) else ",".join(trigger_functions)
            )
        if limit:
            params["limit"] = str(limit)
        data = self._json("GET", "/operations", params=params, max_containers=self.tuning.max_json_containers)
        if not isinstance(data, list):
            raise UnexpectedResponse(f"GET /operations: expected a JSON array, got {type(data).__name__}")
        return [
            self._shown(self._model(Operation, item, "GET /operations", f"operation {n}'s"))
            for n, item in enumerate(data, 1)
        ]

    def _shown(self, operation: Operation) -> Operation:
        """The operation as our errors may carry it (poll-status's diagnosis): its ``status`` redacted and
        cut at :data:`_STATUS_CHARS`; its ``errorInfo`` DX's own object when it is short and holds no
        secret, else ``{"excerpt": its JSON redacted, then cut, "chars": its length}``."""
        status = _cut(self._redactor.redact(operation.status), _STATUS_CHARS)
        if status != operation.status:
            operation = operation.model_copy(update={"status": status})
        info = operation.error_info
        if info is None:
            return operation
        try:
            text = jsonlib.dumps(info, ensure_ascii=False, default=str)
        except (RecursionError, ValueError):  # parsed, but too deep to write back from here
            return operation.model_copy(update={"error_info": {"excerpt": "[nested too deeply to show]"}})
        shown = self._redactor.redact(text)
        if shown == text and len(text) <= ERROR_INFO_CHARS:
            return operation
        excerpt = {"excerpt": _cut(shown, ERROR_INFO_CHARS), "chars": len(text)}
        return operation.model_copy(update={"error_info": excerpt})

    # -- plumbing -----------------------------------------------------------------------------------

    def _model(self, model: type[_Model], data: Any, where: str, whose: str) -> _Model:
        """``data`` as ``model``, or an UnexpectedResponse naming the first field DX got wrong (an id
        that is not a plain key segment, a missing or mistyped field), in one sentence."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = repr(".".join(str(part) for part in first["loc"])) if first["loc"] else "shape"
            problem = _cut(self._redactor.redact(first["msg"].removeprefix("Value error, ")), _MESSAGE_CHARS)
            raise UnexpectedResponse(f"{where}: {whose} {field} is unusable ({problem})") from None

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        expect_body: bool = True,
        max_containers: int | None = None,
        max_bytes_per_item: int | None = None,
    ) -> Any:
        """A DAM call with the session; logs in first if needed and once more on a 401.

        ``max_containers``: the most JSON objects and arrays the answer may hold, counted before it is
        parsed (for the large answers, whose byte cap alone would let a flood of ``{}`` through).
        ``max_bytes_per_item``: the most bytes a JSON array answer may average per item it holds."""
        if not self._logged_in:
            self.login()
        answer = self._send(method, "dam", path, params=params, json=json)
        if answer.status == 401:
            logger.info("DX answered 401 on %s %s; logging in again once", method, path)
            self.login()
            answer = self._send(method, "dam", path, params=params, json=json)
            if answer.status == 401:
                raise AuthenticationError(
                    f"DX at {self.connection.hostname} rejected a fresh session of {self.user} "
                    f"on {method} {path} (HTTP 401: {self._dx_says(answer)})"
                )
        self._check(answer, method, path)
        if not expect_body or answer.status == 204 or not answer.body:
            return None
        parsed = self._parse(answer, method, path, max_containers)
        if max_bytes_per_item is not None and isinstance(parsed, list):
            average = len(answer.body) // max(len(parsed), 1)
            if average > max_bytes_per_item:
                raise UnexpectedResponse(
                    f"{method} {path}: {len(parsed)} items of {average} bytes on average, more than "
                    f"{max_bytes_per_item}: not DX's mismatch records (about 300 bytes each)"
                )
        return parsed

    def _send(
        self,
        method: str,
        api: Api,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> _Answer:
        """One exchange with the DX host: no redirect followed, the body read under the cap and deadline."""
        base = self.connection.ring_base_url if api == "ring" else self.connection.dam_base_url
        url = base + path
        self.calls += 1
        deadline = time.monotonic() + self.tuning.request_deadline
        # Per request (a client is used by one thread at a time): urllib3's retries end at the deadline.
        retry = self._retry.new()
        retry.deadline = deadline
        self._adapter.max_retries = retry
        headers = {"Cookie": f"{SESSION_COOKIE}={self._token}"} if self._token else None
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=(self.tuning.connect_timeout, self.tuning.read_timeout),
                verify=self._verify,
                allow_redirects=False,
                stream=True,
            )
            with contextlib.closing(response):
                if 300 <= response.status_code < 400:
                    raise UnexpectedResponse(self._redirected(response, method, url))
                body = self._read(response, method, url, deadline, self._cap(method, path))
                token = self._session_token(response) if path == "/auth/login" else None
                # A RequestsCookieJar iterates Cookie objects (the stubs say its keys).
                jar = cast("tuple[Cookie, ...]", tuple(response.cookies))
                login_cookies = jar if path == "/auth/login" else ()
        except requests.exceptions.SSLError as exc:
            raise DxUnavailable(
                f"{method} {url}: TLS verification failed ({_reason(exc)}); "
                "set a CA bundle for a self-signed ingress"
            ) from None
        except requests.exceptions.RetryError as exc:
            raise DxUnavailable(
                f"{method} {url}: still failing after {self.tuning.retries} retries ({_reason(exc)})"
            ) from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            urllib3.exceptions.TimeoutError,
        ) as exc:
            raise DxUnavailable(f"{method} {url}: {type(exc).__name__} ({_reason(exc)})") from None
        except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError) as exc:
            raise DxUnavailable(f"{method} {url}: the response body was cut off ({_reason(exc)})") from None
        except urllib3.exceptions.DecodeError:
            raise UnexpectedResponse(f"{method} {url}: the response body could not be decoded") from None
        content_type = response.headers.get("Content-Type", "")
        return _Answer(response.status_code, content_type, body, token, login_cookies)

    def _redirected(self, response: requests.Response, method: str, url: str) -> str:
        """The error for a 3xx: names the host it points to, not its path or query (they may hold tokens)."""
        location = response.headers.get("Location")
        target = urlsplit(urljoin(url, location)).hostname if location else None
        return (
            f"{method} {url.split('?', maxsplit=1)[0]} answered HTTP {response.status_code}, a redirect to "
            f"{target or 'no location'}: dam-drift never follows redirects, so the credentials and the "
            f"session go only to {self.connection.hostname}; point the input at the host that answers"
        )

    def _cap(self, method: str, path: str) -> int:
        """The most bytes the answer to ``method path`` may have."""
        large = self.tuning.max_response_bytes
        return large if (method, path) in _LARGE_ANSWERS else min(self.tuning.max_small_response_bytes, large)

    def _read(self, response: requests.Response, method: str, url: str, deadline: float, cap: int) -> bytes:
        """The body, at most ``cap`` bytes (as decoded), within the request's deadline.

        ``read1`` returns what one socket read brings, so a server that drip-feeds bytes meets the
        deadline between reads instead of keeping a read open forever.
        """
        where = f"{method} {url.split('?', maxsplit=1)[0]}"
        which = "one response" if cap == self.tuning.max_response_bytes else "a small answer such as this"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise UnexpectedResponse(
                f"{where}: the response declares {declared} bytes, "
                f"more than {cap} allowed (the cap of {which})"
            )
        body = bytearray()
        while chunk := response.raw.read1(_READ_CHUNK, decode_content=True):
            body += chunk
            if len(body) > cap:
                raise UnexpectedResponse(f"{where}: the response passed {cap} bytes (the cap of {which})")
            if time.monotonic() > deadline:  # broken or hostile, not busy: not worth four more tries
                raise UnexpectedResponse(
                    f"{where}: the response was still arriving after {self.tuning.request_deadline:g} s "
                    "(the deadline of one request)"
                )
        return bytes(body)

    def _session_token(self, response: requests.Response) -> str | None:
        """The LtpaToken2 this login answer set for this host; a malformed one counts as none."""
        for cookie in response.cookies:
            if cookie.name == SESSION_COOKIE and cookie.value and _COOKIE_VALUE.fullmatch(cookie.value):
                self._redactor.add(cookie.value)
                return cookie.value
        return None

    def _check(self, answer: _Answer, method: str, path: str, *, login: bool = False) -> None:
        status = answer.status
        if status < 400:
            return
        where = f"{method} {path} on {self.connection.hostname}"
        detail = f"HTTP {status}: {self._dx_says(answer, login=login)}"
        if status == 403:
            raise PermissionDenied(
                f"{where}: {self.user} is not allowed ({detail}); DAM staging needs a DX administrator"
            )
        if status == 404:
            raise NotFound(f"{where}: {detail}")
        if status == 409:
            raise Conflict(f"{where}: {detail}")
        if status in (429,) or status >= 500:
            raise DxUnavailable(f"{where}: {detail}")
        raise UnexpectedResponse(f"{where}: {detail}")

    def _dx_says(self, answer: _Answer, *, login: bool = False) -> str:
        """DX's error message, or the start of its body, redacted *before* it is cut: a server that
        echoes a request must not put a secret (or a piece of one) into our errors, logs and history.
        A login answer's body is never shown (it is the answer to a request carrying the password)."""
        try:
            body = _loads(answer.body)
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("reason") or error.get("name") or "")
            return _cut(self._redactor.redact(message), _MESSAGE_CHARS) or "no message"
        if login:
            return f"{answer.content_type or 'no content type'} body of {len(answer.body)} bytes, not shown"
        return f"{answer.content_type or 'no content type'} body starting {self._preview(answer)}"

    def _preview(self, answer: _Answer) -> str:
        text = self._redactor.redact(answer.body.decode("utf-8", "replace"))
        return self._redactor.redact(repr(_cut(text, _BODY_PREVIEW)))

    def _parse(self, answer: _Answer, method: str, path: str, max_containers: int | None = None) -> Any:
        if max_containers is not None:
            # Every object or array starts with a { or [ byte (UTF-8 never has them inside a character);
            # those in strings count too, which only errs on the safe side.
            containers = answer.body.count(b"{") + answer.body.count(b"[")
            if containers > max_containers:
                raise UnexpectedResponse(
                    f"{method} {path}: the answer holds {containers} JSON objects and arrays, more than "
                    f"{max_containers}: refused before parsing (it would take far more memory than its bytes)"
                )
        try:
            if "json" not in answer.content_type:
                raise ValueError("not JSON")
            return _loads(answer.body)
        except ValueError:
            raise UnexpectedResponse(
                f"{method} {path}: expected JSON, got HTTP {answer.status} "
                f"{answer.content_type or 'no content type'} starting {self._preview(answer)}"
            ) from None


def _loads(body: bytes) -> Any:
    """JSON, with nesting too deep for the parser (``RecursionError``) counted as malformed."""
    try:
        return jsonlib.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _reason(exc: BaseException) -> str:
    """The innermost cause's class name: enough to tell a refused connection from a timeout, no URLs."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if not isinstance(nxt, BaseException) or nxt is inner:
            break
        inner = nxt
    return type(inner).__name__
