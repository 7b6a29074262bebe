"""What the publisher and a subscriber DAM have alike: an address, the credentials, faults, exchanges.

:class:`~.server.Simulator` (the publisher) and :class:`~.subscriber_dam.SubscriberDam` each serve
their own :class:`~.httpd.Site` through a :class:`~.httpd.Listener`; this is the part of their Python
API that does not depend on which host they are.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from damdrift_cli.simulator.api import DAM_BASE, RING_BASE
from damdrift_cli.simulator.faults import ActiveFault, EchoEncoding, Fault, FaultKind, make_fault
from damdrift_cli.simulator.httpd import Exchange, Listener, Site, SiteState
from damdrift_cli.simulator.state import Settings


class _HostState(SiteState, Protocol):
    @property
    def settings(self) -> Settings: ...


_S = TypeVar("_S", bound=_HostState)


class SimulatedHost(Generic[_S]):
    """A simulated DX host's address, credentials, faults and recorded exchanges.

    The address properties need it running; faults and records work at any time.
    """

    state: _S
    _site: Site[_S]
    _listener: Listener

    @property
    def hostname(self) -> str:
        return self._listener.hostname

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the APIs are under ``/dx/api/core/v1`` and ``/dx/api/dam/v1``)."""
        return self._listener.base_url

    @property
    def protocol(self) -> str:
        """``https`` when serving TLS, else ``http`` (what ``dxProtocol`` must say)."""
        return self._listener.protocol

    @property
    def ring_base_url(self) -> str:
        return self.base_url + RING_BASE

    @property
    def dam_base_url(self) -> str:
        return self.base_url + DAM_BASE

    @property
    def username(self) -> str:
        return self.state.settings.username

    @property
    def password(self) -> str:
        return self.state.settings.password

    # -- faults --------------------------------------------------------------------------------------------

    def inject_fault(
        self,
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
    ) -> ActiveFault:
        """E.g. ``inject_fault("GET /staging/mismatches", "status", status=503, retry_after=1, times=2)``.

        Returns the fault in force; its ``seen``/``applied`` counters show whether requests met it.
        """
        fault = make_fault(
            endpoint,
            kind,
            status=status,
            encoding=encoding,
            retry_after=retry_after,
            seconds=seconds,
            subscriber_id=subscriber_id,
            times=times,
            after=after,
            location=location,
            size=size,
            body=body,
            message=message,
        )
        return self.add_fault(fault)

    def add_fault(self, fault: Fault) -> ActiveFault:
        return self._site.faults.add(fault)

    def clear_faults(self) -> None:
        self._site.faults.clear()

    # -- recorded exchanges --------------------------------------------------------------------------------

    @property
    def record_exchanges(self) -> bool:
        return self._site.record_exchanges

    @record_exchanges.setter
    def record_exchanges(self, value: bool) -> None:
        self._site.record_exchanges = value

    @property
    def exchanges(self) -> list[Exchange]:
        """This host's recorded requests and answers, oldest first (empty unless ``record_exchanges``).

        The publisher and each subscriber DAM keep their own: ``subscriber_dam(id).exchanges``.
        """
        return self._site.exchanges

    def clear_exchanges(self) -> None:
        self._site.clear_exchanges()
