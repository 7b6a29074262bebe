"""The DX simulator's Python API: a publisher (and subscriber DAMs) on loopback, for tests and demos.

:class:`Simulator` starts the publisher's HTTP server and one per subscriber DAM (:mod:`.subscriber_dam`);
the HTTP layer is :mod:`.httpd`, the protocol :mod:`.api`, the hosts' state :mod:`.state`.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from damdrift.dx.models import OperationStatus
from damdrift_cli.simulator.api import ROUTES
from damdrift_cli.simulator.clock import Clock
from damdrift_cli.simulator.dataset import Drift
from damdrift_cli.simulator.faults import FaultInjector
from damdrift_cli.simulator.host import SimulatedHost
from damdrift_cli.simulator.httpd import Exchange, Listener, Site
from damdrift_cli.simulator.resync import ResyncOutcome
from damdrift_cli.simulator.scenario import Scenario, SubscriberSpec, load_scenario, parse_drift
from damdrift_cli.simulator.state import ConflictPolicy, FindOutcome, PublisherState, SubscriberState
from damdrift_cli.simulator.subscriber_dam import SubscriberDam

__all__ = ["Exchange", "Simulator", "SubscriberDam"]


class Simulator(SimulatedHost[PublisherState]):
    """A DX publisher on loopback. Start it (or use ``with``), point a client at :attr:`base_url`.

    ``scenario`` is a :class:`Scenario`, a built-in name or a JSON file path (``None``: ``default``);
    ``find_duration`` overrides its ``findDurationSeconds``.
    ``clock`` drives job completion and session expiry; pass a
    :class:`~damdrift_cli.simulator.clock.ManualClock` to move time without sleeping.
    ``record_exchanges`` keeps the last ``max_exchanges`` requests and answers (bodies cut at
    ``max_body_bytes``) for tests; it is off by default so a long benchmark keeps nothing.
    ``tls`` (a server-side ``ssl.SSLContext`` with its certificate loaded) serves HTTPS instead of HTTP,
    like an ingress with a private or self-signed certificate.

    Subscribers with ``dam`` (scenario ``"dam": true``, ``add_subscriber(dam=True)``) also get a DAM
    server of their own on another port (:meth:`subscriber_dam`), started and stopped with this one:
    there a resync's ``syncStaging*`` operations run, and each clears its record types' drift when it
    succeeds. Without one, a completed resync lists its operations on the publisher's ``/operations``
    and clears the drift at once.
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
        self._site = Site(
            ROUTES,
            self.state,
            record_exchanges=record_exchanges,
            max_exchanges=max_exchanges,
            max_body_bytes=max_body_bytes,
        )
        self._listener = Listener(self._site, host, port, tls, "dx-simulator")
        self._bind_host, self._max_exchanges = host, max_exchanges
        self._dams: dict[str, SubscriberDam] = {}
        for spec in self.scenario.subscribers:
            self._add(spec.id, spec.to_state())
            for operation in spec.operations:
                self.add_subscriber_operation(
                    spec.id,
                    operation.trigger_function,
                    operation.status,
                    retry_counter=operation.retry_counter,
                    error_info=operation.error_info,
                )
        self.faults: FaultInjector = self._site.faults
        for fault in self.scenario.faults:
            self.faults.add(fault)

    def _add(self, subscriber_id: str, sub: SubscriberState) -> None:
        self.state.add_subscriber(sub)
        if sub.dam and subscriber_id not in self._dams:
            dam = SubscriberDam(
                self.state.dam(subscriber_id),
                host=self._bind_host,
                tls=self.tls,
                record_exchanges=self.record_exchanges,
                max_exchanges=self._max_exchanges,
                max_body_bytes=self._site.max_body_bytes,
            )
            self._dams[subscriber_id] = dam
            if self._listener.running:
                dam.start()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._listener.running:
            raise RuntimeError("the simulator is already running")
        self._listener.start()
        try:
            for dam in self._dams.values():
                dam.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for dam in self._dams.values():
            dam.stop()
        self._listener.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the publisher -------------------------------------------------------------------------------------

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
        dam: bool = False,
    ) -> str:
        """Registers a subscriber (as if staged long ago) and returns its id.

        ``dam=True`` gives it a DAM server of its own (see :meth:`subscriber_dam`), where a resync's
        operations then run; ``resync_outcome`` ``"partial"`` and ``"stuck"`` need one.
        """
        spec = SubscriberSpec.model_validate(
            {
                "id": subscriber_id or str(uuid.uuid4()),
                "targetHost": target_host,
                "dam": dam,
                "findOutcome": find_outcome,
                "resyncOutcome": resync_outcome,
                "findDurationSeconds": find_duration_seconds,
            }
        )
        sub: SubscriberState = spec.to_state()
        sub.drift = parse_drift(drift)
        self._add(spec.id, sub)
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
        """Change how the subscriber's next jobs end; ``None`` leaves a setting as it is.

        Resync outcomes: ``complete``, ``fail`` (RESYNC_TRIGGER_FAILED, no operations, drift kept), and
        for a subscriber with a DAM ``partial`` and ``stuck`` (see :mod:`.resync`).
        """
        self.state.set_outcomes(subscriber_id, find_outcome, resync_outcome, find_duration_seconds)

    def expire_sessions(self) -> None:
        self.state.expire_sessions()

    # -- subscriber DAMs -----------------------------------------------------------------------------------

    def subscriber_dam(self, subscriber_id: str) -> SubscriberDam:
        """The DAM server of a subscriber added with ``dam`` (``KeyError`` if it has none)."""
        return self._dams[self.state.dam(subscriber_id).owner_id]

    @property
    def subscriber_dams(self) -> list[SubscriberDam]:
        """Every subscriber DAM, in the order their subscribers were added."""
        return list(self._dams.values())

    def add_subscriber_operation(
        self,
        subscriber_id: str,
        trigger_function: str,
        status: OperationStatus | str,
        *,
        retry_counter: int = 0,
        error_info: dict[str, Any] | None = None,
    ) -> str:
        """Seeds an operation on the subscriber's DAM, showing ``status`` from now on; returns its id.

        E.g. a FAILED ``syncStagingMediaContent`` left by earlier staging (what remediation must refuse
        to resync over), or a PROCESSING one that keeps the subscriber busy. ``KeyError`` without a DAM.
        """
        return self.subscriber_dam(subscriber_id).add_operation(
            trigger_function, status, retry_counter=retry_counter, error_info=error_info
        )

    # -- instrumentation (faults and exchanges: SimulatedHost) ------------------------------------------

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
        return self._site.endpoint_hits

    @property
    def record_exchanges(self) -> bool:
        """Whether the publisher and the subscriber DAMs keep exchanges (settable)."""
        return self._site.record_exchanges

    @record_exchanges.setter
    def record_exchanges(self, value: bool) -> None:
        self._site.record_exchanges = value
        for dam in self._dams.values():
            dam.record_exchanges = value
