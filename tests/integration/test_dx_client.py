"""The DX client against the simulator over real HTTP on loopback: no patching of requests or urllib3."""

import json
from collections.abc import Iterator

import pytest

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.dx.models import ResyncStatus
from damdrift.errors import (
    AuthenticationError,
    Conflict,
    DxUnavailable,
    PermissionDenied,
    SubscriberNotFound,
    UnexpectedResponse,
)
from damdrift_cli.simulator import ManualClock, Scenario, Simulator

pytestmark = pytest.mark.integration

DRIFT = {"COLLECTION": {"CREATE": 3, "DELETE": 2}, "MEDIA_ITEM": {"UPDATE": 4}, "VERSION": {"CREATE": 1}}
FAST = ClientTuning(retries=3, backoff_factor=0.01, backoff_jitter=0.0, read_timeout=2.0, page_size=4)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dx(clock: ManualClock) -> Iterator[Simulator]:
    scenario = Scenario.model_validate(
        {
            "name": "client",
            "findDurationSeconds": 10,
            "seed": 3,
            "credentials": {"password": "Pw-for-client-tests-1"},
        }
    )
    with Simulator(scenario, clock=clock, record_exchanges=True) as simulator:
        yield simulator


def client_for(dx: Simulator, password: str | None = None, tuning: ClientTuning = FAST) -> DxClient:
    connection = DxConnection.model_validate(
        {"hostname": dx.hostname, "dxProtocol": "http", "dxPort": dx.port}
    )
    credentials = DxCredentials.model_validate({"username": dx.username, "password": password or dx.password})
    return DxClient(connection, credentials, tuning)


def finished_find(dx: Simulator, clock: ManualClock, client: DxClient, drift: object = DRIFT) -> str:
    sub = dx.add_subscriber("sub.example.com", drift=drift)  # type: ignore[arg-type]
    client.start_find_mismatch(sub)
    clock.advance(11)
    return sub


# -- sessions ---------------------------------------------------------------------------------------------


def test_login_keeps_the_ltpa_cookie_and_dam_calls_use_it(dx: Simulator) -> None:
    client = client_for(dx)
    dx.add_subscriber("sub.example.com")
    assert [s.target_host for s in client.list_subscribers()] == ["sub.example.com"]
    dam_calls = [e for e in dx.exchanges if "/dx/api/dam/" in e.path]
    assert all("LtpaToken2=" in e.request_headers.get("Cookie", "") for e in dam_calls)


def test_bad_credentials_name_host_and_user_but_never_the_password(dx: Simulator) -> None:
    client = client_for(dx, password="Wr0ng-secret-77")
    with pytest.raises(AuthenticationError) as caught:
        client.login()
    message = str(caught.value)
    assert dx.hostname in message and repr(dx.username) in message
    assert "Wr0ng-secret-77" not in message and dx.password not in message
    assert "Wr0ng-secret-77" not in repr(client)


