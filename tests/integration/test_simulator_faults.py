"""Every fault kind, seen from a raw HTTP client."""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from damdrift_cli.simulator import Fault, ManualClock, Simulator
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    IN_SYNC_ID,
    SimulatorFactory,
    login,
    make_scenario,
)

pytestmark = pytest.mark.integration

MISMATCHES = "GET /staging/mismatches"
SUBSCRIBERS = "GET /staging/subscriber"


def _list(sim: Simulator, session: requests.Session) -> requests.Response:
    return session.get(f"{sim.dam_base_url}/staging/subscriber", timeout=5)


def _mismatches(sim: Simulator, session: requests.Session, **params: Any) -> requests.Response:
    return session.get(f"{sim.dam_base_url}/staging/mismatches", params=params, timeout=5)


def test_a_status_fault_hits_the_given_number_of_requests(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    fault = dx_simulator.inject_fault(SUBSCRIBERS, "status", status=503, retry_after=2, times=2)

    answers = [_list(dx_simulator, dx_session) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].json()["error"] == {
        "statusCode": "503",
        "message": "Injected fault: HTTP 503",
        "name": "ServiceUnavailableError",
    }
    assert (fault.seen, fault.applied) == (3, 2)
    assert [e.faults for e in dx_simulator.exchanges[-3:]] == [("status",), ("status",), ()]


@pytest.mark.parametrize(
    ("status", "name"), [(429, "TooManyRequestsError"), (403, "ForbiddenError"), (500, None)]
)
def test_other_statuses_use_the_dam_error_body(
    dx_simulator: Simulator, dx_session: requests.Session, status: int, name: str | None
) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "status", status=status)

    response = _list(dx_simulator, dx_session)

    assert response.status_code == status
    assert response.json()["error"]["statusCode"] == str(status)
    if name:
        assert response.json()["error"]["name"] == name


def test_a_status_fault_answers_the_message_it_is_given_line_breaks_and_all(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "status", status=404, message="no such thing\r\nSubject: hi")

    response = _list(dx_simulator, dx_session)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no such thing\r\nSubject: hi"


def test_a_status_fault_on_login_uses_the_ring_error_body(dx_simulator: Simulator) -> None:
    dx_simulator.inject_fault("POST /auth/login", "status", status=500, times=1)

    with pytest.raises(requests.HTTPError):
        login(dx_simulator)
    body = dx_simulator.exchanges[-1].json()
    assert body["error"]["code"] == "INTERNAL_SERVER_ERROR"
    login(dx_simulator)


def test_after_spares_the_first_matching_requests(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "status", status=502, after=2, times=1)

    assert [_list(dx_simulator, dx_session).status_code for _ in range(4)] == [200, 200, 502, 200]


