"""Subscriber registration endpoints: list, get, register, update, deregister."""

from __future__ import annotations

import pytest
import requests
from pydantic import ValidationError

from damdrift_cli.simulator import Simulator
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    FIND_FAILS_ID,
    FIND_STUCK_ID,
    IN_SYNC_ID,
    SimulatorFactory,
    login,
    make_scenario,
)

pytestmark = pytest.mark.integration


def _url(sim: Simulator, path: str = "") -> str:
    return f"{sim.dam_base_url}/staging/subscriber{path}"


def test_list_returns_the_scenarios_subscribers(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    response = dx_session.get(_url(dx_simulator), timeout=5)

    assert response.status_code == 200
    subscribers = response.json()
    assert [s["id"] for s in subscribers] == [IN_SYNC_ID, DRIFTED_ID, FIND_FAILS_ID, FIND_STUCK_ID]
    drifted = subscribers[1]
    assert drifted["targetHost"] == "dx-sub-drifted.test"
    assert drifted["status"] is True
    assert drifted["cycleLength"] == 2
    assert {"created", "updated"} <= drifted.keys()
    # Before the first run there is no resyncStatus (the spec's schema has no null; see the report).
    assert "resyncStatus" not in drifted and "lastResyncTime" not in drifted


def test_unset_fields_can_be_sent_as_null(dx_simulator_factory: SimulatorFactory) -> None:
    sim = dx_simulator_factory(make_scenario(unset_fields_as_null=True))

    subscriber = login(sim).get(_url(sim, f"/{DRIFTED_ID}"), timeout=5).json()

    assert subscriber["resyncStatus"] is None
    assert subscriber["lastResyncTime"] is None


def test_get_by_id_or_target_host(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    by_id = dx_session.get(_url(dx_simulator, f"/{DRIFTED_ID}"), timeout=5)
    by_host = dx_session.get(_url(dx_simulator, "/dx-sub-drifted.test"), timeout=5)

    assert by_id.status_code == by_host.status_code == 200
    assert by_id.json()["id"] == by_host.json()["id"] == DRIFTED_ID


def test_an_unknown_subscriber_is_404_with_the_dam_error_body(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for method in ("GET", "PATCH", "DELETE"):
        response = dx_session.request(method, _url(dx_simulator, f"/{unknown}"), json={}, timeout=5)

        assert response.status_code == 404, method
        error = response.json()["error"]
        assert error["statusCode"] == "404"
        assert error["name"] == "NotFoundError"
        assert unknown in error["message"]


def test_register_returns_the_response_dto_and_refuses_a_duplicate_host(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    body = {"targetHost": "dx-sub-new.test", "cycleLength": 5, "status": True}

    created = dx_session.post(_url(dx_simulator), json=body, timeout=5)
    duplicate = dx_session.post(_url(dx_simulator), json=body, timeout=5)

    assert created.status_code == 200
    dto = created.json()
    assert dto["isSuccess"] is True and dto["errorMessage"] == ""
    assert dto["targetHost"] == "dx-sub-new.test" and dto["cycleLength"] == 5
    assert (
        dx_session.get(_url(dx_simulator, f"/{dto['id']}"), timeout=5).json()["targetHost"]
        == "dx-sub-new.test"
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["name"] == "ConflictError"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"cycleLength": 2}, "targetHost"),
        ({"targetHost": "x.test", "colour": "red"}, "colour"),
        ({"targetHost": "x.test", "status": "yes"}, "status"),
    ],
)
def test_register_checks_the_body(
    dx_simulator: Simulator, dx_session: requests.Session, body: dict[str, object], named: str
) -> None:
    response = dx_session.post(_url(dx_simulator), json=body, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]["name"] == "BadRequestError"
    assert named in response.json()["error"]["message"]


def test_patch_stores_fields(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    response = dx_session.patch(
        _url(dx_simulator, f"/{IN_SYNC_ID}"), json={"cycleLength": 1440, "syncStatus": "FAILED"}, timeout=5
    )

    assert response.status_code == 200
    assert response.json()["cycleLength"] == 1440
    stored = dx_session.get(_url(dx_simulator, f"/{IN_SYNC_ID}"), timeout=5).json()
    assert (stored["cycleLength"], stored["syncStatus"]) == (1440, "FAILED")
    assert "resyncStatus" not in stored


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"resyncStatus": "FIND_MISMATCH_START", "extra": 1}, "extra"),
        ({"cycleLength": "often"}, "cycleLength"),
        ({"resyncStatus": "GO"}, "resyncStatus"),
        ({"lastSyncTime": "yesterday"}, "lastSyncTime"),
    ],
)
def test_patch_refuses_unknown_fields_and_wrong_types(
    dx_simulator: Simulator, dx_session: requests.Session, body: dict[str, object], named: str
) -> None:
    response = dx_session.patch(_url(dx_simulator, f"/{DRIFTED_ID}"), json=body, timeout=5)

    assert response.status_code == 400
    assert named in response.json()["error"]["message"]
    assert dx_simulator.find_trigger_count(DRIFTED_ID) == 0


def test_patch_with_a_body_that_is_not_json_is_400(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    response = dx_session.patch(
        _url(dx_simulator, f"/{DRIFTED_ID}"),
        data=b"{",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400


def test_deregister(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    response = dx_session.delete(_url(dx_simulator, f"/{IN_SYNC_ID}"), timeout=5)

    assert response.status_code == 204
    assert response.content == b""
    assert dx_session.get(_url(dx_simulator, f"/{IN_SYNC_ID}"), timeout=5).status_code == 404
    assert IN_SYNC_ID not in [s["id"] for s in dx_session.get(_url(dx_simulator), timeout=5).json()]


def test_python_api_adds_and_removes_subscribers(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    new_id = dx_simulator.add_subscriber("dx-sub-added.test", drift={"KEYWORD": {"CREATE": 2}})

    assert (
        dx_session.get(_url(dx_simulator, f"/{new_id}"), timeout=5).json()["targetHost"]
        == "dx-sub-added.test"
    )
    assert dx_simulator.drift(new_id).total == 2
    dx_simulator.remove_subscriber(new_id)
    assert dx_session.get(_url(dx_simulator, f"/{new_id}"), timeout=5).status_code == 404


def test_python_api_checks_a_drift_like_a_scenario_file(dx_simulator: Simulator) -> None:
    with pytest.raises(ValidationError, match="COLLECTIONS"):
        dx_simulator.set_drift(DRIFTED_ID, {"COLLECTIONS": {"CREATE": 1}})
    with pytest.raises(ValidationError, match="count"):
        dx_simulator.add_subscriber("dx-sub-bad.test", drift={"COLLECTION": {"CREATE": -3}})
