"""The find-mismatch job: PATCH resyncStatus=FIND_MISMATCH_START, then COMPLETED, FAILED or stuck."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from damdrift_cli.simulator import ManualClock, Simulator, record_id
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    FIND_FAILS_ID,
    FIND_STUCK_ID,
    IN_SYNC_ID,
    TEST_DRIFT,
    SimulatorFactory,
    login,
    make_scenario,
)

pytestmark = pytest.mark.integration

FIND = "FIND_MISMATCH_START"
TOTAL = sum(n for actions in TEST_DRIFT.values() for n in actions.values())


class Publisher:
    """Raw HTTP against the simulator, as a DX client would send it."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.session = login(sim)

    def trigger(self, subscriber_id: str, status: str = FIND) -> requests.Response:
        url = f"{self.sim.dam_base_url}/staging/subscriber/{subscriber_id}"
        return self.session.patch(url, json={"resyncStatus": status}, timeout=5)

    def subscriber(self, subscriber_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.sim.dam_base_url}/staging/subscriber/{subscriber_id}", timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def mismatches(self, **params: Any) -> list[dict[str, Any]]:
        response = self.session.get(f"{self.sim.dam_base_url}/staging/mismatches", params=params, timeout=30)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def finds(self, subscriber_id: str) -> list[dict[str, Any]]:
        params = {"triggerFunctions": "findStagingMismatch"}
        response = self.session.get(f"{self.sim.dam_base_url}/operations", params=params, timeout=5)
        return [op for op in response.json() if op["inputs"]["subscriberId"] == subscriber_id]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dx(dx_simulator_factory: SimulatorFactory, clock: ManualClock) -> Publisher:
    return Publisher(dx_simulator_factory(make_scenario(find_duration_seconds=30), clock=clock))


def test_a_find_runs_then_completes_and_appends_rows(dx: Publisher, clock: ManualClock) -> None:
    started = dx.trigger(DRIFTED_ID)

    assert started.status_code == 200
    assert started.json()["resyncStatus"] == FIND
    [operation] = dx.finds(DRIFTED_ID)
    assert (operation["status"], operation["retryCounter"]) == ("PROCESSING", 0)
    clock.advance(29.9)
    assert dx.subscriber(DRIFTED_ID)["resyncStatus"] == FIND
    assert dx.mismatches() == []

    clock.advance(0.1)
    done = dx.subscriber(DRIFTED_ID)

    assert done["resyncStatus"] == "FIND_MISMATCH_COMPLETED"
    assert done["lastResyncTime"] == done["updated"]
    assert dx.finds(DRIFTED_ID)[0]["status"] == "SUCCESS"
    rows = dx.mismatches(subscriberId=DRIFTED_ID)
    assert len(rows) == TOTAL
    assert {(r["recordType"], r["recordAction"]) for r in rows} == {
        (t, a) for t, actions in TEST_DRIFT.items() for a in actions
    }
    assert set(rows[0]) == {
        "id",
        "subscriberId",
        "recordType",
        "recordAction",
        "recordId",
        "created",
        "updated",
    }
    assert rows[0]["created"] == done["lastResyncTime"]


def test_a_second_run_appends_rows_with_new_ids_and_the_same_record_ids(
    dx: Publisher, clock: ManualClock
) -> None:
    for _ in range(2):
        dx.trigger(DRIFTED_ID)
        clock.advance(30)
    rows = dx.mismatches(subscriberId=DRIFTED_ID)

    assert len(rows) == 2 * TOTAL
    first, second = rows[:TOTAL], rows[TOTAL:]
    assert [r["recordId"] for r in first] == [r["recordId"] for r in second]
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    assert len({r["recordId"] for r in first}) == TOTAL


def test_delete_mismatches_clears_one_subscriber_or_all(dx: Publisher, clock: ManualClock) -> None:
    other = dx.sim.add_subscriber("dx-sub-other.test", drift={"VERSION": {"UPDATE": 3}})
    for subscriber_id in (DRIFTED_ID, other):
        dx.trigger(subscriber_id)
    clock.advance(30)
    url = f"{dx.sim.dam_base_url}/staging/mismatches"

    one = dx.session.delete(url, params={"subscriberId": DRIFTED_ID}, timeout=5)
    assert one.status_code == 204
    assert dx.mismatches(subscriberId=DRIFTED_ID) == []
    assert len(dx.mismatches()) == 3

    assert dx.session.delete(url, timeout=5).status_code == 204
    assert dx.mismatches() == []