def test_a_subscriber_fault_spares_requests_about_other_subscribers(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault(MISMATCHES, "status", status=504, subscriber_id=DRIFTED_ID)

    assert _mismatches(dx_simulator, dx_session, subscriberId=IN_SYNC_ID).status_code == 200
    assert _mismatches(dx_simulator, dx_session, subscriberId=DRIFTED_ID).status_code == 504
    assert _mismatches(dx_simulator, dx_session).status_code == 504  # all subscribers includes this one
    assert _list(dx_simulator, dx_session).status_code == 200


def test_star_matches_every_endpoint(dx_simulator: Simulator) -> None:
    dx_simulator.inject_fault("*", "status", status=503)

    assert requests.post(f"{dx_simulator.ring_base_url}/auth/login", json={}, timeout=5).status_code == 503
    assert requests.get(f"{dx_simulator.dam_base_url}/operations", timeout=5).status_code == 503
    dx_simulator.clear_faults()
    assert requests.get(f"{dx_simulator.dam_base_url}/operations", timeout=5).status_code == 401


def test_delay(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "delay", seconds=0.3, times=1)

    started = time.monotonic()
    assert _list(dx_simulator, dx_session).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        dx_simulator.inject_fault(SUBSCRIBERS, "delay", seconds=1, times=1)
        dx_session.get(f"{dx_simulator.dam_base_url}/staging/subscriber", timeout=0.2)


def test_drop_closes_the_connection_without_an_answer(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "drop", times=1)

    with pytest.raises(requests.ConnectionError):
        _list(dx_simulator, dx_session)
    assert dx_simulator.exchanges[-1].status is None
    assert _list(dx_simulator, dx_session).status_code == 200


def test_drop_seen_from_a_raw_socket(dx_simulator: Simulator) -> None:
    dx_simulator.inject_fault("*", "drop")

    with socket.create_connection((dx_simulator.hostname, dx_simulator.port), timeout=5) as conn:
        conn.sendall(b"GET /dx/api/dam/v1/operations HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(1024) == b""


def test_truncate_promises_more_bytes_than_it_sends(dx_simulator: Simulator) -> None:
    dx_simulator.inject_fault("*", "truncate")

    with socket.create_connection((dx_simulator.hostname, dx_simulator.port), timeout=5) as conn:
        conn.sendall(b"GET /dx/api/dam/v1/operations HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    declared = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1]
    )
    assert head.startswith(b"HTTP/1.1 401")
    assert 0 < len(body) < declared


def test_truncate_seen_from_requests(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault(MISMATCHES, "truncate", times=1)

    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _mismatches(dx_simulator, dx_session)
    assert _mismatches(dx_simulator, dx_session).status_code == 200


def test_malformed_json(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault(SUBSCRIBERS, "malformed_json", times=1)

    response = _list(dx_simulator, dx_session)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.content.startswith(b"[{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_error_page_with_status_200(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault(MISMATCHES, "html")
    dx_simulator.inject_fault(SUBSCRIBERS, "html", status=502)

    page = _mismatches(dx_simulator, dx_session)
    gateway = _list(dx_simulator, dx_session)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.text.startswith("<html>")
    assert gateway.status_code == 502 and "502" in gateway.text


def test_expire_sessions_makes_the_request_401(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault(MISMATCHES, "expire_sessions", times=1)

    assert _mismatches(dx_simulator, dx_session).status_code == 401
    assert _list(dx_simulator, dx_session).status_code == 401
    assert _list(dx_simulator, login(dx_simulator)).status_code == 200


def test_ignore_offset_always_answers_the_first_page(dx_simulator_factory: SimulatorFactory) -> None:
    clock = ManualClock()
    sim = dx_simulator_factory(clock=clock)
    session = login(sim)
    session.patch(
        f"{sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}",
        json={"resyncStatus": "FIND_MISMATCH_START"},
        timeout=5,
    )
    clock.advance(1)
    sim.inject_fault(MISMATCHES, "ignore_offset")

    first = _mismatches(sim, session, offset=0, limit=5).json()
    second = _mismatches(sim, session, offset=5, limit=5).json()

    assert len(first) == 5
    assert second == first


@pytest.mark.parametrize(
    ("kind", "expected"), [("find_stuck", "FIND_MISMATCH_START"), ("find_failed", "FAILED")]
)
def test_find_faults(dx_simulator_factory: SimulatorFactory, kind: Any, expected: str) -> None:
    clock = ManualClock()
    sim = dx_simulator_factory(clock=clock)
    sim.inject_fault("PATCH /staging/subscriber/{subscriber_id}", kind, subscriber_id=DRIFTED_ID, times=1)
    session = login(sim)
    url = f"{sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}"

    assert session.patch(url, json={"resyncStatus": "FIND_MISMATCH_START"}, timeout=5).status_code == 200
    clock.advance(3600)
    session = login(sim)
    status = session.get(url, timeout=5).json()["resyncStatus"]
    [operation] = session.get(f"{sim.dam_base_url}/operations", timeout=5).json()

    if kind == "find_stuck":
        assert (status, operation["status"]) == (expected, "PROCESSING")
    else:
        assert (status, operation["status"]) == ("FIND_MISMATCH_FAILED", expected)
        assert operation["retryCounter"] > 0
    assert _mismatches(sim, session).json() == []


def test_deregistered_mid_run(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    url = f"{dx_simulator.dam_base_url}/staging/subscriber/{DRIFTED_ID}"
    dx_simulator.inject_fault(
        "GET /staging/subscriber/{subscriber_id}", "deregister", subscriber_id=DRIFTED_ID, after=1, times=1
    )
    dx_session.patch(url, json={"resyncStatus": "FIND_MISMATCH_START"}, timeout=5)

    assert dx_session.get(url, timeout=5).json()["resyncStatus"] == "FIND_MISMATCH_START"
    gone = dx_session.get(url, timeout=5)

    assert gone.status_code == 404
    assert DRIFTED_ID not in [s["id"] for s in _list(dx_simulator, dx_session).json()]


def test_faults_from_a_scenario(dx_simulator_factory: SimulatorFactory) -> None:
    scenario = make_scenario(
        faults=[{"endpoint": "POST /auth/login", "kind": "status", "status": 503, "times": 1}]
    )
    sim = dx_simulator_factory(scenario)

    with pytest.raises(requests.HTTPError):
        login(sim)
    login(sim)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"endpoint": "GET /staging/mismatch", "kind": "drop"}, "unknown endpoint"),
        ({"kind": "status"}, "needs a status"),
        ({"kind": "delay"}, "seconds is required"),
        ({"kind": "drop", "status": 500}, "status is only"),
        ({"kind": "deregister"}, "needs subscriberId"),
        ({"kind": "explode"}, "kind"),
        ({"kind": "redirect", "status": 302}, "needs a 3xx status and a location"),
        ({"kind": "redirect", "status": 500, "location": "http://x/"}, "needs a 3xx status"),
        ({"kind": "drop", "location": "http://x/"}, "location is only"),
        ({"kind": "drip"}, "seconds is required"),
        ({"kind": "html", "size": 10}, "size is only"),
        ({"kind": "drop", "message": "x"}, "message is only"),
    ],
)
def test_fault_definitions_are_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Fault.model_validate(fields)


def test_a_redirect_answers_its_status_and_location_without_following_anything(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault(
        "GET /staging/subscriber", "redirect", status=307, location="http://x.example/y"
    )
    response = dx_session.get(
        f"{dx_simulator.base_url}/dx/api/dam/v1/staging/subscriber", allow_redirects=False
    )
    assert (response.status_code, response.headers["Location"]) == (307, "http://x.example/y")


def test_a_gzip_bomb_is_small_on_the_wire_and_inflates_to_its_size(
    dx_simulator: Simulator, dx_session: requests.Session
) -> None:
    dx_simulator.inject_fault("GET /staging/subscriber", "gzip_bomb", size=50 << 20)
    response = dx_session.get(f"{dx_simulator.base_url}/dx/api/dam/v1/staging/subscriber", stream=True)
    wire = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(wire) < 100_000
    assert len(gzip.decompress(wire)) == 50 << 20


def test_deep_json_nests_arrays_size_deep(dx_simulator: Simulator, dx_session: requests.Session) -> None:
    dx_simulator.inject_fault("GET /staging/subscriber", "deep_json", size=3)
    response = dx_session.get(f"{dx_simulator.base_url}/dx/api/dam/v1/staging/subscriber")
    assert response.content == b"[[[]]]"
