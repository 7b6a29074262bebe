"""Resync (PATCH resyncStatus=RESYNC_TRIGGER_START) and the operations it leaves behind."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from damdrift_cli.simulator import ManualClock, Simulator
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    FIND_FAILS_ID,
    SimulatorFactory,
    login,
    make_scenario,
)

pytestmark = pytest.mark.integration


class Publisher:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.session = login(sim)

    def patch(self, subscriber_id: str, status: str) -> dict[str, Any]:
        url = f"{self.sim.dam_base_url}/staging/subscriber/{subscriber_id}"
        response = self.session.patch(url, json={"resyncStatus": status}, timeout=5)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def status(self, subscriber_id: str) -> str:
        url = f"{self.sim.dam_base_url}/staging/subscriber/{subscriber_id}"
        return str(self.session.get(url, timeout=5).json()["resyncStatus"])

    def operations(self, **params: Any) -> requests.Response:
        return self.session.get(f"{self.sim.dam_base_url}/operations", params=params, timeout=5)

    def mismatch_count(self, subscriber_id: str) -> int:
        url = f"{self.sim.dam_base_url}/staging/mismatches"
        return len(self.session.get(url, params={"subscriberId": subscriber_id}, timeout=5).json())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dx(dx_simulator_factory: SimulatorFactory, clock: ManualClock) -> Publisher:
    scenario = make_scenario(
        find_duration_seconds=10, resync_duration_seconds=20, operation_duration_seconds=60
    )
    return Publisher(dx_simulator_factory(scenario, clock=clock))


def _sync_operations(dx: Publisher) -> list[dict[str, Any]]:
    return [op for op in dx.operations().json() if op["triggerFunction"].startswith("syncStaging")]


def test_resync_creates_operations_and_clears_the_drift(dx: Publisher, clock: ManualClock) -> None:
    dx.patch(DRIFTED_ID, "FIND_MISMATCH_START")
    clock.advance(10)
    assert dx.mismatch_count(DRIFTED_ID) == 15

    assert dx.patch(DRIFTED_ID, "RESYNC_TRIGGER_START")["resyncStatus"] == "RESYNC_TRIGGER_START"
    clock.advance(19)
    assert dx.status(DRIFTED_ID) == "RESYNC_TRIGGER_START"
    assert _sync_operations(dx) == []
    clock.advance(1)

    assert dx.status(DRIFTED_ID) == "RESYNC_TRIGGER_COMPLETED"
    operations = _sync_operations(dx)
    names = {op["triggerFunction"] for op in operations}
    assert {"syncStagingCollectionContent", "syncStagingMediaContent", "syncStagingRenditionContent"} == names
    assert all(op["inputs"]["subscriberId"] == DRIFTED_ID for op in operations)
    assert {op["status"] for op in operations} == {"TODO"}
    clock.advance(30)
    assert {op["status"] for op in _sync_operations(dx)} == {"PROCESSING"}
    clock.advance(30)
    assert {op["status"] for op in _sync_operations(dx)} == {"SUCCESS"}
    assert dx.sim.drift(DRIFTED_ID).total == 0
    assert dx.sim.resync_trigger_count(DRIFTED_ID) == 1

    dx.patch(DRIFTED_ID, "FIND_MISMATCH_START")
    clock.advance(10)
    assert dx.status(DRIFTED_ID) == "FIND_MISMATCH_COMPLETED"
    assert dx.mismatch_count(DRIFTED_ID) == 15, "old rows stay until DELETE /staging/mismatches"
    dx.session.delete(
        f"{dx.sim.dam_base_url}/staging/mismatches", params={"subscriberId": DRIFTED_ID}, timeout=5
    )
    dx.patch(DRIFTED_ID, "FIND_MISMATCH_START")
    clock.advance(10)
    assert dx.mismatch_count(DRIFTED_ID) == 0


def test_a_failing_resync_keeps_the_drift(dx: Publisher, clock: ManualClock) -> None:
    dx.sim.configure_subscriber(DRIFTED_ID, resync_outcome="fail")
    dx.patch(DRIFTED_ID, "RESYNC_TRIGGER_START")
    clock.advance(20)

    assert dx.status(DRIFTED_ID) == "RESYNC_TRIGGER_FAILED"
    assert dx.sim.drift(DRIFTED_ID).total == 15
    assert _sync_operations(dx) == []


def test_operations_filters_and_paging(dx: Publisher, clock: ManualClock) -> None:
    dx.patch(FIND_FAILS_ID, "FIND_MISMATCH_START")
    dx.patch(DRIFTED_ID, "RESYNC_TRIGGER_START")
    clock.advance(20)
    everything = dx.operations().json()
    assert len(everything) == 4  # the failed find, then three syncStaging* operations

    failed = dx.operations(status="FAILED").json()
    assert [op["triggerFunction"] for op in failed] == ["findStagingMismatch"]
    assert len(dx.operations(status="FAILED,TODO").json()) == 4
    assert len(dx.operations(status="SUCCESS").json()) == 0
    by_function = dx.operations(triggerFunctions="findStagingMismatch,syncStagingMediaContent").json()
    assert [op["triggerFunction"] for op in by_function] == ["findStagingMismatch", "syncStagingMediaContent"]
    assert dx.operations(offset=1, limit=2).json() == everything[1:3]

    one = dx.session.get(f"{dx.sim.dam_base_url}/operations/{failed[0]['id']}", timeout=5)
    assert one.json() == failed[0]
    missing = dx.session.get(f"{dx.sim.dam_base_url}/operations/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["name"] == "NotFoundError"


@pytest.mark.parametrize(("params", "named"), [({"status": "DONE"}, "status"), ({"limit": "x"}, "limit")])
def test_operations_refuse_bad_parameters(dx: Publisher, params: dict[str, str], named: str) -> None:
    response = dx.operations(**params)

    assert response.status_code == 400
    assert named in response.json()["error"]["message"]


def test_deregistering_during_a_find_aborts_its_operation(dx: Publisher, clock: ManualClock) -> None:
    dx.patch(DRIFTED_ID, "FIND_MISMATCH_START")
    dx.sim.remove_subscriber(DRIFTED_ID)
    clock.advance(10)

    [operation] = dx.operations(triggerFunctions="findStagingMismatch").json()
    assert operation["status"] == "ABORT"
    assert dx.mismatch_count(DRIFTED_ID) == 0
