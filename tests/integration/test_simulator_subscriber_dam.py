"""A subscriber's own DAM: Ring login and /operations on a port of its own, faults, seeded operations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from damdrift_cli.simulator import ManualClock, ScenarioError, Simulator, SubscriberDam
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    IN_SYNC_ID,
    SimulatorFactory,
    login,
    make_scenario,
)
from damdrift_cli.simulator.scenario import parse_scenario
from tests.certificates import make_pki

pytestmark = pytest.mark.integration

ADMIN = {"username": "wpsadmin", "password": "wpsadmin"}


def _with_dam(**overrides: object) -> list[dict[str, object]]:
    """The test scenario's subscribers, the drifted one with a DAM (and ``overrides``)."""
    subscribers: list[dict[str, object]] = [
        dict(s.model_dump(by_alias=True, exclude_defaults=True)) for s in make_scenario().subscribers
    ]
    for sub in subscribers:
        if sub["id"] == DRIFTED_ID:
            sub.update(dam=True, **overrides)
    return subscribers


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(dx_simulator_factory: SimulatorFactory, clock: ManualClock) -> Simulator:
    return dx_simulator_factory(make_scenario(subscribers=_with_dam()), clock=clock)


@pytest.fixture
def dam(sim: Simulator) -> SubscriberDam:
    return sim.subscriber_dam(DRIFTED_ID)


def test_the_dam_listens_on_a_port_of_its_own(sim: Simulator, dam: SubscriberDam) -> None:
    assert dam.hostname == sim.hostname == "127.0.0.1"
    assert dam.port != sim.port
    assert (dam.protocol, dam.base_url) == ("http", f"http://127.0.0.1:{dam.port}")
    assert dam.ring_base_url == dam.base_url + "/dx/api/core/v1"
    assert dam.dam_base_url == dam.base_url + "/dx/api/dam/v1"
    assert dam.subscriber_id == DRIFTED_ID
    assert sim.subscriber_dams == [dam]
    assert sim.subscriber_dam("dx-sub-drifted.test") is dam, "a target host names it too"


def test_login_gives_a_session_of_the_dams_own(sim: Simulator, dam: SubscriberDam) -> None:
    response = requests.post(f"{dam.ring_base_url}/auth/login", json=ADMIN, timeout=5)
    assert response.status_code == 200
    assert response.headers["Set-Cookie"].startswith("LtpaToken2=")
    cookies = response.cookies

    assert requests.get(f"{dam.dam_base_url}/operations", cookies=cookies, timeout=5).json() == []
    on_publisher = requests.get(f"{sim.dam_base_url}/operations", cookies=cookies, timeout=5)
    assert on_publisher.status_code == 401, "a subscriber's token means nothing to the publisher"
    publisher_cookies = login(sim).cookies
    on_dam = requests.get(f"{dam.dam_base_url}/operations", cookies=publisher_cookies, timeout=5)
    assert on_dam.status_code == 401
    assert on_dam.json()["error"]["name"] == "UnauthorizedError"


def test_wrong_credentials_get_the_ring_error(dam: SubscriberDam) -> None:
    response = requests.post(f"{dam.ring_base_url}/auth/login", json={**ADMIN, "password": "x"}, timeout=5)

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "reason"}
    assert "Set-Cookie" not in response.headers


def test_logout_and_expiry_end_the_session(sim: Simulator, dam: SubscriberDam, clock: ManualClock) -> None:
    session = login(dam)
    assert session.post(f"{dam.ring_base_url}/auth/logout", timeout=5).status_code == 200
    assert session.get(f"{dam.dam_base_url}/operations", timeout=5).status_code == 401

    session = login(dam)
    clock.advance(sim.state.settings.token_ttl_seconds)
    assert session.get(f"{dam.dam_base_url}/operations", timeout=5).status_code == 401

    session = login(dam)
    dam.expire_sessions()
    assert session.get(f"{dam.dam_base_url}/operations", timeout=5).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/dx/api/dam/v1/staging/subscriber", 404),
        ("GET", "/dx/api/dam/v1/staging/mismatches", 404),
        ("POST", "/dx/api/core/v1/auth/validate", 404),
        ("GET", "/nothing/here", 404),
        ("POST", "/dx/api/dam/v1/operations", 405),
    ],
)
def test_anything_else_gets_the_publishers_answer_for_unknown_paths(
    sim: Simulator, dam: SubscriberDam, method: str, path: str, status: int
) -> None:
    on_dam = login(dam).request(method, dam.base_url + path, timeout=5)
    assert on_dam.status_code == status

    if path.startswith("/dx/api/dam/v1/staging") or path.endswith("/validate"):
        return  # the publisher serves these
    on_publisher = login(sim).request(method, sim.base_url + path, timeout=5)
    assert (on_publisher.status_code, on_publisher.json()["error"].keys()) == (
        on_dam.status_code,
        on_dam.json()["error"].keys(),
    )