def test_expired_session_is_renewed_by_exactly_one_login(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    client.list_subscribers()
    dx.expire_sessions()
    client.list_subscribers()
    logins = [e for e in dx.exchanges if e.path.endswith("/auth/login")]
    assert len(logins) == 2


def test_a_second_401_after_a_fresh_login_is_an_authentication_error(dx: Simulator) -> None:
    client = client_for(dx)
    client.login()
    dx.inject_fault("GET /staging/subscriber", "expire_sessions", times=2)
    with pytest.raises(AuthenticationError, match="rejected a fresh session"):
        client.list_subscribers()


def test_forbidden_user_gets_permission_denied(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "status", status=403)
    with pytest.raises(PermissionDenied, match="DX administrator"):
        client_for(dx).list_subscribers()


# -- subscribers and the trigger ------------------------------------------------------------------------


def test_subscriber_status_is_typed_and_none_before_the_first_find(dx: Simulator) -> None:
    sub = dx.add_subscriber("sub.example.com")
    subscriber = client_for(dx).get_subscriber(sub)
    assert subscriber.id == sub
    assert subscriber.resync_status is None


def test_unknown_subscriber_is_subscriber_not_found(dx: Simulator) -> None:
    with pytest.raises(SubscriberNotFound, match="not registered"):
        client_for(dx).get_subscriber("00000000-0000-4000-8000-000000000000")


def test_find_runs_to_completed_and_a_second_trigger_meanwhile_is_a_conflict(
    dx: Simulator, clock: ManualClock
) -> None:
    client = client_for(dx)
    sub = dx.add_subscriber("sub.example.com", drift=DRIFT)
    client.start_find_mismatch(sub)
    assert client.get_subscriber(sub).resync_status is ResyncStatus.FIND_MISMATCH_START
    with pytest.raises(Conflict):
        client.start_find_mismatch(sub)
    clock.advance(11)
    assert client.get_subscriber(sub).resync_status is ResyncStatus.FIND_MISMATCH_COMPLETED


def test_failed_find_leaves_a_failed_operation_with_retry_counter(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    sub = dx.add_subscriber("sub.example.com", find_outcome="fail")
    client.start_find_mismatch(sub)
    clock.advance(11)
    assert client.get_subscriber(sub).resync_status is ResyncStatus.FIND_MISMATCH_FAILED
    [operation] = client.list_operations(trigger_functions="findStagingMismatch")
    assert operation.status == "FAILED"
    assert operation.retry_counter > 0


# -- the mismatch log -------------------------------------------------------------------------------------


def test_iter_mismatches_pages_through_every_record(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    sub = finished_find(dx, clock, client)
    records = list(client.iter_mismatches(sub))
    assert len(records) == 10
    assert len({r["id"] for r in records}) == 10
    pages = [e for e in dx.exchanges if e.path.endswith("/staging/mismatches") and e.method == "GET"]
    assert [e.query["offset"] for e in pages] == [["0"], ["4"], ["8"], ["10"]]


def test_a_short_page_is_not_taken_for_the_end_of_the_report(dx: Simulator, clock: ManualClock) -> None:
    # Ask for pages of 6 from a log of 10: a DX that caps pages at 4 would look the same to a client
    # that stops on the first short page. Only an empty page may end the download.
    client = client_for(dx, tuning=ClientTuning(retries=0, page_size=6))
    sub = finished_find(dx, clock, client)
    assert len(list(client.iter_mismatches(sub))) == 10
    pages = [e for e in dx.exchanges if e.path.endswith("/staging/mismatches") and e.method == "GET"]
    assert json.loads(pages[-1].response_body) == []


def test_iter_mismatches_filters_by_type_and_action(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    sub = finished_find(dx, clock, client)
    records = list(client.iter_mismatches(sub, record_type="COLLECTION", record_action="DELETE"))
    assert [(r["recordType"], r["recordAction"]) for r in records] == [("COLLECTION", "DELETE")] * 2


def test_unknown_record_type_filter_is_refused_before_any_call(dx: Simulator) -> None:
    with pytest.raises(ValueError, match="PICTURE"):
        list(client_for(dx).iter_mismatches("x", record_type="PICTURE"))


def test_delete_mismatches_clears_the_appended_rows(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    sub = finished_find(dx, clock, client)
    client.start_find_mismatch(sub)
    clock.advance(11)
    assert len(list(client.iter_mismatches(sub))) == 20  # DX appends a second run's rows
    client.delete_mismatches(sub)
    assert list(client.iter_mismatches(sub)) == []


def test_a_server_that_ignores_offset_is_detected_not_looped(dx: Simulator, clock: ManualClock) -> None:
    client = client_for(dx)
    sub = finished_find(dx, clock, client)
    dx.inject_fault("GET /staging/mismatches", "ignore_offset")
    with pytest.raises(UnexpectedResponse, match="ignores 'offset'"):
        list(client.iter_mismatches(sub))


def test_a_resumed_download_catches_a_server_that_ignores_offset_by_the_known_first_record(
    dx: Simulator, clock: ManualClock
) -> None:
    client = client_for(dx)
    sub = finished_find(dx, clock, client)
    first = next(client.iter_mismatches(sub))
    resumed = list(client.iter_mismatches(sub, start_offset=4, known_first=first))
    assert len(resumed) == 6 and first not in resumed
    dx.inject_fault("GET /staging/mismatches", "ignore_offset")
    with pytest.raises(UnexpectedResponse, match="ignores 'offset'"):
        list(client.iter_mismatches(sub, start_offset=4, known_first=first))


# -- transport faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_short_bursts_of_retryable_statuses_are_absorbed(dx: Simulator, status: int) -> None:
    dx.inject_fault("GET /staging/subscriber", "status", status=status, times=2)
    assert client_for(dx).list_subscribers() == []


def test_retry_after_is_honoured(dx: Simulator) -> None:
    fault = dx.inject_fault("GET /staging/subscriber", "status", status=429, retry_after=1, times=1)
    assert client_for(dx).list_subscribers() == []
    assert fault.applied == 1


def test_a_burst_longer_than_the_retry_budget_is_dx_unavailable(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "status", status=503)
    with pytest.raises(DxUnavailable, match="HTTP 503"):
        client_for(dx).list_subscribers()


def test_plain_500_is_dx_unavailable_without_transport_retries(dx: Simulator) -> None:
    fault = dx.inject_fault("GET /staging/subscriber", "status", status=500)
    with pytest.raises(DxUnavailable, match="HTTP 500"):
        client_for(dx).list_subscribers()
    assert fault.applied == 1


def test_dropped_connections_are_retried_then_reported(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "drop", times=1)
    assert client_for(dx).list_subscribers() == []
    dx.inject_fault("GET /staging/subscriber", "drop")
    with pytest.raises(DxUnavailable):
        client_for(dx).list_subscribers()


def test_read_timeout_is_dx_unavailable(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "delay", seconds=1.0)
    tuning = ClientTuning(retries=0, read_timeout=0.2)
    with pytest.raises(DxUnavailable, match="Timeout"):
        client_for(dx, tuning=tuning).list_subscribers()


def test_truncated_body_is_dx_unavailable(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "truncate")
    with pytest.raises(DxUnavailable):
        client_for(dx).list_subscribers()


def test_malformed_json_is_an_unexpected_response_showing_the_start_of_the_body(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "malformed_json")
    with pytest.raises(UnexpectedResponse, match="expected JSON"):
        client_for(dx).list_subscribers()


def test_ingress_html_page_with_status_200_is_an_unexpected_response(dx: Simulator) -> None:
    dx.inject_fault("GET /staging/subscriber", "html")
    with pytest.raises(UnexpectedResponse, match=r"text/html.*<"):
        client_for(dx).list_subscribers()


def test_unreachable_publisher_is_dx_unavailable(dx: Simulator) -> None:
    port = dx.port
    dx.stop()
    connection = DxConnection.model_validate({"hostname": "127.0.0.1", "dxProtocol": "http", "dxPort": port})
    client = DxClient(connection, DxCredentials.model_validate({"username": "u", "password": "p"}), FAST)
    with pytest.raises(DxUnavailable, match="ConnectionError"):
        client.login()
