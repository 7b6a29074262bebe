"""What the simulated publisher knows: sessions, subscribers, find/resync jobs, the mismatch log, operations,
and the subscribers' own DAMs (where a resync's operations run and, as they succeed, repair the drift).

Jobs are not threads. Each has an end time on the injected clock, and every public method first
*advances* the state to "now", applying whatever finished since the last call. So a test can jump a
:class:`~damdrift_cli.simulator.clock.ManualClock` forward and the next request sees the outcome, and
real-time runs need no background work. One re-entrant lock guards everything: server threads and the
Python API may call in concurrently.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, Protocol

from damdrift.dx.models import FIND_MISMATCH_TRIGGER_FUNCTION, OperationStatus, RecordType, ResyncStatus
from damdrift_cli.simulator.clock import Clock, WallTime
from damdrift_cli.simulator.dataset import Drift, MismatchFilter, MismatchLog, Segment
from damdrift_cli.simulator.operations import OperationLog, Step
from damdrift_cli.simulator.resync import OUTCOMES_NEEDING_A_DAM, ResyncOutcome, plan_sync_operations
from damdrift_cli.simulator.sessions import Sessions, credentials_match

FindOutcome = Literal["complete", "fail", "stuck"]
RecordFields = Literal["api", "columns"]

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
    #: How mismatch rows spell their fields: the API's filter names, or the table's columns (``type``).
    record_fields: RecordFields = "api"
    #: The most rows DX sends per ``GET /staging/mismatches`` whatever ``limit`` asks (``None``: no cap).
    max_page_size: int | None = None


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
    dam: bool = False  # a simulated subscriber DAM serves its login and /operations


@dataclass
class _Job:
    kind: Literal["find", "resync"]
    subscriber_id: str
    ends_at: float
    outcome: FindOutcome | ResyncOutcome
    drift: Drift
    operation_id: str | None = None


@dataclass(frozen=True)
class _Repair:
    """At ``at`` a sync operation succeeds: the subscriber's drift of these record types is gone."""

    at: float
    subscriber_id: str
    record_types: frozenset[RecordType]