def test_operations_take_the_publishers_parameters(sim: Simulator, dam: SubscriberDam) -> None:
    failed = sim.add_subscriber_operation(
        DRIFTED_ID, "syncStagingMediaContent", "FAILED", retry_counter=3, error_info={"code": "X"}
    )
    processing = sim.add_subscriber_operation(DRIFTED_ID, "syncStagingRenditionContent", "PROCESSING")
    session = login(dam)

    def ids(**params: str) -> list[str]:
        response = session.get(f"{dam.dam_base_url}/operations", params=params, timeout=5)
        assert response.status_code == 200, response.text
        return [op["id"] for op in response.json()]

    assert ids() == [failed, processing]
    assert ids(status="FAILED") == [failed]
    assert ids(status="PROCESSING,TODO") == [processing]
    assert ids(triggerFunctions="syncStagingRenditionContent") == [processing]
    assert ids(offset="1", limit="5") == [processing]
    for bad, named in (({"status": "DONE"}, "status"), ({"limit": "x"}, "limit")):
        response = session.get(f"{dam.dam_base_url}/operations", params=bad, timeout=5)
        assert response.status_code == 400
        assert named in response.json()["error"]["message"]

    one = session.get(f"{dam.dam_base_url}/operations/{failed}", timeout=5).json()
    assert one["status"] == "FAILED"
    assert (one["retryCounter"], one["errorInfo"]) == (3, {"code": "X"})
    assert one["inputs"] == {"subscriberId": DRIFTED_ID, "targetHost": "dx-sub-drifted.test"}
    assert dam.operations() == [
        one,
        session.get(f"{dam.dam_base_url}/operations/{processing}", timeout=5).json(),
    ]
    missing = session.get(f"{dam.dam_base_url}/operations/nope", timeout=5)
    assert (missing.status_code, missing.json()["error"]["name"]) == (404, "NotFoundError")
    assert login(sim).get(f"{sim.dam_base_url}/operations", timeout=5).json() == [], "none on the publisher"


def test_seeding_needs_a_dam(sim: Simulator) -> None:
    with pytest.raises(KeyError, match="no simulated DAM"):
        sim.add_subscriber_operation(IN_SYNC_ID, "syncStagingMediaContent", "FAILED")
    with pytest.raises(ValueError, match="NOPE"):
        sim.add_subscriber_operation(DRIFTED_ID, "syncStagingMediaContent", "NOPE")


def test_faults_on_the_dam_are_its_own(sim: Simulator, dam: SubscriberDam) -> None:
    fault = dam.inject_fault("GET /operations", "status", status=503, retry_after=1, times=1)
    session = login(dam)

    first = session.get(f"{dam.dam_base_url}/operations", timeout=5)
    second = session.get(f"{dam.dam_base_url}/operations", timeout=5)

    assert (first.status_code, first.headers["Retry-After"], second.status_code) == (503, "1", 200)
    assert first.json()["error"]["statusCode"] == "503"
    assert (fault.seen, fault.applied) == (2, 1)
    assert login(sim).get(f"{sim.dam_base_url}/operations", timeout=5).status_code == 200
    assert dam.endpoint_hits() == {"POST /auth/login": 1, "GET /operations": 2}
    assert [e.faults for e in dam.exchanges[-2:]] == [("status",), ()]
    assert sim.endpoint_hits["GET /operations"] == 1, "only the request made to the publisher"


def test_wire_faults_and_clearing_them(dam: SubscriberDam) -> None:
    session = login(dam)
    dam.inject_fault("*", "drop")
    with pytest.raises(requests.ConnectionError):
        session.get(f"{dam.dam_base_url}/operations", timeout=5)
    dam.clear_faults()
    dam.inject_fault("POST /auth/login", "html", status=502)

    page = requests.post(f"{dam.ring_base_url}/auth/login", json=ADMIN, timeout=5)

    assert (page.status_code, page.headers["Content-Type"]) == (502, "text/html; charset=utf-8")


def test_a_fault_for_an_endpoint_the_dam_does_not_serve_is_refused(dam: SubscriberDam) -> None:
    with pytest.raises(ValueError, match=r"does not serve 'GET /staging/mismatches'"):
        dam.inject_fault("GET /staging/mismatches", "status", status=500)