def test_record_ids_are_stable_across_simulators_and_follow_drift_changes(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    def one_run(drift: dict[str, Any]) -> set[str]:
        clock = ManualClock()
        dx = Publisher(dx_simulator_factory(clock=clock))
        dx.sim.set_drift(DRIFTED_ID, drift)
        dx.trigger(DRIFTED_ID)
        clock.advance(1)
        return {r["recordId"] for r in dx.mismatches(subscriberId=DRIFTED_ID)}

    before = one_run({"COLLECTION": {"CREATE": 4}})
    again = one_run({"COLLECTION": {"CREATE": 4}})
    # Two records resolved (start moves up), three new ones appear.
    after = one_run({"COLLECTION": {"CREATE": {"start": 2, "count": 5}}})

    assert before == again
    expected = {record_id(7, DRIFTED_ID, "COLLECTION", "CREATE", i) for i in range(4)}
    assert before == expected
    assert before - after == {record_id(7, DRIFTED_ID, "COLLECTION", "CREATE", i) for i in (0, 1)}
    assert after - before == {record_id(7, DRIFTED_ID, "COLLECTION", "CREATE", i) for i in (4, 5, 6)}


def test_a_drift_change_during_a_run_applies_to_the_next_run(dx: Publisher, clock: ManualClock) -> None:
    dx.trigger(DRIFTED_ID)
    dx.sim.set_drift(DRIFTED_ID, {"FAVORITE": {"DELETE": 1}})
    clock.advance(30)
    dx.trigger(DRIFTED_ID)
    clock.advance(30)

    rows = dx.mismatches(subscriberId=DRIFTED_ID)
    assert len(rows) == TOTAL + 1
    assert (rows[-1]["recordType"], rows[-1]["recordAction"]) == ("FAVORITE", "DELETE")


def test_an_in_sync_subscriber_completes_with_no_rows(dx: Publisher, clock: ManualClock) -> None:
    dx.trigger(IN_SYNC_ID)
    clock.advance(30)

    assert dx.subscriber(IN_SYNC_ID)["resyncStatus"] == "FIND_MISMATCH_COMPLETED"
    assert dx.mismatches(subscriberId=IN_SYNC_ID) == []


def test_a_failing_find_leaves_a_failed_operation_with_retries(dx: Publisher, clock: ManualClock) -> None:
    dx.trigger(FIND_FAILS_ID)
    clock.advance(30)

    subscriber = dx.subscriber(FIND_FAILS_ID)
    assert subscriber["resyncStatus"] == "FIND_MISMATCH_FAILED"
    assert "lastResyncTime" in subscriber
    [operation] = dx.finds(FIND_FAILS_ID)
    assert operation["status"] == "FAILED"
    assert operation["retryCounter"] > 0
    assert isinstance(operation["errorInfo"], dict) and operation["errorInfo"]
    assert dx.mismatches(subscriberId=FIND_FAILS_ID) == []


def test_a_stuck_find_stays_started(dx: Publisher, clock: ManualClock) -> None:
    dx.trigger(FIND_STUCK_ID)
    clock.advance(30 * 24 * 3600)
    dx.session = login(dx.sim)  # the first session expired long ago

    assert dx.subscriber(FIND_STUCK_ID)["resyncStatus"] == FIND
    assert dx.finds(FIND_STUCK_ID)[0]["status"] == "PROCESSING"


def test_a_second_trigger_while_running_is_409(dx: Publisher, clock: ManualClock) -> None:
    dx.trigger(DRIFTED_ID)
    second = dx.trigger(DRIFTED_ID)
    resync = dx.trigger(DRIFTED_ID, "RESYNC_TRIGGER_START")

    assert second.status_code == resync.status_code == 409
    assert second.json()["error"]["statusCode"] == "409"
    assert second.json()["error"]["name"] == "ConflictError"
    assert dx.sim.find_trigger_count(DRIFTED_ID) == 2
    clock.advance(30)
    assert dx.trigger(DRIFTED_ID).status_code == 200
    assert len(dx.finds(DRIFTED_ID)) == 2


def test_the_conflict_policy_can_accept_a_second_trigger_and_do_nothing(
    dx: Publisher, clock: ManualClock
) -> None:
    dx.sim.configure(conflict_policy="accept")
    dx.trigger(DRIFTED_ID)
    clock.advance(10)
    second = dx.trigger(DRIFTED_ID)

    assert second.status_code == 200
    assert second.json()["resyncStatus"] == FIND
    assert len(dx.finds(DRIFTED_ID)) == 1
    clock.advance(20)
    assert dx.subscriber(DRIFTED_ID)["resyncStatus"] == "FIND_MISMATCH_COMPLETED"
    assert len(dx.mismatches(subscriberId=DRIFTED_ID)) == TOTAL


def test_finds_on_different_subscribers_overlap_and_are_counted(dx: Publisher, clock: ManualClock) -> None:
    dx.sim.configure_subscriber(IN_SYNC_ID, find_duration_seconds=0.5)
    dx.trigger(IN_SYNC_ID)
    dx.trigger(DRIFTED_ID)
    clock.advance(0.5)
    assert dx.subscriber(IN_SYNC_ID)["resyncStatus"] == "FIND_MISMATCH_COMPLETED"
    assert dx.subscriber(DRIFTED_ID)["resyncStatus"] == FIND
    dx.trigger(FIND_FAILS_ID)

    assert dx.sim.max_concurrent_finds == 2
    assert [dx.sim.find_trigger_count(s) for s in (IN_SYNC_ID, DRIFTED_ID, FIND_FAILS_ID)] == [1, 1, 1]


def test_with_the_real_clock_a_find_completes_after_its_duration(dx_simulator: Simulator) -> None:
    dx = Publisher(dx_simulator)
    started = time.monotonic()  # before the trigger: the find's 0.2 s start when DX receives it
    dx.trigger(DRIFTED_ID)
    while dx.subscriber(DRIFTED_ID)["resyncStatus"] == FIND:
        assert time.monotonic() - started < 5, "the 0.2 s find did not complete"
        time.sleep(0.02)

    assert time.monotonic() - started >= 0.2
    assert len(dx.mismatches(subscriberId=DRIFTED_ID)) == TOTAL