class _SessionHost(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def _sessions(self) -> Sessions: ...


class RingSessions:
    """The Ring login of a host's state: the publisher's credentials and session TTL (a subscriber DAM
    logs in with them too), and the host's own sessions (a publisher token is no good elsewhere)."""

    def login(self: _SessionHost, username: str, password: str) -> str | None:
        """A new LtpaToken2 value, or ``None`` for wrong credentials."""
        settings = self.settings
        if not credentials_match(username, password, settings.username, settings.password):
            return None
        return self._sessions.open(username, settings.token_ttl_seconds)

    def session_user(self: _SessionHost, token: str | None) -> str | None:
        """The user of a live session, ``None`` if the token is missing, unknown or expired."""
        return self._sessions.user(token)

    def logout(self: _SessionHost, token: str | None) -> None:
        self._sessions.close(token)

    def expire_sessions(self: _SessionHost) -> None:
        self._sessions.clear()


class PublisherState(RingSessions):
    """The publisher, and the DAMs of the subscribers that have one (a resync writes to them).

    Every public method takes the lock and advances time first.
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._wall = WallTime(clock)
        self._lock = threading.RLock()
        self._sessions = Sessions(clock)
        self._subscribers: dict[str, SubscriberState] = {}
        self._dams: dict[str, SubscriberDamState] = {}
        self._jobs: dict[str, _Job] = {}
        self._repairs: list[_Repair] = []
        self._operations = OperationLog()
        self._log = MismatchLog()
        self._runs = 0
        self.find_triggers: Counter[str] = Counter()
        self.resync_triggers: Counter[str] = Counter()
        self.max_concurrent_finds = 0

    # -- settings and time ---------------------------------------------------------------------------------

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
        if self._repairs:  # after the jobs: a resync finishing now may have planned repairs already due
            due = sorted((r for r in self._repairs if r.at <= now), key=lambda r: r.at)
            self._repairs = [r for r in self._repairs if r.at > now]
            for repair in due:
                self._repair(repair)
        return now

    def _finish(self, job: _Job) -> None:
        sub = self._subscribers[job.subscriber_id]
        at = self._wall.iso(job.ends_at)
        if job.kind == "find":
            ok = job.outcome == "complete"
            status = ResyncStatus.FIND_MISMATCH_COMPLETED if ok else ResyncStatus.FIND_MISMATCH_FAILED
            if ok:
                # ASSUMPTION: find-appends-rows (only DELETE /staging/mismatches clears the log)
                self._runs += 1
                self._log.append(Segment(self._runs, self.settings.seed, sub.id, job.drift, at))
        else:
            ok = job.outcome != "fail"
            status = ResyncStatus.RESYNC_TRIGGER_COMPLETED if ok else ResyncStatus.RESYNC_TRIGGER_FAILED
            if ok:
                self._run_sync_operations(sub, job)
        # ASSUMPTION: last-resync-time-on-finish (set when a find or resync ends, COMPLETED or FAILED)
        sub.fields.update(resyncStatus=status.value, lastResyncTime=at, updated=at)

    def _run_sync_operations(self, sub: SubscriberState, job: _Job) -> None:
        """A resync's operations: on the subscriber's DAM if it has one, else on the publisher's log."""
        planned = plan_sync_operations(
            job.drift, job.outcome, job.ends_at, self.settings.operation_duration_seconds
        )
        dam = self._dams.get(sub.id)
        # ASSUMPTION: resync-creates-sync-operations (on DX they run on the subscriber: served on its DAM's
        # /operations when the simulator has one, else on the publisher's)
        log = self._operations if dam is None else dam.operation_log
        for operation in planned:
            inputs = {"subscriberId": sub.id, "targetHost": sub.target_host}
            log.add(self.settings.seed, operation.trigger_function, inputs, 2, operation.steps)
            if dam is not None and operation.succeeds_at is not None:
                self._repairs.append(_Repair(operation.succeeds_at, sub.id, operation.repairs))
        if dam is None:
            # ASSUMPTION: resync-clears-drift (so the verifying find comes back empty, as MISMATCH-DOC's
            # find -> resync -> find flow expects; with a subscriber DAM, each operation's success clears
            # its record types instead)
            sub.drift = Drift()

    def _repair(self, repair: _Repair) -> None:
        sub = self._subscribers.get(repair.subscriber_id)
        if sub is not None:  # a subscriber deregistered meanwhile has no drift to repair
            sub.drift = Drift(tuple(b for b in sub.drift.blocks if b.record_type not in repair.record_types))

    # -- subscribers ---------------------------------------------------------------------------------------

    def add_subscriber(self, sub: SubscriberState) -> None:
        with self._lock:
            self._advance()
            if any(s.target_host == sub.target_host for s in self._subscribers.values()):
                raise Rejected(409, f"A subscriber with targetHost {sub.target_host!r} is already registered")
            if sub.id in self._subscribers:
                raise Rejected(409, f"A subscriber with id {sub.id!r} is already registered")
            _check_outcome_fits(sub.resync_outcome, sub.dam)
            now = self.now_iso()
            sub.fields = {"created": now, "updated": now, **sub.fields}
            self._subscribers[sub.id] = sub
            if sub.dam and sub.id not in self._dams:  # a DAM outlives its registration, as a real one does
                self._dams[sub.id] = SubscriberDamState(self, sub.id)

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
            self._advance()
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
            if resync_outcome is not None:
                _check_outcome_fits(resync_outcome, sub.id in self._dams)
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
                operation = self._operations.get(job.operation_id)
                assert operation is not None, "a find's operation is never removed"
                past = [step for step in operation.steps if step.at <= now]
                operation.steps = [*past, Step(now, OperationStatus.ABORT)]

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
        steps = [Step(now, OperationStatus.PROCESSING)]
        if outcome == "complete":
            steps.append(Step(ends_at, OperationStatus.SUCCESS))
        elif outcome == "fail":
            # ASSUMPTION: find-failed-operation (FAILED with retryCounter > 0, as MISMATCH-DOC describes;
            # the errorInfo content is invented)
            error = {"code": "FIND_STAGING_MISMATCH_FAILED", "message": "Too many records to compare"}
            steps.append(Step(ends_at, OperationStatus.FAILED, retry_counter=1, error_info=error))
        inputs = {"subscriberId": sub.id, "targetHost": sub.target_host}
        op_id = self._operations.add(self.settings.seed, FIND_MISMATCH_TRIGGER_FUNCTION, inputs, 1, steps)
        self._jobs[sub.id] = _Job("find", sub.id, ends_at, outcome, sub.drift, op_id)
        running = sum(job.kind == "find" for job in self._jobs.values())
        self.max_concurrent_finds = max(self.max_concurrent_finds, running)

    def set_drift(self, key: str, drift: Drift) -> None:
        """Applies to the next find started (a running find keeps the drift it started with)."""
        with self._lock:
            self._advance()
            self._lookup(key).drift = drift

    # -- mismatch log --------------------------------------------------------------------------------------

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

    # -- operations ----------------------------------------------------------------------------------------

    def operations(
        self, statuses: frozenset[str] | None, trigger_functions: frozenset[str] | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return self._operations.wires(self._advance(), self._wall, statuses, trigger_functions)

    def operation(self, op_id: str) -> dict[str, Any]:
        with self._lock:
            return _operation_wire(self._operations, op_id, self._advance(), self._wall)

    def running_finds(self) -> int:
        with self._lock:
            self._advance()
            return sum(job.kind == "find" for job in self._jobs.values())

    # -- subscriber DAMs -----------------------------------------------------------------------------------

    def dam(self, key: str) -> SubscriberDamState:
        """The DAM of the subscriber ``key`` names (an id, or a registered target host)."""
        with self._lock:
            dam = self._dams.get(key) or self._dams.get(self.subscriber_id(key) or "")
            if dam is None:
                raise KeyError(f"subscriber {key!r} has no simulated DAM (add it with dam=True)")
            return dam

    def dams(self) -> list[SubscriberDamState]:
        with self._lock:
            return list(self._dams.values())


class SubscriberDamState(RingSessions):
    """A subscriber's own DAM: its sessions and ``/operations``, what its HTTP server answers from.

    It shares the publisher's lock and clock because a resync on the publisher writes its operations
    and their success repairs the publisher's view of the drift. Login takes the publisher's
    credentials and session TTL; the sessions are the DAM's own (a publisher token is no good here).
    """

    def __init__(self, publisher: PublisherState, owner_id: str) -> None:
        self.owner_id = owner_id
        self._publisher = publisher
        self._sessions = Sessions(publisher._clock)
        self.operation_log = OperationLog(scope=owner_id)  # guarded by the publisher's lock

    @property
    def settings(self) -> Settings:
        return self._publisher.settings

    def subscriber_id(self, key: str) -> str | None:
        """What faults match ``subscriberId`` against: the publisher's subscribers."""
        return self._publisher.subscriber_id(key)

    def deregister(self, key: str) -> None:
        """A ``deregister`` fault on the DAM: the publisher forgets the subscriber (the DAM stays)."""
        self._publisher.deregister(key)

    def operations(
        self, statuses: frozenset[str] | None = None, trigger_functions: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        publisher = self._publisher
        with publisher._lock:
            now = publisher._advance()
            return self.operation_log.wires(now, publisher._wall, statuses, trigger_functions)

    def operation(self, op_id: str) -> dict[str, Any]:
        publisher = self._publisher
        with publisher._lock:
            return _operation_wire(self.operation_log, op_id, publisher._advance(), publisher._wall)

    def add_operation(
        self,
        trigger_function: str,
        status: OperationStatus,
        *,
        retry_counter: int = 0,
        error_info: dict[str, Any] | None = None,
    ) -> str:
        """An operation that shows ``status`` from now on, as if left by earlier staging; returns its id."""
        publisher = self._publisher
        with publisher._lock:
            now = publisher._advance()
            sub = publisher._subscribers.get(self.owner_id)
            inputs = {"subscriberId": self.owner_id}
            if sub is not None:
                inputs["targetHost"] = sub.target_host
            step = Step(now, status, retry_counter, error_info)
            return self.operation_log.add(publisher.settings.seed, trigger_function, inputs, 2, [step])


def _operation_wire(log: OperationLog, op_id: str, now: float, wall: WallTime) -> dict[str, Any]:
    operation = log.get(op_id)
    if operation is None:
        raise Rejected(404, f"Operation {op_id!r} not found")
    return operation.to_wire(now, wall)


def _check_outcome_fits(resync_outcome: ResyncOutcome, has_dam: bool) -> None:
    if resync_outcome in OUTCOMES_NEEDING_A_DAM and not has_dam:
        raise ValueError(
            f"resync outcome {resync_outcome!r} needs a subscriber DAM (dam=True): its operations run there"
        )
