"""The simulator's login, sessions and routing, over real HTTP."""

from __future__ import annotations

import logging
import re

import pytest
import requests

from damdrift_cli.simulator import ManualClock, Simulator
from damdrift_cli.simulator.pytest_plugin import SimulatorFactory, login, make_scenario

pytestmark = pytest.mark.integration

JSON = "application/json; charset=utf-8"


def _login(sim: Simulator, body: object) -> requests.Response:
    return requests.post(f"{sim.ring_base_url}/auth/login", json=body, timeout=5)


def test_login_sets_an_ltpa_cookie_and_returns_the_uid(dx_simulator: Simulator) -> None:
    response = _login(dx_simulator, {"username": "wpsadmin", "password": "wpsadmin"})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert re.fullmatch(r"LtpaToken2=[0-9a-f]{32}; Path=/; HttpOnly", response.headers["Set-Cookie"])
    body = response.json()
    assert body["statusCode"] == 200
    assert isinstance(body["message"], str)
    assert "wpsadmin" in body["data"]["UId"]


def test_each_login_gets_a_new_token(dx_simulator: Simulator) -> None:
    first = login(dx_simulator).cookies["LtpaToken2"]
    second = login(dx_simulator).cookies["LtpaToken2"]

    assert first != second


@pytest.mark.parametrize(
    "credentials",
    [{"username": "wpsadmin", "password": "wrong"}, {"username": "someone", "password": "wpsadmin"}],
)
def test_bad_credentials_get_401_with_the_ring_error_body(
    dx_simulator: Simulator, credentials: object
) -> None:
    response = _login(dx_simulator, credentials)

    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert isinstance(error["message"], str) and isinstance(error["reason"], str)


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"username": 1, "password": 2}', b'{"password": null}']
)
def test_a_malformed_login_body_is_400_with_the_ring_error_body(dx_simulator: Simulator, body: bytes) -> None:
    response = requests.post(
        f"{dx_simulator.ring_base_url}/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("body", [b"{}", b'{"username": "wpsadmin"}'])
def test_a_login_body_without_a_field_is_a_failed_login_as_the_spec_allows_it(
    dx_simulator: Simulator, body: bytes
) -> None:
    # RING-SPEC's login body has optional username and password: a valid request, wrong credentials.
    response = requests.post(
        f"{dx_simulator.ring_base_url}/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_dam_endpoints_need_the_cookie(dx_simulator: Simulator) -> None:
    for cookie in (None, "0123456789abcdef0123456789abcdef"):
        cookies = {"LtpaToken2": cookie} if cookie else None
        response = requests.get(f"{dx_simulator.dam_base_url}/staging/subscriber", cookies=cookies, timeout=5)

        assert response.status_code == 401
        assert response.headers["Content-Type"] == JSON
        assert response.json()["error"] == {
            "statusCode": "401",
            "message": response.json()["error"]["message"],
            "name": "UnauthorizedError",
        }


def test_a_session_expires_after_the_token_ttl(dx_simulator_factory: SimulatorFactory) -> None:
    clock = ManualClock()
    sim = dx_simulator_factory(make_scenario(token_ttl_seconds=60), clock=clock)
    session = login(sim)
    url = f"{sim.dam_base_url}/staging/subscriber"

    clock.advance(59.9)
    assert session.get(url, timeout=5).status_code == 200
    clock.advance(0.1)
    expired = session.get(url, timeout=5)

    assert expired.status_code == 401
    assert expired.json()["error"]["name"] == "UnauthorizedError"
    assert login(sim).get(url, timeout=5).status_code == 200


def test_validate_and_logout(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    validate = f"{dx_simulator.ring_base_url}/auth/validate"

    valid = dx_session.post(validate, timeout=5)
    assert valid.status_code == 200
    assert "wpsadmin" in valid.json()["data"]["UId"]

    logout = dx_session.post(f"{dx_simulator.ring_base_url}/auth/logout", timeout=5)
    assert logout.status_code == 200
    assert logout.json() == {"statusCode": 200, "data": "You are successfully logged out"}
    assert dx_session.post(validate, timeout=5).status_code == 401
    assert dx_session.get(f"{dx_simulator.dam_base_url}/staging/subscriber", timeout=5).status_code == 401


def test_validate_without_a_session_is_401_with_the_ring_body(dx_simulator: Simulator) -> None:
    response = requests.post(f"{dx_simulator.ring_base_url}/auth/validate", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_unknown_paths_are_404_and_wrong_methods_405(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    unknown = dx_session.get(f"{dx_simulator.dam_base_url}/staging/nothing-here", timeout=5)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["name"] == "NotFoundError"

    unknown_ring = dx_session.get(f"{dx_simulator.ring_base_url}/nothing", timeout=5)
    assert unknown_ring.status_code == 404
    assert unknown_ring.json()["error"]["code"] == "NOT_FOUND"

    wrong = dx_session.put(f"{dx_simulator.dam_base_url}/staging/subscriber", json={}, timeout=5)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, POST"
    assert wrong.headers["Content-Type"] == JSON

    wrong_login = dx_session.get(f"{dx_simulator.ring_base_url}/auth/login", timeout=5)
    assert wrong_login.status_code == 405
    assert "code" in wrong_login.json()["error"]


def test_keep_alive_serves_many_requests_on_one_connection(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    url = f"{dx_simulator.dam_base_url}/staging/subscriber"
    answers = [dx_session.get(url, timeout=5) for _ in range(20)]

    assert {a.status_code for a in answers} == {200}
    assert all(a.headers.get("Connection", "").lower() != "close" for a in answers)


def test_no_password_or_cookie_reaches_the_log_or_an_exchange_repr(
    dx_simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="damdrift_cli.simulator")
    session = login(dx_simulator)
    token = session.cookies["LtpaToken2"]
    session.get(f"{dx_simulator.dam_base_url}/staging/subscriber", timeout=5)

    assert "GET /dx/api/dam/v1/staging/subscriber" in caplog.text
    recorded = repr(dx_simulator.exchanges)
    for secret in (token, '"password"'):
        assert secret not in caplog.text
        assert secret not in recorded
    assert "password" not in repr(dx_simulator.scenario)
