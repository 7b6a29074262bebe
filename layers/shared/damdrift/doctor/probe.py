"""The read-only probe: log in, read subscribers, mismatch logs and operations, and say what DX does.

It uses :class:`~damdrift.dx.client.DxClient`'s session and transport (retries, TLS settings, redaction)
through :class:`ProbeClient`, which refuses to send anything but ``GET`` and the three auth ``POST``\\ s
(``/auth/login``, ``/auth/validate``, and ``/auth/logout`` at the end, which ends only the probe's own
session, followed by ``/auth/validate`` to see it is over): the probe never triggers a find or a
resync, never deletes a mismatch row, never changes a subscriber.

Everything DX sent that the report keeps (error messages, field names, ids, host names, the paths of the
requests sent) goes through the client's redactor *before* it is cut, and is kept to one line: a DX that
echoes the ``Cookie`` header or the login body puts neither the session nor the password into
``doctor.json``, the printed lines or the ops notice, and cannot start a line of the report.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from damdrift.doctor.assumptions import Facts, Verdict, assumption_checks
from damdrift.doctor.models import Check, DoctorReport, Status
from damdrift.doctor.network import network_checks
from damdrift.dx.client import SESSION_COOKIE, Api, ClientTuning, DxClient, _Answer
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.dx.models import (
    FIND_MISMATCH_TRIGGER_FUNCTION,
    IN_PROGRESS_OPERATION_STATUSES,
    SYNC_OPERATION_PREFIX,
    RecordAction,
    RecordType,
    ResyncStatus,
    Subscriber,
)
from damdrift.errors import DxError
from damdrift.notice_text import one_line
from damdrift.report.records.fields import FIELD_ALIASES

logger = logging.getLogger(__name__)

#: What the probe asks for per page, as the client does (``ClientTuning.page_size``).
PAGE_SIZE = 1000
#: Pages counted per subscriber before the probe stops counting ("at least N rows").
MAX_PAGES = 50
#: Subscribers whose mismatch logs are read when none are named.
MAX_SUBSCRIBERS = 20
#: The spellings of a mismatch record's fields dam-drift reads (the API's filter names first, then the
#: table's columns): the report's own table, so the doctor checks exactly what the report can read.
RECORD_FIELD_SPELLINGS = {
    name: FIELD_ALIASES[name] for name in ("recordType", "recordAction", "recordId", "subscriberId")
}
_AGE_FIELDS = ("created", "updated", "created_at", "updated_at", "createdAt")
_READ_ONLY_POSTS = frozenset({"/auth/login", "/auth/validate", "/auth/logout"})
#: What a report line keeps of DX's text, after redaction: an error message, a line's evidence.
_MESSAGE_CHARS = 120
_EVIDENCE_CHARS = 4000


class ReadOnlyViolation(RuntimeError):
    """The probe tried to send a request that could change DX: a bug, never sent."""


class ProbeClient(DxClient):
    """A :class:`DxClient` that only reads, keeps the list of what it sent, and hands back raw answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []
        self.login_cookies: list[Cookie] = []
        self._logout_answer: _Answer | None = None
        #: The reads DX answered 401 (its session had ended), each read again after a new login.
        self.relogins: list[str] = []

    def _send(
        self,
        method: str,
        api: Api,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> _Answer:
        """Every request of the client passes here: the one place that keeps the probe read-only."""
        if method != "GET" and not (method == "POST" and api == "ring" and path in _READ_ONLY_POSTS):
            raise ReadOnlyViolation(f"the doctor never sends {method} {path}")
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        self.sent.append(f"{method} {path}" + (f"?{query}" if query else ""))
        answer = super()._send(method, api, path, params=params, json=json)
        if path == "/auth/login":
            self.login_cookies = list(answer.login_cookies)
        if path == "/auth/logout":
            self._logout_answer = answer
        return answer

    @property
    def logged_in(self) -> bool:
        return self._logged_in

    def end_session(self) -> tuple[Reply | None, Reply | None]:
        """``POST /auth/logout`` through :meth:`DxClient.logout` (best effort, never raises), then
        ``POST /auth/validate`` with the old cookie: whether DX really ended the session (an LTPA token
        may stay valid until it expires). DX's two answers, None where none came."""
        token, self._logout_answer = self._token, None
        self.logout()
        if self._logout_answer is None or token is None:
            return None, None
        logout, self._token = Reply(self._logout_answer), token
        try:
            return logout, self.validate()
        except DxError:
            return logout, None
        finally:
            self._token = None

    def redact(self, text: object, limit: int = _EVIDENCE_CHARS) -> str:
        """DX's text as a report line may keep it: secrets blanked (before the cut), one line, capped."""
        return one_line(self._redactor.redact(str(text)), limit)

    def read(self, path: str, params: Mapping[str, str] | None = None) -> Reply:
        """``GET`` on the DAM API with the session, the answer as DX sent it (no other status handling).

        On a 401 it logs in again once and repeats the read, as the check's client does: a session
        that DX ended midway is what a check meets too, and is reported (``relogins``), not a failure.
        """
        if not self._logged_in:
            self.login()
        reply = Reply(self._send("GET", "dam", path, params=params))
        if reply.status_code == 401:
            self.relogins.append(path)
            self.login()
            reply = Reply(self._send("GET", "dam", path, params=params))
        return reply

    def validate(self) -> Reply:
        return Reply(self._send("POST", "ring", "/auth/validate"))

    def session_cookies(self) -> list[Cookie]:
        """The cookies the login answer set (the client itself keeps only the session token)."""
        return self.login_cookies


@dataclass(frozen=True)
class Reply:
    """A DX answer as the probe reads it: status, content type, and the body (read under the client's cap)."""

    answer: _Answer

    @property
    def status_code(self) -> int:
        return self.answer.status

    @property
    def content_type(self) -> str:
        return self.answer.content_type

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` for anything that is not (too deep to parse included)."""
        try:
            return json.loads(self.answer.body)
        except RecursionError:
            raise ValueError("JSON nested too deep to parse") from None


@dataclass
class _Log:
    """What paging one subscriber's mismatch log showed."""

    subscriber: str
    first_page: list[Any] = field(default_factory=list)
    total: int = 0
    complete: bool = True
    error: str | None = None
    offset_ignored: bool = False
    pages: int = 0
    fields: set[str] = field(default_factory=set)
    ages: list[datetime] = field(default_factory=list)


def run_doctor(
    connection: DxConnection,
    credentials: DxCredentials,
    subscriber_ids: Iterable[str] = (),
    *,
    tuning: ClientTuning | None = None,
    now: datetime | None = None,
) -> DoctorReport:
    """Probes the publisher read-only and returns one check per finding (see :class:`DoctorReport`)."""
    tuning = tuning or ClientTuning()
    report = DoctorReport(publisher=connection.publisher_id)
    facts = Facts()
    report.checks.extend(network_checks(connection, tuning.connect_timeout))
    client = ProbeClient(connection, credentials, tuning)
    probe = _Probe(client, report, facts, now or datetime.now(UTC))
    if any(c.status is Status.FAIL for c in report.checks):
        report.checks.append(_skip("login", "the network checks failed"))
    else:
        try:
            probe.run(list(subscriber_ids))
        finally:
            probe.logout()
    if client.relogins:
        report.checks.append(_sessions_ended(client.relogins))
    report.checks.extend(assumption_checks(facts))
    report.requests_sent = client.sent
    return _redacted(report, client)


def _redacted(report: DoctorReport, client: ProbeClient) -> DoctorReport:
    """The report with every text in it redacted and on one line: the last line of defence, for DX text
    that reached a line without passing :meth:`ProbeClient.redact` (an id, a field name, a path)."""
    checks = [
        Check(id=client.redact(c.id, 200), status=c.status, evidence=client.redact(c.evidence))
        for c in report.checks
    ]
    fields = [client.redact(f, 200) for f in report.record_fields] if report.record_fields else None
    return report.model_copy(
        update={
            "checks": checks,
            "record_fields": fields,
            "requests_sent": [client.redact(r, 2000) for r in report.requests_sent],
        }
    )


def _sessions_ended(reads: list[str]) -> Check:
    """DX ended the session midway: the doctor (like a check) logged in again; worth knowing."""
    return Check(
        id="session kept",
        status=Status.WARN,
        evidence=f"DX ended the session {len(reads)} time(s) during the probe (HTTP 401 on GET {reads[0]}"
        + (f" and {len(reads) - 1} more" if len(reads) > 1 else "")
        + "); the doctor logged in again each time, as a check does",
    )


def _skip(check_id: str, why: str) -> Check:
    return Check(id=check_id, status=Status.NOT_CHECKED, evidence=why)


def _says(response: Reply, client: ProbeClient) -> str:
    """DX's answer in a few words: the status and the start of an error message, redacted, then cut."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} {client.redact(response.content_type or 'no content type', 80)}"
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f"HTTP {response.status_code}" + (
        f" ({client.redact(message, _MESSAGE_CHARS)})" if message else ""
    )


def _json_object(response: Reply) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refused_by_check(items: list[Any]) -> str | None:
    """Why check's own model refuses the list (its first login ends there), or None: what check refuses,
    the probe must not pass."""
    for number, item in enumerate(items, 1):
        try:
            Subscriber.model_validate(item)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "shape"
            problem = first["msg"].removeprefix("Value error, ")
            return f"subscriber {number}'s {field!r} is unusable ({problem})"
    return None


def _json_list(response: Reply) -> list[Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, list) else None


class _Probe:
    def __init__(self, client: ProbeClient, report: DoctorReport, facts: Facts, now: datetime) -> None:
        self.client, self.report, self.facts, self.now = client, report, facts, now
        self.failed_finds: set[str] = set()

    def add(self, check_id: str, status: Status, evidence: str) -> None:
        self.report.checks.append(Check(id=check_id, status=status, evidence=evidence))

    def says(self, response: Reply) -> str:
        return _says(response, self.client)

    def logout(self) -> None:
        """Ends the probe's session, so that it cannot be used after the report (which goes to S3 and
        the ops topic) is written; a DX that keeps it says so."""
        if not self.client.logged_in:
            return
        logout, after = self.client.end_session()
        stays = "the session stays valid until it expires"
        if logout is None:
            self.add("logout", Status.WARN, f"POST /auth/logout got no answer: {stays}")
        elif logout.status_code != 200:
            self.add("logout", Status.WARN, f"POST /auth/logout: {self.says(logout)}: {stays}")
        elif after is not None and after.status_code == 200:
            self.add(
                "logout",
                Status.WARN,
                f"POST /auth/logout: HTTP 200, but POST /auth/validate still accepts the old cookie: {stays}",
            )
        else:
            then = f"; POST /auth/validate then gets {self.says(after)}" if after is not None else ""
            self.add("logout", Status.PASS, f"POST /auth/logout: HTTP 200{then}: the session is ended")

    def run(self, named: list[str]) -> None:
        try:
            if not self.login():
                return
            subscribers = self.subscribers()
            if subscribers is None:
                return
            chosen = self.choose(subscribers, named)
            self.subscriber_lookup(chosen)
            self.mismatches(chosen)
            self.operations()
        except DxError as exc:  # DX went away midway (or answered nonsense): what was found stays
            self.add("probe stopped", Status.FAIL, str(exc))

    # -- login -----------------------------------------------------------------------------------------

    def login(self) -> bool:
        try:
            self.client.login()
        except DxError as exc:
            self.add("login", Status.FAIL, str(exc))
            return False
        self.add("login", Status.PASS, f"POST /auth/login as {self.client.user}: {SESSION_COOKIE} set")
        self.cookie()
        try:
            validated = self.client.validate()
        except DxError as exc:
            self.add("auth/validate", Status.WARN, str(exc))
        else:
            ok = validated.status_code == 200
            verdict = "accepts the session" if ok else "does not accept the session"
            self.add(
                "auth/validate", Status.PASS if ok else Status.WARN, f"{self.says(validated)}: {verdict}"
            )
        return True

    def cookie(self) -> None:
        cookies = self.client.session_cookies()
        session = next(c for c in cookies if c.name == SESSION_COOKIE)
        attributes = [
            f"Path={session.path}" if session.path_specified else "no Path",
            f"Domain={session.domain}" if session.domain_specified else "no Domain (host-only)",
            "Secure" if session.secure else "not Secure",
            "HttpOnly" if session.has_nonstandard_attr("HttpOnly") else "not HttpOnly",
        ]
        if session.expires is not None:
            lifetime = session.expires - int(self.now.timestamp())
            attributes.append(f"expires in {lifetime} s")
            self.facts.note(
                "session-ttl",
                Verdict.CONFIRMED if lifetime == 7200 else Verdict.CONTRADICTED,
                f"the cookie expires in {lifetime} s",
            )
        others = sorted(c.name for c in cookies if c.name != SESSION_COOKIE)
        evidence = f"{SESSION_COOKIE}: {', '.join(attributes)}" + (
            f"; other cookies: {', '.join(others)}" if others else ""
        )
        connection = self.client.connection
        status = Status.PASS
        dam_path = "/dx/api/dam/"
        if session.secure and connection.protocol == "http":
            status, evidence = Status.FAIL, evidence + ": a Secure cookie is never sent back over http"
        elif not dam_path.startswith(session.path.rstrip("/") + "/"):
            status, evidence = (
                Status.FAIL,
                evidence + f": its Path does not cover {dam_path}, so DAM never gets it",
            )
        # Without Secure (HCL's own example has none) a browser could send it over http; this client
        # only ever talks the protocol it was given, so that is noted, not a warning.
        self.add("session cookie", status, evidence)

    # -- subscribers -----------------------------------------------------------------------------------

    def subscribers(self) -> list[dict[str, Any]] | None:
        try:
            response = self.client.read("/staging/subscriber")
        except DxError as exc:
            self.add("subscribers", Status.FAIL, str(exc))
            return None
        data = _json_list(response)
        if response.status_code != 200 or data is None:
            self.add(
                "subscribers",
                Status.FAIL,
                f"GET /staging/subscriber: {self.says(response)}, not a JSON array",
            )
            return None
        subscribers = [s for s in data if isinstance(s, dict)]
        if not subscribers:
            self.add("subscribers", Status.WARN, "GET /staging/subscriber: no subscriber is registered")
            return subscribers
        fields = sorted({k for s in subscribers for k in s})
        statuses = sorted({str(s.get("resyncStatus")) for s in subscribers if s.get("resyncStatus")})
        unknown = [s for s in statuses if s not in ResyncStatus.__members__]
        never_run = sum(1 for s in subscribers if s.get("resyncStatus") is None)
        missing = [f for f in ("id", "targetHost") if any(f not in s for s in subscribers)]
        evidence = (
            f"{len(subscribers)} subscribers; fields {', '.join(fields)}; resyncStatus values "
            f"{', '.join(statuses) or 'none'}" + (f"; {never_run} without resyncStatus" if never_run else "")
        )
        status = Status.PASS
        refused = _refused_by_check(data)
        if missing:
            status, evidence = Status.FAIL, evidence + f"; missing {', '.join(missing)}"
        elif refused:
            status, evidence = Status.FAIL, evidence + f"; check refuses this list: {refused}"
        elif unknown:
            status, evidence = Status.WARN, evidence + f"; not among the six documented: {', '.join(unknown)}"
        self.add("subscribers", status, evidence)
        self.subscriber_facts(subscribers, never_run)
        return subscribers

    def subscriber_facts(self, subscribers: list[dict[str, Any]], never_run: int) -> None:
        if never_run:
            nulls = sum(1 for s in subscribers if "resyncStatus" in s and s["resyncStatus"] is None)
            how = f"{never_run - nulls} leave it out, {nulls} send null"
            self.facts.note("resync-status-null-before-first-run", Verdict.CONFIRMED, how)
        ended = {
            ResyncStatus.FIND_MISMATCH_COMPLETED,
            ResyncStatus.FIND_MISMATCH_FAILED,
            ResyncStatus.RESYNC_TRIGGER_COMPLETED,
            ResyncStatus.RESYNC_TRIGGER_FAILED,
        }
        finished = [s for s in subscribers if s.get("resyncStatus") in ended]
        if finished:
            without = sum(1 for s in finished if not s.get("lastResyncTime"))
            verdict = Verdict.CONTRADICTED if without else Verdict.CONFIRMED
            self.facts.note(
                "last-resync-time-on-finish",
                verdict,
                f"{len(finished) - without} of {len(finished)} finished subscribers carry lastResyncTime",
            )
        self.failed_finds = {
            str(s.get("id")) for s in subscribers if s.get("resyncStatus") == "FIND_MISMATCH_FAILED"
        }

    def choose(self, subscribers: list[dict[str, Any]], named: list[str]) -> list[dict[str, Any]]:
        if not named:
            if len(subscribers) > MAX_SUBSCRIBERS:
                self.add(
                    "subscribers chosen",
                    Status.WARN,
                    f"reading the first {MAX_SUBSCRIBERS} of {len(subscribers)}: "
                    "name others with --subscriber-id",
                )
            return subscribers[:MAX_SUBSCRIBERS]
        by_key = {str(s.get(k)): s for s in subscribers for k in ("id", "targetHost")}
        unknown = [n for n in named if n not in by_key]
        if unknown:
            self.add("subscribers chosen", Status.FAIL, f"not registered: {', '.join(unknown)}")
        return [by_key[n] for n in named if n in by_key]

    def subscriber_lookup(self, chosen: list[dict[str, Any]]) -> None:
        if not chosen:
            self.add("subscriber by id", Status.NOT_CHECKED, "no subscriber to look up")
            return
        sub = chosen[0]
        sub_id, host = str(sub.get("id")), str(sub.get("targetHost"))
        by_id = self.client.read(f"/staging/subscriber/{quote(sub_id, safe='')}")
        by_host = self.client.read(f"/staging/subscriber/{quote(host, safe='')}")
        found = _json_object(by_id)
        id_ok = by_id.status_code == 200 and found is not None and found.get("id") == sub_id
        host_ok = by_host.status_code == 200
        self.add(
            "subscriber by id",
            Status.PASS if id_ok else Status.FAIL,
            f"GET /staging/subscriber/{sub_id}: {self.says(by_id)}",
        )
        self.add(
            "subscriber by targetHost",
            Status.PASS,
            f"GET /staging/subscriber/{host}: {self.says(by_host)} "
            f"({'the target host works too' if host_ok else 'only the id works, as dam-drift uses it'})",
        )
        verdict = Verdict.CONFIRMED if id_ok else Verdict.CONTRADICTED
        also = "the target host works too" if host_ok else "the target host does not"
        self.facts.note(
            "subscriber-id-or-target-host", verdict, f"the UUID {'works' if id_ok else 'fails'}; {also}"
        )

    # -- mismatch logs ---------------------------------------------------------------------------------

    def page(self, sub_id: str, offset: int, limit: int) -> Reply:
        params = {"subscriberId": sub_id, "offset": str(offset), "limit": str(limit)}
        return self.client.read("/staging/mismatches", params)

    def read_log(self, sub: dict[str, Any]) -> _Log:
        sub_id = str(sub.get("id"))
        log = _Log(subscriber=str(sub.get("targetHost") or sub_id))
        offset, previous_first = 0, None
        while True:
            try:
                response = self.page(sub_id, offset, PAGE_SIZE)
            except DxError as exc:
                log.error = str(exc)
                return log
            rows = _json_list(response)
            if response.status_code != 200 or rows is None:
                log.error = (
                    f"GET /staging/mismatches?offset={offset}: {self.says(response)}, not a JSON array"
                )
                return log
            if log.pages == 0:
                log.first_page = rows
            if not rows:
                return log
            if previous_first is not None and rows[0] == previous_first:
                log.offset_ignored = True
                return log
            previous_first = rows[0]
            log.pages += 1
            log.total += len(rows)
            for row in rows:
                if isinstance(row, dict):
                    log.fields.update(row)
                    log.ages.extend(_age(row))
            if len(rows) > PAGE_SIZE:  # limit ignored: everything came at once
                return log
            if log.pages >= MAX_PAGES:
                log.complete = False
                return log
            offset += len(rows)

    def mismatches(self, chosen: list[dict[str, Any]]) -> None:
        logs = [self.read_log(sub) for sub in chosen]
        for log in logs:
            if log.error:
                self.add(f"mismatch log {log.subscriber}", Status.FAIL, log.error)
                continue
            size = f"{log.total} rows" if log.complete else f"at least {log.total} rows (stopped counting)"
            self.add(
                f"mismatch log {log.subscriber}",
                Status.PASS,
                f"{size} in {log.pages} page(s) of up to {PAGE_SIZE}",
            )
        readable = [log for log in logs if not log.error]
        self.record_fields(readable)
        biggest = max(readable, key=lambda log: log.total, default=None)
        self.page_size(biggest)
        self.offset(biggest)
        self.ages(readable)
        if readable:
            probe = self.client.read("/staging/mismatches", {"subscriberId": str(uuid.uuid4())})
            rows = _json_list(probe)
            empty = probe.status_code == 200 and rows == []
            self.facts.note(
                "mismatches-unknown-subscriber-empty",
                Verdict.CONFIRMED if empty else Verdict.CONTRADICTED,
                f"an unknown subscriberId gets {self.says(probe)}" + (" []" if empty else ""),
            )

    def record_fields(self, logs: list[_Log]) -> None:
        fields = sorted(set().union(*(log.fields for log in logs))) if logs else []
        if not fields:
            self.add("mismatch record fields", Status.NOT_CHECKED, "no mismatch rows to look at")
            return
        self.report.record_fields = fields
        spelled = {
            concept: next((s for s in spellings if s in fields), None)
            for concept, spellings in RECORD_FIELD_SPELLINGS.items()
        }
        unreadable = [c for c in ("recordType", "recordAction") if spelled[c] is None]
        described = ", ".join(c if s == c else f"{c} as {s}" if s else f"no {c}" for c, s in spelled.items())
        if unreadable:
            self.add(
                "mismatch record fields",
                Status.FAIL,
                f"fields {', '.join(fields)}; no known spelling of {', '.join(unreadable)}: "
                "dam-drift cannot read them",
            )
        else:
            self.add("mismatch record fields", Status.PASS, f"fields {', '.join(fields)} ({described})")
        api = all(spelled[c] == spellings[0] for c, spellings in RECORD_FIELD_SPELLINGS.items())
        self.facts.note(
            "mismatch-record-shape",
            Verdict.CONFIRMED if api else Verdict.CONTRADICTED,
            f"a record carries {', '.join(fields)}",
        )
        values = [
            (row.get(spelled["recordType"] or ""), row.get(spelled["recordAction"] or ""))
            for log in logs
            for row in log.first_page
            if isinstance(row, dict)
        ]
        odd = sorted(
            {
                f"{t}/{a}"
                for t, a in values
                if t not in RecordType.__members__ or a not in RecordAction.__members__
            }
        )
        if odd:
            self.add(
                "mismatch record values",
                Status.WARN,
                f"not in the spec's enums: {self.client.redact(', '.join(odd), 200)}",
            )

    def page_size(self, log: _Log | None) -> None:
        if log is None or log.total == 0:
            self.add("mismatch page size", Status.NOT_CHECKED, "no mismatch rows to page through")
            return
        first = len(log.first_page)
        if first > PAGE_SIZE:
            self.add(
                "mismatch page size",
                Status.WARN,
                f"asked for {PAGE_SIZE} rows, got {first}: DX ignores limit and sends everything",
            )
            self.facts.note(
                "offset-limit-integers", Verdict.CONTRADICTED, f"limit={PAGE_SIZE} gave {first} rows"
            )
            return
        if first == PAGE_SIZE or log.total > first:
            self.report.page_size = first
            how = "honoured" if first == PAGE_SIZE else f"capped by DX at {first} rows (dam-drift pages on)"
            self.add(
                "mismatch page size",
                Status.PASS,
                f"asked for {PAGE_SIZE} rows on {log.subscriber}, got {first}: {how}",
            )
            return
        # The whole log fits in one page: a smaller limit shows whether limit is honoured at all.
        if first < 2:
            self.add("mismatch page size", Status.NOT_CHECKED, f"{log.subscriber}'s log has {first} row")
            return
        small = _json_list(self.page(self.sub_id(log), 0, 1)) or []
        ok = len(small) == 1
        how = "honoured" if ok else "ignored"
        self.add(
            "mismatch page size",
            Status.PASS if ok else Status.WARN,
            f"the largest log ({log.subscriber}, {first} rows) fits in one page of {PAGE_SIZE}, "
            f"so DX's cap is not measurable; limit=1 gave {len(small)} rows ({how})",
        )
        if not ok:
            self.facts.note("offset-limit-integers", Verdict.CONTRADICTED, f"limit=1 gave {len(small)} rows")

    def sub_id(self, log: _Log) -> str:
        row = next((r for r in log.first_page if isinstance(r, dict)), {})
        return str(row.get("subscriberId") or row.get("subscriber_id") or log.subscriber)

    def offset(self, log: _Log | None) -> None:
        if log is None or len(log.first_page) < 2:
            self.add("mismatch offset", Status.NOT_CHECKED, "no log with 2 rows or more")
            return
        second = _json_list(self.page(self.sub_id(log), 1, 1)) or []
        if log.offset_ignored or second[:1] == log.first_page[:1]:
            self.add(
                "mismatch offset",
                Status.FAIL,
                "offset=1 returned the first row again: DX ignores offset, dam-drift stops after one page",
            )
            self.facts.note("offset-limit-integers", Verdict.CONTRADICTED, "offset is ignored")
        elif second[:1] == log.first_page[1:2]:
            self.add(
                "mismatch offset",
                Status.PASS,
                f"offset=1&limit=1 returned the second row of {log.subscriber}'s log",
            )
            self.facts.note(
                "offset-limit-integers", Verdict.CONFIRMED, "offset=1&limit=1 returned the second row"
            )
        else:
            self.add("mismatch offset", Status.WARN, "offset=1&limit=1 returned a row that is not the second")

    def ages(self, logs: list[_Log]) -> None:
        ages = [a for log in logs for a in log.ages]
        if not ages:
            self.add("mismatch row age", Status.NOT_CHECKED, "no row carries a date field")
            return
        oldest, newest = min(ages), max(ages)
        self.add(
            "mismatch row age",
            Status.PASS,
            f"rows created {oldest:%Y-%m-%d %H:%M} to {newest:%Y-%m-%d %H:%M} UTC; the oldest is "
            f"{_duration(self.now - oldest)} old",
        )

    # -- operations ------------------------------------------------------------------------------------

    def operations(self) -> None:
        try:
            response = self.client.read("/operations", {"limit": str(PAGE_SIZE)})
        except DxError as exc:
            self.add("operations", Status.FAIL, str(exc))
            return
        operations = _json_list(response)
        if response.status_code != 200 or operations is None:
            self.add("operations", Status.FAIL, f"GET /operations: {self.says(response)}, not a JSON array")
            return
        ops = [o for o in operations if isinstance(o, dict)]
        self.add("operations", Status.PASS, f"GET /operations: {len(ops)} operations")
        self.filter_check("status", "FAILED", ops, lambda o: o.get("status") == "FAILED")
        self.filter_check(
            "triggerFunctions",
            FIND_MISMATCH_TRIGGER_FUNCTION,
            ops,
            lambda o: o.get("triggerFunction") == FIND_MISMATCH_TRIGGER_FUNCTION,
        )
        self.comma_list(ops)
        unknown = self.client.read("/operations", {"status": "NOT_A_STATUS", "limit": "1"})
        self.facts.note(
            "operations-unknown-status-400",
            Verdict.CONFIRMED if unknown.status_code == 400 else Verdict.CONTRADICTED,
            f"status=NOT_A_STATUS got {self.says(unknown)}",
        )
        self.order(ops)
        self.staging_operations(ops)

    def filter_check(self, name: str, value: str, ops: list[dict[str, Any]], matches: Any) -> None:
        check_id = f"operations {name} filter"
        if not ops:
            self.add(check_id, Status.NOT_CHECKED, "no operations to filter")
            return
        response = self.client.read("/operations", {name: value, "limit": str(PAGE_SIZE)})
        got = _json_list(response)
        if response.status_code != 200 or got is None:
            self.add(check_id, Status.WARN, f"{name}={value}: {self.says(response)}")
            return
        wrong = [o for o in got if not (isinstance(o, dict) and matches(o))]
        if wrong:
            self.add(
                check_id,
                Status.WARN,
                f"{name}={value} returned {len(wrong)} of {len(got)} that do not match: ignored",
            )
        elif got or any(not matches(o) for o in ops):
            self.add(check_id, Status.PASS, f"{name}={value} returned {len(got)}, all matching: honoured")
        else:
            self.add(check_id, Status.NOT_CHECKED, f"every operation matches {name}={value}: cannot tell")

    def comma_list(self, ops: list[dict[str, Any]]) -> None:
        statuses = sorted({str(o.get("status")) for o in ops})[:2]
        if len(statuses) < 2 or len(ops) >= PAGE_SIZE:
            return
        value = ",".join(statuses)
        response = self.client.read("/operations", {"status": value, "limit": str(PAGE_SIZE)})
        got = _json_list(response)
        expected = sum(1 for o in ops if o.get("status") in statuses)
        ok = response.status_code == 200 and got is not None and len(got) == expected
        self.facts.note(
            "operations-comma-lists",
            Verdict.CONFIRMED if ok else Verdict.CONTRADICTED,
            f"status={value}: {self.says(response)}, {len(got or [])} operations (expected {expected})",
        )

    def order(self, ops: list[dict[str, Any]]) -> None:
        created = [str(o["created"]) for o in ops if o.get("created")]
        if len(set(created)) < 2:
            return
        ascending = created == sorted(created)
        self.facts.note(
            "operations-oldest-first",
            Verdict.CONFIRMED if ascending else Verdict.CONTRADICTED,
            f"{len(created)} operations listed {'oldest' if ascending else 'not oldest'} first",
        )

    def staging_operations(self, ops: list[dict[str, Any]]) -> None:
        mine = [
            o
            for o in ops
            if str(o.get("triggerFunction", "")).startswith(
                (FIND_MISMATCH_TRIGGER_FUNCTION, SYNC_OPERATION_PREFIX)
            )
        ]
        failed = [o for o in mine if o.get("status") == "FAILED"]
        running = [o for o in mine if o.get("status") in IN_PROGRESS_OPERATION_STATUSES]
        if failed:
            self.add(
                "failed staging operations",
                Status.WARN,
                "; ".join(_describe(o, self.client) for o in failed[:5])
                + (f"; {len(failed) - 5} more" if len(failed) > 5 else "")
                + ": HCL's resync needs no FAILED sync operation; a FAILED find names its cause",
            )
        else:
            self.add(
                "failed staging operations", Status.PASS, f"none among {len(mine)} find and sync operations"
            )
        if running:
            self.add(
                "running staging operations",
                Status.WARN,
                "; ".join(_describe(o, self.client) for o in running[:5])
                + ": a check started now waits for them (busyPolicy)",
            )
        else:
            self.add("running staging operations", Status.PASS, "none")
        failed_finds = self.failed_finds
        if failed_finds:
            diagnosed = [
                o
                for o in failed
                if o.get("triggerFunction") == FIND_MISMATCH_TRIGGER_FUNCTION
                and (o.get("inputs") or {}).get("subscriberId") in failed_finds
                and o.get("errorInfo")
                and (o.get("retryCounter") or 0) > 0
            ]
            self.facts.note(
                "find-failed-operation",
                Verdict.CONFIRMED if diagnosed else Verdict.CONTRADICTED,
                f"{len(failed_finds)} subscribers show FIND_MISMATCH_FAILED; "
                f"{len(diagnosed)} FAILED findStagingMismatch operations with errorInfo name them",
            )


def _describe(op: Mapping[str, Any], client: ProbeClient) -> str:
    inputs = op.get("inputs") if isinstance(op.get("inputs"), dict) else {}
    error = op.get("errorInfo")
    message = error.get("message") if isinstance(error, dict) else None
    return (
        f"{op.get('triggerFunction')} {op.get('status')} (id {op.get('id')}, subscriber "
        f"{(inputs or {}).get('subscriberId', '?')}"
        + (f", {client.redact(message, 80)}" if message else "")
        + ")"
    )


def _age(row: Mapping[str, Any]) -> list[datetime]:
    for name in _AGE_FIELDS:
        value = row.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return [parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)]
    return []


def _duration(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"
