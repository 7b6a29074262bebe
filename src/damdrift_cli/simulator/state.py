"""What the simulated publisher knows: sessions, subscribers, find/resync jobs, the mismatch log, operations.

Jobs are not threads. Each has an end time on the injected clock, and every public method first
*advances* the state to "now", applying whatever finished since the last call. So a test can jump a
:class:`~damdrift_cli.simulator.clock.ManualClock` forward and the next request sees the outcome, and
real-time runs need no background work. One re-entrant lock guards everything: server threads and the
Python API may call in concurrently.
"""

from __future__ import annotations

import math
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from damdrift.dx.models import FIND_MISMATCH_TRIGGER_FUNCTION, OperationStatus, RecordType, ResyncStatus
from damdrift_cli.simulator.clock import Clock, WallTime
from damdrift_cli.simulator.dataset import Drift, MismatchFilter, MismatchLog, Segment

FindOutcome = Literal["complete", "fail", "stuck"]
ResyncOutcome = Literal["complete", "fail"]

_NAMESPACE = uuid.UUID("0f3e8f5e-8a51-4c1c-b2a4-52f0c1de7a61")

#: The wire fields of ``SubscriberRegistration`` besides ``id``/``targetHost``, in the order DX sends them.
SUBSCRIBER_FIELDS = (
    "syncStatus",
    "syncFailureLogs",
    "lastSyncTime",
    "resyncStatus",
    "lastResyncTime",
    "cycleLength",
    "status",
    "created",
    "updated",
)

#: Which ``syncStaging*`` operation a resync creates for drift of each record type (MISMATCH-DOC names).
_SYNC_FUNCTIONS = {
    RecordType.COLLECTION: "syncStagingCollectionContent",
    RecordType.COLLECTION_MEDIA_RELATION: "syncStagingCollectionContent",
    RecordType.MEDIA_ITEM: "syncStagingMediaContent",
    RecordType.KEYWORD: "syncStagingMediaContent",
    RecordType.CUSTOM_URL: "syncStagingMediaContent",
    RecordType.RENDITION: "syncStagingRenditionContent",
    RecordType.VERSION: "syncStagingVersionContent",
    RecordType.FAVORITE: "syncStagingFavoriteContent",
    RecordType.MEDIA_TYPE: "syncStagingMediaTypeContent",
    RecordType.MEDIA_TYPE_GROUP: "syncStagingMediaTypeGroupContent",
    RecordType.PERMISSION: "syncStagingPermissionResource",
    RecordType.RESOURCE: "syncStagingPermissionResource",
}
_ALWAYS_SYNCED = ("syncStagingCollectionContent", "syncStagingMediaContent")


