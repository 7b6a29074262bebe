"""A typed client for the DX publisher APIs that DAM staging mismatch uses.

Transport concerns are urllib3's: one ``requests.Session`` with a ``Retry`` that backs off (with
jitter) on connection errors, 429/502/503/504 and honours ``Retry-After``. What is left here is DX's
own behaviour: LTPA cookie sessions (log in again once on a DAM 401), DX's two error body shapes,
and paging through mismatch logs with constant memory.

Nothing in here formats a password or a cookie value into a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.dx.models import Operation, RecordAction, RecordType, Subscriber
from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, RESYNC_DEFAULT, TriggerRequest
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
Api = Literal["ring", "dam"]


@dataclass(frozen=True)
class ClientTuning:
    """Transport knobs. Defaults suit a Lambda talking to a DX ingress; tests shrink the backoff."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff_factor: float = 0.5
    backoff_max: float = 20.0
    backoff_jitter: float = 0.5
    page_size: int = 1000
    find_mismatch_request: TriggerRequest = FIND_MISMATCH_DEFAULT
    resync_request: TriggerRequest = RESYNC_DEFAULT


def _retry_policy(tuning: ClientTuning) -> Retry:
    return Retry(
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
        raise_on_status=False,
    )


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
        adapter = HTTPAdapter(max_retries=_retry_policy(self.tuning))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
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
        self._session.headers.update({"Accept": "application/json", "User-Agent": "dam-drift"})
        self._logged_in = False
        #: How many HTTP exchanges this client made (after urllib3's retries): for metrics and tests.
        self.calls = 0

    def __repr__(self) -> str:
        return f"DxClient({self.connection.publisher_id!r}, user={self._credentials.username!r})"

    @property
    def username(self) -> str:
        return self._credentials.username

    # -- session ----------------------------------------------------------------------------------

    def login(self) -> None:
        """``POST {ring}/auth/login``; the ``LtpaToken2`` cookie lands in the session's jar."""
        self._session.cookies.clear()
        body = {
            "username": self._credentials.username,
            "password": self._credentials.password.get_secret_value(),
        }
        response = self._send("POST", "ring", "/auth/login", json=body)
        if response.status_code in (400, 401):
            raise AuthenticationError(
                f"DX at {self.connection.hostname} refused the login of user {self._credentials.username!r} "
                f"(HTTP {response.status_code}: {self._dx_says(response)})"
            )
        self._check(response, "POST", "/auth/login")
        if not self._session.cookies.get(SESSION_COOKIE):
            raise UnexpectedResponse(
                f"POST {self.connection.ring_base_url}/auth/login answered {response.status_code} "
                f"without a {SESSION_COOKIE} cookie"
            )
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
        self._session.cookies.clear()

    # -- subscribers --------------------------------------------------------------------------------

    def list_subscribers(self) -> list[Subscriber]:
        data = self._json("GET", "/staging/subscriber")
        if not isinstance(data, list):
            raise UnexpectedResponse(
                f"GET /staging/subscriber: expected a JSON array, got {type(data).__name__}"
            )
        return [Subscriber.model_validate(item) for item in data]

    def get_subscriber(self, subscriber_id: str) -> Subscriber:
        try:
            data = self._json("GET", f"/staging/subscriber/{quote(subscriber_id, safe='')}")
        except NotFound as exc:
            raise SubscriberNotFound(
                f"subscriber {subscriber_id!r} is not registered on {self.connection.hostname}"
            ) from exc
        return Subscriber.model_validate(data)

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
                "GET", "/staging/mismatches", params={**params, "offset": str(offset), "limit": str(limit)}
            )
            if not isinstance(page, list):
                raise UnexpectedResponse(
                    f"GET /staging/mismatches?offset={offset}: expected a JSON array, "
                    f"got {type(page).__name__}"
                )
            if not page:
                return
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
            if len(page) > limit:
                # The server ignored 'limit' and sent everything from 'offset' on.
                return
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
        data = self._json("GET", "/operations", params=params)
        if not isinstance(data, list):
            raise UnexpectedResponse(f"GET /operations: expected a JSON array, got {type(data).__name__}")
        return [Operation.model_validate(item) for item in data]

    # -- plumbing -----------------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        expect_body: bool = True,
    ) -> Any:
        """A DAM call with the session; logs in first if needed and once more on a 401."""
        if not self._logged_in:
            self.login()
        response = self._send(method, "dam", path, params=params, json=json)
        if response.status_code == 401:
            logger.info("DX answered 401 on %s %s; logging in again once", method, path)
            self.login()
            response = self._send(method, "dam", path, params=params, json=json)
            if response.status_code == 401:
                raise AuthenticationError(
                    f"DX at {self.connection.hostname} rejected a fresh session of user "
                    f"{self._credentials.username!r} on {method} {path} (HTTP 401: {self._dx_says(response)})"
                )
        self._check(response, method, path)
        if not expect_body or response.status_code == 204 or not response.content:
            return None
        return self._parse(response, method, path)

    def _send(
        self,
        method: str,
        api: Api,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        base = self.connection.ring_base_url if api == "ring" else self.connection.dam_base_url
        url = base + path
        self.calls += 1
        try:
            return self._session.request(
                method,
                url,
                params=params,
                json=json,
                timeout=(self.tuning.connect_timeout, self.tuning.read_timeout),
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            raise DxUnavailable(
                f"{method} {url}: TLS verification failed ({_reason(exc)}); "
                "set a CA bundle for a self-signed ingress"
            ) from None
        except requests.exceptions.RetryError as exc:
            raise DxUnavailable(
                f"{method} {url}: still failing after {self.tuning.retries} retries ({_reason(exc)})"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise DxUnavailable(f"{method} {url}: {type(exc).__name__} ({_reason(exc)})") from None
        except requests.exceptions.ChunkedEncodingError as exc:
            raise DxUnavailable(f"{method} {url}: the response body was cut off ({_reason(exc)})") from None

    def _check(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{method} {path} on {self.connection.hostname}"
        detail = f"HTTP {status}: {self._dx_says(response)}"
        if status == 403:
            raise PermissionDenied(
                f"{where}: user {self._credentials.username!r} is not allowed ({detail}); "
                "DAM staging needs a DX administrator"
            )
        if status == 404:
            raise NotFound(f"{where}: {detail}")
        if status == 409:
            raise Conflict(f"{where}: {detail}")
        if status in (429,) or status >= 500:
            raise DxUnavailable(f"{where}: {detail}")
        raise UnexpectedResponse(f"{where}: {detail}")

    def _dx_says(self, response: requests.Response) -> str:
        """DX's error message (or the body's start), with the password and session cookie blanked out:
        a server that echoes a request must not put a secret into our errors, logs and history."""
        return self._redact(_dx_message(response))

    def _redact(self, text: str) -> str:
        secrets = [self._credentials.password.get_secret_value(), *self._session.cookies.values()]
        forms = {form for s in secrets if s for form in (s, repr(s)[1:-1])}  # raw, and as a preview shows it
        for secret in sorted(forms, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    def _parse(self, response: requests.Response, method: str, path: str) -> Any:
        content_type = response.headers.get("Content-Type", "")
        try:
            if "json" not in content_type:
                raise ValueError("not JSON")
            return response.json()
        except (ValueError, requests.exceptions.JSONDecodeError):
            raise UnexpectedResponse(
                f"{method} {path}: expected JSON, got HTTP {response.status_code} "
                f"{content_type or 'no content type'} "
                f"starting {self._redact(_preview(response))}"
            ) from None


def _reason(exc: BaseException) -> str:
    """The innermost cause's class name: enough to tell a refused connection from a timeout, no URLs."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if not isinstance(nxt, BaseException) or nxt is inner:
            break
        inner = nxt
    return type(inner).__name__


def _preview(response: requests.Response) -> str:
    text = response.content[:_BODY_PREVIEW].decode("utf-8", "replace")
    return repr(text + ("…" if len(response.content) > _BODY_PREVIEW else ""))


def _dx_message(response: requests.Response) -> str:
    """The message of either DX error shape (Ring or DAM: both ``error.message``), else a preview."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.headers.get('Content-Type', 'no content type')} body starting {_preview(response)}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("reason") or error.get("name") or "")
        return message[:300] or "no message"
    return f"body starting {_preview(response)}"
