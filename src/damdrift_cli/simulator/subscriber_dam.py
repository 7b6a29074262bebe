"""A subscriber's own DAM on loopback: what remediation polls after a resync (issue #8).

On DX a resync's ``syncStaging*`` operations run on the *subscriber*, so watching them means logging
in to the subscriber's own Ring API and reading its DAM ``GET /operations``. A :class:`SubscriberDam`
serves exactly that, with the publisher's code and wire shapes: ``POST /dx/api/core/v1/auth/login`` and
``/logout`` (the publisher's credentials and session TTL, an LtpaToken2 of its own),
``GET /dx/api/dam/v1/operations`` (same query parameters and checks) and ``/operations/{id}``;
anything else gets the publisher's 404. Get one with ``Simulator.subscriber_dam(subscriber_id)``.
"""

from __future__ import annotations

import ssl
from typing import Any

from damdrift.dx.models import OperationStatus
from damdrift_cli.simulator.api import SUBSCRIBER_DAM_ENDPOINTS, SUBSCRIBER_DAM_ROUTES
from damdrift_cli.simulator.faults import ActiveFault, Fault
from damdrift_cli.simulator.host import SimulatedHost
from damdrift_cli.simulator.httpd import Listener, Site
from damdrift_cli.simulator.state import SubscriberDamState


class SubscriberDam(SimulatedHost[SubscriberDamState]):
    """One subscriber's DAM server; it starts and stops with its :class:`~.server.Simulator`.

    The address properties need it running; operations, faults and counters work at any time.
    """

    def __init__(
        self,
        state: SubscriberDamState,
        *,
        host: str,
        tls: ssl.SSLContext | None,
        record_exchanges: bool,
        max_exchanges: int,
        max_body_bytes: int,
    ) -> None:
        self.state = state
        self._site = Site(
            SUBSCRIBER_DAM_ROUTES,
            state,
            record_exchanges=record_exchanges,
            max_exchanges=max_exchanges,
            max_body_bytes=max_body_bytes,
        )
        self._listener = Listener(self._site, host, 0, tls, f"subscriber DAM of {state.owner_id}")

    @property
    def subscriber_id(self) -> str:
        return self.state.owner_id

    # -- lifecycle (driven by the simulator) ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._listener.running

    def start(self) -> None:
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()

    # -- state ---------------------------------------------------------------------------------------------

    def operations(self) -> list[dict[str, Any]]:
        """Every operation as ``GET /operations`` would list it now (for assertions)."""
        return self.state.operations()

    def add_operation(
        self,
        trigger_function: str,
        status: OperationStatus | str,
        *,
        retry_counter: int = 0,
        error_info: dict[str, Any] | None = None,
    ) -> str:
        """Seeds an operation that shows ``status`` from now on; returns its id."""
        return self.state.add_operation(
            trigger_function, OperationStatus(status), retry_counter=retry_counter, error_info=error_info
        )

    def expire_sessions(self) -> None:
        self.state.expire_sessions()

    # -- faults --------------------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> ActiveFault:
        if fault.endpoint != "*" and fault.endpoint not in SUBSCRIBER_DAM_ENDPOINTS:
            raise ValueError(
                f"a subscriber DAM does not serve {fault.endpoint!r}; use '*' or one of: "
                f"{', '.join(sorted(SUBSCRIBER_DAM_ENDPOINTS))}"
            )
        return super().add_fault(fault)

    # -- instrumentation -----------------------------------------------------------------------------------

    def endpoint_hits(self) -> dict[str, int]:
        """Requests per endpoint key, e.g. ``{"GET /operations": 3}``; always counted."""
        return self._site.endpoint_hits