def test_a_dam_added_before_or_after_start_runs_with_the_simulator(clock: ManualClock) -> None:
    sim = Simulator(make_scenario(subscribers=[]), clock=clock)
    before = sim.subscriber_dam(sim.add_subscriber("before.test", dam=True))
    with pytest.raises(RuntimeError, match="not running"):
        _ = before.port
    before.add_operation("syncStagingMediaContent", "TODO")  # works before start
    with sim:
        after = sim.subscriber_dam(sim.add_subscriber("after.test", dam=True))
        for dam in (before, after):
            assert login(dam).get(f"{dam.dam_base_url}/operations", timeout=5).status_code == 200
        assert len(before.operations()) == 1
        stopped_url = after.ring_base_url
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{stopped_url}/auth/login", json=ADMIN, timeout=5)
    with pytest.raises(KeyError):
        sim.subscriber_dam(sim.add_subscriber("none.test"))


def test_the_dam_outlives_its_registration(sim: Simulator, dam: SubscriberDam) -> None:
    op = sim.add_subscriber_operation(DRIFTED_ID, "syncStagingMediaContent", "SUCCESS")
    sim.remove_subscriber(DRIFTED_ID)

    assert sim.subscriber_dam(DRIFTED_ID) is dam
    assert [o["id"] for o in login(dam).get(f"{dam.dam_base_url}/operations", timeout=5).json()] == [op]


def test_the_dam_serves_tls_when_the_simulator_does(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    scenario = make_scenario(subscribers=_with_dam())
    with Simulator(scenario, tls=pki.server_context) as sim:
        dam = sim.subscriber_dam(DRIFTED_ID)
        response = requests.post(
            f"{dam.ring_base_url}/auth/login", json=ADMIN, timeout=5, verify=str(pki.ca_bundle)
        )

    assert dam.protocol == "https"
    assert response.status_code == 200


def test_a_scenario_seeds_operations() -> None:
    failed = {"triggerFunction": "syncStagingMediaContent", "status": "FAILED", "retryCounter": 2}
    scenario = make_scenario(
        subscribers=_with_dam(operations=[failed, {"triggerFunction": "x", "status": "WAIT"}])
    )

    ops = Simulator(scenario).subscriber_dam(DRIFTED_ID).operations()

    assert [(o["triggerFunction"], o["status"], o["retryCounter"]) for o in ops] == [
        ("syncStagingMediaContent", "FAILED", 2),
        ("x", "WAIT", 0),
    ]


@pytest.mark.parametrize(
    ("subscriber", "named"),
    [
        (
            {"resyncOutcome": "partial"},
            "subscribers.0.resyncOutcome: Value error, 'partial' needs \"dam\": true",
        ),
        ({"resyncOutcome": "stuck"}, "subscribers.0.resyncOutcome: Value error, 'stuck' needs \"dam\": true"),
        ({"resyncOutcome": "later"}, "subscribers.0.resyncOutcome: Input should be"),
        (
            {"operations": [{"triggerFunction": "x", "status": "TODO"}]},
            "subscribers.0.operations: Value error",
        ),
        ({"dam": True, "operations": [{"triggerFunction": "x", "status": "DONE"}]}, "operations.0.status"),
        ({"dam": True, "operations": [{"status": "TODO"}]}, "operations.0.triggerFunction: Field required"),
        (
            {"dam": True, "operations": [{"triggerFunction": "x", "status": "TODO", "retryCounter": -1}]},
            "retryCounter",
        ),
        ({"dam": True, "operations": [{"triggerFunction": "x", "status": "TODO", "colour": 1}]}, "colour"),
        ({"dam": "sometimes"}, "subscribers.0.dam"),
    ],
)
def test_scenario_mistakes_name_the_field(subscriber: dict[str, object], named: str) -> None:
    text = (
        '{"subscribers": [{"id": "3c1bb2c2-8a4e-4f37-9a55-0d1b5a6f1009", "targetHost": "h.test", '
        + ", ".join(f'"{k}": {json.dumps(v)}' for k, v in subscriber.items())
        + "}]}"
    )
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, "my.json")
    assert named in str(raised.value)


def test_the_python_api_refuses_partial_and_stuck_without_a_dam(sim: Simulator) -> None:
    with pytest.raises(ValidationError, match="resyncOutcome"):
        sim.add_subscriber("no-dam.test", resync_outcome="partial")
    with pytest.raises(ValueError, match="needs a subscriber DAM"):
        sim.configure_subscriber(IN_SYNC_ID, resync_outcome="stuck")
    sim.configure_subscriber(DRIFTED_ID, resync_outcome="stuck")  # it has one
