"""A resync against a subscriber with a DAM: its operations run there and repair the drift as they succeed.

Timeline of every test: resync 20 s (RESYNC_TRIGGER_START), then operations of 60 s: TODO, PROCESSING
from +30 s, and their end at +60 s. The drifted subscriber's drift spans COLLECTION, MEDIA_ITEM and
RENDITION (15 records), so its resync runs syncStagingCollectionContent, syncStagingMediaContent and
syncStagingRenditionContent.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from damdrift_cli.simulator import ManualClock, Simulator, SubscriberDam
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    TEST_DRIFT,
    SimulatorFactory,
    login,
    make_scenario,
)
from damdrift_cli.simulator.resync import ResyncOutcome

pytestmark = pytest.mark.integration

COLLECTION, MEDIA, RENDITION = (
    "syncStagingCollectionContent",
    "syncStagingMediaContent",
    "syncStagingRenditionContent",
)


class Staging:
    """The publisher and the drifted subscriber's DAM, each with a logged-in session."""

    def __init__(self, sim: Simulator, clock: ManualClock) -> None:
        self.sim, self.clock = sim, clock
        self.dam: SubscriberDam = sim.subscriber_dam(DRIFTED_ID)
        self.publisher, self.subscriber = login(sim), login(self.dam)

    def trigger(self, status: str) -> None:
        url = f"{self.sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}"
        response = self.publisher.patch(url, json={"resyncStatus": status}, timeout=5)
        assert response.status_code == 200, response.text

    def resync_status(self) -> str:
        url = f"{self.sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}"
        return str(self.publisher.get(url, timeout=5).json()["resyncStatus"])

    def operations(self) -> dict[str, dict[str, Any]]:
        """The DAM's operations over HTTP, by trigger function."""
        response = self.subscriber.get(f"{self.dam.dam_base_url}/operations", timeout=5)
        assert response.status_code == 200, response.text
        return {op["triggerFunction"]: op for op in response.json()}

    def statuses(self) -> dict[str, str]:
        return {name: op["status"] for name, op in self.operations().items()}

    def find(self) -> list[dict[str, str]]:
        """A find-mismatch run to completion on a cleared log: the rows it reports."""
        mismatches = f"{self.sim.dam_base_url}/staging/mismatches"
        self.publisher.delete(mismatches, params={"subscriberId": DRIFTED_ID}, timeout=5)
        self.trigger("FIND_MISMATCH_START")
        self.clock.advance(10)
        rows: list[dict[str, str]] = self.publisher.get(
            mismatches, params={"subscriberId": DRIFTED_ID}, timeout=5
        ).json()
        return rows


def _staging(factory: SimulatorFactory, resync_outcome: ResyncOutcome) -> Staging:
    clock = ManualClock()
    scenario = make_scenario(
        find_duration_seconds=10, resync_duration_seconds=20, operation_duration_seconds=60
    )
    sim = factory(scenario, clock=clock)
    sim.remove_subscriber(DRIFTED_ID)
    sim.add_subscriber(
        "dx-sub-drifted.test",
        subscriber_id=DRIFTED_ID,
        drift=TEST_DRIFT,
        dam=True,
        resync_outcome=resync_outcome,
    )
    return Staging(sim, clock)


@pytest.fixture
def staging(dx_simulator_factory: SimulatorFactory, request: pytest.FixtureRequest) -> Staging:
    return _staging(dx_simulator_factory, getattr(request, "param", "complete"))


def _types(rows: list[dict[str, str]]) -> set[str]:
    return {row["recordType"] for row in rows}


def test_a_complete_resync_runs_its_operations_on_the_dam_and_they_clear_the_drift(staging: Staging) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(19)
    assert (staging.resync_status(), staging.operations()) == ("RESYNC_TRIGGER_START", {})

    staging.clock.advance(1)
    assert staging.resync_status() == "RESYNC_TRIGGER_COMPLETED"
    assert staging.statuses() == {COLLECTION: "TODO", MEDIA: "TODO", RENDITION: "TODO"}
    for op in staging.operations().values():
        assert op["inputs"] == {"subscriberId": DRIFTED_ID, "targetHost": "dx-sub-drifted.test"}
    publisher_ops = staging.publisher.get(f"{staging.sim.dam_base_url}/operations", timeout=5).json()
    assert [op["triggerFunction"] for op in publisher_ops] == [], "they run on the subscriber"
    assert staging.sim.drift(DRIFTED_ID).total == 15, "nothing is written before the operations run"

    staging.clock.advance(30)
    assert set(staging.statuses().values()) == {"PROCESSING"}
    staging.trigger("FIND_MISMATCH_START")  # a find started while they run sees the drift they leave
    staging.clock.advance(30)
    assert set(staging.statuses().values()) == {"SUCCESS"}
    rows = staging.publisher.get(
        f"{staging.sim.dam_base_url}/staging/mismatches", params={"subscriberId": DRIFTED_ID}, timeout=5
    ).json()
    assert len(rows) == 15

    assert staging.sim.drift(DRIFTED_ID).total == 0
    assert staging.find() == [], "a find started after they all succeeded comes back empty"


