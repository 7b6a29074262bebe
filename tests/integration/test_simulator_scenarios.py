"""Built-in scenarios and the validation of scenario files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from damdrift_cli.simulator import ScenarioError, builtin_scenarios, load_scenario
from damdrift_cli.simulator.pytest_plugin import SimulatorFactory, login
from damdrift_cli.simulator.scenario import drift_of

pytestmark = pytest.mark.integration


def test_the_built_ins() -> None:
    assert builtin_scenarios() == ["default", "empty", "large"]

    default = load_scenario("default")
    hosts = {s.target_host: s for s in default.subscribers}
    assert set(hosts) == {
        "dx-sub-in-sync.example.com",
        "dx-sub-drifted.example.com",
        "dx-sub-find-fails.example.com",
    }
    assert drift_of(hosts["dx-sub-in-sync.example.com"].drift).total == 0
    drifted = drift_of(hosts["dx-sub-drifted.example.com"].drift)
    assert len(drifted.blocks) >= 10 and 100 <= drifted.total <= 1000
    assert {b.record_action.value for b in drifted.blocks} == {"CREATE", "UPDATE", "DELETE"}
    assert hosts["dx-sub-find-fails.example.com"].find_outcome == "fail"
    assert default.credentials.username == default.credentials.password == "wpsadmin"

    [large] = load_scenario("large").subscribers
    assert drift_of(large.drift).total == 1_000_000
    assert load_scenario("empty").subscribers == []


def test_the_default_scenario_is_served(dx_simulator_factory: SimulatorFactory) -> None:
    sim = dx_simulator_factory("default")

    subscribers = login(sim).get(f"{sim.dam_base_url}/staging/subscriber", timeout=5).json()

    assert sorted(s["targetHost"] for s in subscribers) == sorted(
        s.target_host for s in load_scenario("default").subscribers
    )


def test_an_empty_publisher_has_no_subscribers(dx_simulator_factory: SimulatorFactory) -> None:
    sim = dx_simulator_factory("empty")

    assert login(sim).get(f"{sim.dam_base_url}/staging/subscriber", timeout=5).json() == []


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


GOOD_SUBSCRIBER = {"id": "6a1f2d7e-6c83-4b0f-9d59-3f4c6a1b2c3d", "targetHost": "a.test"}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            {"subscribers": [GOOD_SUBSCRIBER, {**GOOD_SUBSCRIBER, "findOutcome": "explode"}]},
            "subscribers.1.findOutcome",
        ),
        ({"subscribers": [{**GOOD_SUBSCRIBER, "id": "sub-1"}]}, "subscribers.0.id"),
        (
            {"subscribers": [{**GOOD_SUBSCRIBER, "drift": {"COLLECTIONS": {"CREATE": 1}}}]},
            "subscribers.0.drift",
        ),
        (
            {"subscribers": [{**GOOD_SUBSCRIBER, "drift": {"COLLECTION": {"CREATE": -1}}}]},
            "COLLECTION.CREATE",
        ),
        ({"findDurationSeconds": -1}, "findDurationSeconds"),
        ({"conflictPolicy": "maybe"}, "conflictPolicy"),
        ({"colour": "blue"}, "colour"),
        ({"credentials": {"username": ""}}, "credentials.username"),
        ({"faults": [{"endpoint": "GET /nowhere", "kind": "drop"}]}, "faults.0.endpoint"),
        ({"subscribers": [GOOD_SUBSCRIBER, GOOD_SUBSCRIBER]}, "duplicate"),
    ],
)
def test_a_bad_scenario_file_names_the_field(tmp_path: Path, data: dict[str, Any], named: str) -> None:
    path = _write(tmp_path, data)

    with pytest.raises(ScenarioError) as raised:
        load_scenario(str(path))

    assert str(path) in str(raised.value)
    assert named in str(raised.value)


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(_write(tmp_path, "{subscribers: []"))


def test_an_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="default, empty, large"):
        load_scenario("no-such-scenario")


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    drift = {"MEDIA_ITEM": {"CREATE": 2, "UPDATE": {"start": 5, "count": 3}}}
    scenario = load_scenario(_write(tmp_path, {"subscribers": [{**GOOD_SUBSCRIBER, "drift": drift}]}))

    assert scenario.credentials.username == "wpsadmin"
    assert scenario.token_ttl_seconds == 7200
    assert drift_of(scenario.subscribers[0].drift).to_mapping() == drift
