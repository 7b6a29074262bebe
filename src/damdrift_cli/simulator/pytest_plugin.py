"""Pytest fixtures for the DX simulator (``tests/conftest.py`` loads this module as a plugin).

``dx_simulator`` is a started simulator with the small, fast :func:`make_scenario` (finds take 0.2 s),
one per test, on a free port so tests can run in parallel; ``dx_simulator_factory`` starts others (a
different scenario, a :class:`~damdrift_cli.simulator.clock.ManualClock`) and stops them all after the
test; ``dx_session`` is a ``requests.Session`` logged in to ``dx_simulator``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from damdrift_cli.simulator.clock import Clock
from damdrift_cli.simulator.scenario import Scenario
from damdrift_cli.simulator.server import Simulator

#: The subscribers of :func:`make_scenario`; their target hosts say what each one does.
IN_SYNC_ID = "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1001"
DRIFTED_ID = "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1002"
FIND_FAILS_ID = "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1003"
FIND_STUCK_ID = "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1004"

#: The drifted subscriber's drift: 15 records over three types and all three actions.
TEST_DRIFT: dict[str, dict[str, int]] = {
    "COLLECTION": {"CREATE": 3, "UPDATE": 2},
    "MEDIA_ITEM": {"CREATE": 5, "DELETE": 1},
    "RENDITION": {"CREATE": 4},
}


def make_scenario(**overrides: Any) -> Scenario:
    """The test scenario, with any scenario field replaced (by Python name or JSON name).

    ``make_scenario(subscribers=[...])`` replaces the subscribers; ``find_duration_seconds=1`` slows
    finds down; ``faults=[{"endpoint": "*", "kind": "delay", "seconds": 0.1}]`` adds faults.
    """
    data: dict[str, Any] = {
        "name": "test",
        "description": "Small and fast, for tests.",
        "findDurationSeconds": 0.2,
        "resyncDurationSeconds": 0.2,
        "operationDurationSeconds": 0.2,
        "seed": 7,
        "subscribers": [
            {"id": IN_SYNC_ID, "targetHost": "dx-sub-in-sync.test"},
            {"id": DRIFTED_ID, "targetHost": "dx-sub-drifted.test", "drift": TEST_DRIFT},
            {
                "id": FIND_FAILS_ID,
                "targetHost": "dx-sub-find-fails.test",
                "drift": {"MEDIA_ITEM": {"CREATE": 2}},
                "findOutcome": "fail",
            },
            {"id": FIND_STUCK_ID, "targetHost": "dx-sub-find-stuck.test", "findOutcome": "stuck"},
        ],
    }
    for name, value in overrides.items():
        field = Scenario.model_fields.get(name)
        data[field.alias or name if field else name] = value
    return Scenario.model_validate(data)


class RingHost(Protocol):
    """A host with a Ring login: the publisher (:class:`Simulator`) or a subscriber DAM."""

    @property
    def ring_base_url(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...


def login(simulator: RingHost) -> requests.Session:
    """A session holding a fresh LtpaToken2 cookie from the publisher or a subscriber DAM."""
    session = requests.Session()
    response = session.post(
        f"{simulator.ring_base_url}/auth/login",
        json={"username": simulator.username, "password": simulator.password},
        timeout=10,
    )
    response.raise_for_status()
    return session


class SimulatorFactory(Protocol):
    def __call__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        clock: Clock | None = None,
        record_exchanges: bool = True,
    ) -> Simulator: ...


@pytest.fixture
def dx_simulator_factory() -> Iterator[SimulatorFactory]:
    """Starts simulators (default scenario: :func:`make_scenario`); all are stopped after the test."""
    started: list[Simulator] = []

    def start(
        scenario: Scenario | str | Path | None = None,
        *,
        clock: Clock | None = None,
        record_exchanges: bool = True,
    ) -> Simulator:
        kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
        simulator = Simulator(scenario or make_scenario(), record_exchanges=record_exchanges, **kwargs)
        started.append(simulator.start())
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def dx_simulator(dx_simulator_factory: SimulatorFactory) -> Simulator:
    """A started simulator with :func:`make_scenario`, recording exchanges."""
    return dx_simulator_factory()


@pytest.fixture
def dx_session(dx_simulator: Simulator) -> Iterator[requests.Session]:
    """A ``requests.Session`` logged in to ``dx_simulator``."""
    with login(dx_simulator) as session:
        yield session