@pytest.mark.parametrize("staging", ["partial"], indirect=True)
def test_a_partial_resync_fails_the_last_drifted_types_operation_and_leaves_its_drift(
    staging: Staging,
) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(20 + 45)

    assert staging.resync_status() == "RESYNC_TRIGGER_COMPLETED"
    assert staging.statuses() == {COLLECTION: "PROCESSING", MEDIA: "PROCESSING", RENDITION: "RETRY"}
    assert staging.operations()[RENDITION]["retryCounter"] == 1
    staging.clock.advance(15)

    operations = staging.operations()
    assert {name: op["status"] for name, op in operations.items()} == {
        COLLECTION: "SUCCESS",
        MEDIA: "SUCCESS",
        RENDITION: "FAILED",
    }
    failed = operations[RENDITION]
    assert failed["retryCounter"] > 0
    assert failed["errorInfo"]["message"]
    assert "errorInfo" not in operations[MEDIA]
    assert staging.sim.drift(DRIFTED_ID).to_mapping() == {"RENDITION": {"CREATE": 4}}
    failed_only = staging.subscriber.get(
        f"{staging.dam.dam_base_url}/operations", params={"status": "FAILED"}, timeout=5
    ).json()
    assert [op["triggerFunction"] for op in failed_only] == [RENDITION]
    assert _types(staging.find()) == {"RENDITION"}


@pytest.mark.parametrize("staging", ["stuck"], indirect=True)
def test_a_stuck_resync_leaves_its_operations_processing_and_the_drift_as_it_was(staging: Staging) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(20 + 3600)  # an hour, well within the session TTL

    assert staging.resync_status() == "RESYNC_TRIGGER_COMPLETED"
    assert staging.statuses() == {COLLECTION: "PROCESSING", MEDIA: "PROCESSING", RENDITION: "PROCESSING"}
    assert staging.sim.drift(DRIFTED_ID).total == 15
    assert _types(staging.find()) == {"COLLECTION", "MEDIA_ITEM", "RENDITION"}


@pytest.mark.parametrize("staging", ["fail"], indirect=True)
def test_a_failing_resync_creates_no_operation_and_keeps_the_drift(staging: Staging) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(20 + 60)

    assert staging.resync_status() == "RESYNC_TRIGGER_FAILED"
    assert staging.operations() == {}
    assert len(staging.find()) == 15


def test_a_partial_resync_without_drift_has_nothing_to_fail(dx_simulator_factory: SimulatorFactory) -> None:
    staging = _staging(dx_simulator_factory, "partial")
    staging.sim.set_drift(DRIFTED_ID, {})
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(80)

    assert staging.statuses() == {COLLECTION: "SUCCESS", MEDIA: "SUCCESS"}


def test_an_operation_repairs_every_record_type_it_syncs(dx_simulator_factory: SimulatorFactory) -> None:
    staging = _staging(dx_simulator_factory, "partial")
    staging.sim.set_drift(
        DRIFTED_ID,
        {
            "MEDIA_ITEM": {"CREATE": 1},
            "KEYWORD": {"DELETE": 2},
            "VERSION": {"CREATE": 3},
            "PERMISSION": {"CREATE": 1},
        },
    )
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(80)

    # PERMISSION is last: syncStagingPermissionResource fails; MEDIA_ITEM and KEYWORD go with media content
    assert staging.statuses()["syncStagingPermissionResource"] == "FAILED"
    assert staging.sim.drift(DRIFTED_ID).to_mapping() == {"PERMISSION": {"CREATE": 1}}


def test_drift_set_while_operations_run_is_repaired_by_type(staging: Staging) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(20)
    staging.sim.set_drift(DRIFTED_ID, {"MEDIA_ITEM": {"UPDATE": 2}, "FAVORITE": {"CREATE": 1}})
    staging.clock.advance(60)

    assert staging.sim.drift(DRIFTED_ID).to_mapping() == {"FAVORITE": {"CREATE": 1}}, "no favorite sync ran"


def test_a_resync_after_deregistration_repairs_nothing_and_breaks_nothing(staging: Staging) -> None:
    staging.trigger("RESYNC_TRIGGER_START")
    staging.clock.advance(20)
    staging.sim.remove_subscriber(DRIFTED_ID)
    staging.clock.advance(60)

    assert set(staging.statuses().values()) == {"SUCCESS"}
    with pytest.raises(requests.HTTPError):
        staging.publisher.get(
            f"{staging.sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}", timeout=5
        ).raise_for_status()