class Rejected(Exception):
    """A request the publisher refuses; the API layer turns it into a DAM error body with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConflictPolicy(StrEnum):
    """What a second trigger does while a job runs for the same subscriber (real behaviour unknown)."""

    REJECT = "reject"  # 409 ConflictError
    ACCEPT = "accept"  # 200, nothing changes


@dataclass(frozen=True)
class Settings:
    """Publisher-wide settings; a scenario provides them, the Python API may replace them at run time."""

    username: str = "wpsadmin"
    password: str = field(default="wpsadmin", repr=False)
    # ASSUMPTION: session-ttl (LTPA timeout not documented for these APIs; WAS default 120 min)
    token_ttl_seconds: float = 7200.0
    find_duration_seconds: float = 2.0
    resync_duration_seconds: float = 1.0
    operation_duration_seconds: float = 1.0
    conflict_policy: ConflictPolicy = ConflictPolicy.REJECT
    seed: int = 0
    unset_fields_as_null: bool = False


@dataclass
class SubscriberState:
    """A registered subscriber plus what only the simulator knows about it (its drift, its outcomes)."""

    id: str
    target_host: str
    drift: Drift
    fields: dict[str, Any]
    find_outcome: FindOutcome = "complete"
    resync_outcome: ResyncOutcome = "complete"
    find_duration_seconds: float | None = None


@dataclass
class _Job:
    kind: Literal["find", "resync"]
    subscriber_id: str
    ends_at: float
    outcome: str
    drift: Drift
    operation_id: str | None = None


@dataclass(frozen=True)
class _Step:
    at: float
    status: OperationStatus
    retry_counter: int = 0
    error_info: dict[str, Any] | None = None


@dataclass
class _Operation:
    """An operation whose status is a timeline, read off at the current time (no mutation to advance it)."""

    id: str
    trigger_function: str
    inputs: dict[str, Any]
    priority: int
    steps: list[_Step]

    def current(self, now: float) -> _Step:
        return [s for s in self.steps if s.at <= now][-1]

    def to_wire(self, now: float, wall: WallTime) -> dict[str, Any]:
        step = self.current(now)
        wire: dict[str, Any] = {
            "id": self.id,
            "triggerFunction": self.trigger_function,
            "inputs": self.inputs,
            "status": step.status.value,
            "retryCounter": step.retry_counter,
            "created": wall.iso(self.steps[0].at),
            "updated": wall.iso(step.at),
            "owner": 1,  # owner and priority are numbers in the spec; the values are invented
            "priority": self.priority,
        }
        if step.error_info is not None:
            wire["errorInfo"] = step.error_info
        return wire


@dataclass(frozen=True)
class _Session:
    username: str
    expires_at: float


class PublisherState:
    """The publisher. Every public method takes the lock and advances time first."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._wall = WallTime(clock)
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._subscribers: dict[str, SubscriberState] = {}
        self._jobs: dict[str, _Job] = {}
        self._operations: dict[str, _Operation] = {}
        self._log = MismatchLog()
        self._runs = 0
        self.find_triggers: Counter[str] = Counter()
        self.resync_triggers: Counter[str] = Counter()
        self.max_concurrent_finds = 0

    # -- settings and time ----------------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Replace settings fields, e.g. ``configure(find_duration_seconds=0.1)``."""
        with self._lock:
            self.settings = replace(self.settings, **changes)

    def now_iso(self) -> str:
        return self._wall.iso(self._clock())

    def _advance(self) -> float:
        now = self._clock()
        for job in sorted(self._jobs.values(), key=lambda j: j.ends_at):
            if job.ends_at > now:
                break
            del self._jobs[job.subscriber_id]
            self._finish(job)
        return now

    def _finish(self, job: _Job) -> None:
        sub = self._subscribers[job.subscriber_id]
        at = self._wall.iso(job.ends_at)
        ok = job.outcome == "complete"
        if job.kind == "find":
            status = ResyncStatus.FIND_MISMATCH_COMPLETED if ok else ResyncStatus.FIND_MISMATCH_FAILED
            if ok:
                # ASSUMPTION: find-appends-rows (only DELETE /staging/mismatches clears the log)
                self._runs += 1
                self._log.append(Segment(self._runs, self.settings.seed, sub.id, job.drift, at))
        else:
            status = ResyncStatus.RESYNC_TRIGGER_COMPLETED if ok else ResyncStatus.RESYNC_TRIGGER_FAILED
            if ok:
                self._create_sync_operations(sub, job)
                # ASSUMPTION: resync-clears-drift (so the verifying find comes back empty, as MISMATCH-DOC's
                # find -> resync -> find flow expects)
                sub.drift = Drift()
        # ASSUMPTION: last-resync-time-on-finish (set when a find or resync ends, COMPLETED or FAILED)
        sub.fields.update(resyncStatus=status.value, lastResyncTime=at, updated=at)

    def _create_sync_operations(self, sub: SubscriberState, job: _Job) -> None:
        # ASSUMPTION: resync-creates-sync-operations (served on this /operations; on DX they run on the
        # subscriber)
        functions = dict.fromkeys(_ALWAYS_SYNCED)
        functions.update(dict.fromkeys(_SYNC_FUNCTIONS[b.record_type] for b in job.drift.blocks))
        half = self.settings.operation_duration_seconds / 2
        for name in functions:
            self._add_operation(
                name,
                {"subscriberId": sub.id, "targetHost": sub.target_host},
                priority=2,
                steps=[
                    _Step(job.ends_at, OperationStatus.TODO),
                    _Step(job.ends_at + half, OperationStatus.PROCESSING),
                    _Step(job.ends_at + 2 * half, OperationStatus.SUCCESS),
                ],
            )

    def _add_operation(self, function: str, inputs: dict[str, Any], priority: int, steps: list[_Step]) -> str:
        op_id = str(uuid.uuid5(_NAMESPACE, f"operation/{self.settings.seed}/{len(self._operations)}"))
        self._operations[op_id] = _Operation(op_id, function, inputs, priority, steps)
        return op_id

    # -- sessions ---------------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> str | None:
        """A new LtpaToken2 value, or ``None`` for wrong credentials."""
        user_ok = secrets.compare_digest(username.encode(), self.settings.username.encode())
        password_ok = secrets.compare_digest(password.encode(), self.settings.password.encode())
        if not (user_ok and password_ok):
            return None
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = _Session(username, self._clock() + self.settings.token_ttl_seconds)
        return token

    def session_user(self, token: str | None) -> str | None:
        """The user of a live session, ``None`` if the token is missing, unknown or expired."""
        with self._lock:
            session = self._sessions.get(token or "")
            if session is not None and session.expires_at <= self._clock():
                self._sessions.pop(token or "")
                session = None
            return session.username if session else None

    def logout(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    # -- subscribers -------------------------------------------------------------------------------------

    def add_subscriber(self, sub: SubscriberState) -> None:
        with self._lock:
            self._advance()
            if any(s.target_host == sub.target_host for s in self._subscribers.values()):
                raise Rejected(409, f"A subscriber with targetHost {sub.target_host!r} is already registered")
            if sub.id in self._subscribers:
                raise Rejected(409, f"A subscriber with id {sub.id!r} is already registered")
            now = self.now_iso()
            sub.fields = {"created": now, "updated": now, **sub.fields}
            self._subscribers[sub.id] = sub

    def register(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /staging/subscriber``: a new subscriber without drift; returns its wire form."""
        target_host = str(fields["targetHost"])
        rest = {k: v for k, v in fields.items() if k != "targetHost"}
        sub = SubscriberState(
            str(uuid.uuid4()), target_host, Drift(), {"cycleLength": 2, "status": True, **rest}
        )
        self.add_subscriber(sub)
        return self.subscriber(sub.id)

    def _lookup(self, key: str) -> SubscriberState:
        # ASSUMPTION: subscriber-id-or-target-host (the spec's text says "target host"; docs pass ids)
        sub = self._subscribers.get(key) or next(
            (s for s in self._subscribers.values() if s.target_host == key), None
        )
        if sub is None:
            raise Rejected(404, f"Subscriber {key!r} is not registered")
        return sub

    def _wire(self, sub: SubscriberState) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": sub.id, "targetHost": sub.target_host}
        for name in SUBSCRIBER_FIELDS:
            if name in sub.fields:
                wire[name] = sub.fields[name]
            elif self.settings.unset_fields_as_null:
                # ASSUMPTION: resync-status-null-before-first-run (the spec's schema has no nullable, so
                # by default unset fields are left out instead; this switch sends dx-api.md's null)
                wire[name] = None
        return wire

    def subscriber(self, key: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return self._wire(self._lookup(key))

    def subscribers(self) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            return [self._wire(s) for s in self._subscribers.values()]

    def subscriber_id(self, key: str) -> str | None:
        """The id of the subscriber ``key`` names (an id or a target host), ``None`` if unknown."""
        with self._lock:
            try:
                return self._lookup(key).id
            except Rejected:
                return None

    def drift(self, key: str) -> Drift:
        with self._lock:
            return self._lookup(key).drift

    def set_outcomes(
        self,
        key: str,
        find_outcome: FindOutcome | None,
        resync_outcome: ResyncOutcome | None,
        find_duration_seconds: float | None,
    ) -> None:
        """How the subscriber's next jobs end; ``None`` leaves a setting as it is."""
        with self._lock:
            sub = self._lookup(key)
            sub.find_outcome = find_outcome or sub.find_outcome
            sub.resync_outcome = resync_outcome or sub.resync_outcome
            if find_duration_seconds is not None:
                sub.find_duration_seconds = find_duration_seconds

    def deregister(self, key: str) -> None:
        with self._lock:
            now = self._advance()
            sub = self._lookup(key)
            del self._subscribers[sub.id]
            # ASSUMPTION: deregister-aborts-find (its operation ends ABORT; its logged rows stay)
            job = self._jobs.pop(sub.id, None)
            if job is not None and job.operation_id is not None:
                operation = self._operations[job.operation_id]
                past = [step for step in operation.steps if step.at <= now]
                operation.steps = [*past, _Step(now, OperationStatus.ABORT)]

    def update(
        self, key: str, fields: Mapping[str, Any], find_outcome: FindOutcome | None = None
    ) -> dict[str, Any]:
        """``PATCH /staging/subscriber/{id}``: store fields; a START ``resyncStatus`` starts a job.

        ``find_outcome`` overrides the subscriber's own (fault injection).
        """
        with self._lock:
            now = self._advance()
            sub = self._lookup(key)
            # ASSUMPTION: trigger-via-patch (PATCH resyncStatus=*_START starts the job; dx-api.md §2.3)
            kind = {
                ResyncStatus.FIND_MISMATCH_START.value: "find",
                ResyncStatus.RESYNC_TRIGGER_START.value: "resync",
            }.get(fields.get("resyncStatus", ""))
            if kind is not None:
                (self.find_triggers if kind == "find" else self.resync_triggers)[sub.id] += 1
                running = self._jobs.get(sub.id)
                if running is not None:
                    # ASSUMPTION: second-trigger-409 (undocumented; switchable to "accept and do nothing")
                    if self.settings.conflict_policy is ConflictPolicy.ACCEPT:
                        return self._wire(sub)
                    raise Rejected(409, f"A {running.kind} job is already running for subscriber {sub.id}")
                self._start(kind, sub, now, find_outcome)
            sub.fields.update({k: v for k, v in fields.items() if k != "targetHost"}, updated=self.now_iso())
            if "targetHost" in fields:
                sub.target_host = str(fields["targetHost"])
            return self._wire(sub)

    def _start(self, kind: str, sub: SubscriberState, now: float, find_outcome: FindOutcome | None) -> None:
        if kind == "resync":
            ends_at = now + self.settings.resync_duration_seconds
            self._jobs[sub.id] = _Job("resync", sub.id, ends_at, sub.resync_outcome, sub.drift)
            return
        outcome = find_outcome or sub.find_outcome
        duration = (
            self.settings.find_duration_seconds
            if sub.find_duration_seconds is None
            else sub.find_duration_seconds
        )
        ends_at = math.inf if outcome == "stuck" else now + duration
        steps = [_Step(now, OperationStatus.PROCESSING)]
        if outcome == "complete":
            steps.append(_Step(ends_at, OperationStatus.SUCCESS))
        elif outcome == "fail":
            # ASSUMPTION: find-failed-operation (FAILED with retryCounter > 0, as MISMATCH-DOC describes;
            # the errorInfo content is invented)
            error = {"code": "FIND_STAGING_MISMATCH_FAILED", "message": "Too many records to compare"}
            steps.append(_Step(ends_at, OperationStatus.FAILED, retry_counter=1, error_info=error))
        op_id = self._add_operation(
            FIND_MISMATCH_TRIGGER_FUNCTION, {"subscriberId": sub.id, "targetHost": sub.target_host}, 1, steps
        )
        self._jobs[sub.id] = _Job("find", sub.id, ends_at, outcome, sub.drift, op_id)
        running = sum(job.kind == "find" for job in self._jobs.values())
        self.max_concurrent_finds = max(self.max_concurrent_finds, running)

    def set_drift(self, key: str, drift: Drift) -> None:
        """Applies to the next find started (a running find keeps the drift it started with)."""
        with self._lock:
            self._advance()
            self._lookup(key).drift = drift

    # -- mismatch log ------------------------------------------------------------------------------------

    def mismatch_page(
        self, query: MismatchFilter, offset: int, limit: int | None
    ) -> tuple[int, Iterator[dict[str, str]]]:
        with self._lock:
            self._advance()
            return self._log.page(query, offset, limit)

    def delete_mismatches(self, subscriber_id: str | None) -> None:
        with self._lock:
            self._advance()
            self._log.clear(subscriber_id)

    @property
    def mismatch_log(self) -> MismatchLog:
        return self._log

    # -- operations --------------------------------------------------------------------------------------

    def operations(
        self, statuses: frozenset[str] | None, trigger_functions: frozenset[str] | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            now = self._advance()
            # ASSUMPTION: operations-oldest-first (the order and paging base are not documented)
            wires = [op.to_wire(now, self._wall) for op in self._operations.values()]
        return [
            w
            for w in wires
            if (statuses is None or w["status"] in statuses)
            and (trigger_functions is None or w["triggerFunction"] in trigger_functions)
        ]

    def operation(self, op_id: str) -> dict[str, Any]:
        with self._lock:
            now = self._advance()
            if op_id not in self._operations:
                raise Rejected(404, f"Operation {op_id!r} not found")
            return self._operations[op_id].to_wire(now, self._wall)

    def running_finds(self) -> int:
        with self._lock:
            self._advance()
            return sum(job.kind == "find" for job in self._jobs.values())
