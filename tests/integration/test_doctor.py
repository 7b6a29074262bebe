"""``damdrift doctor`` against the simulator: what it reports, that it only reads, and its exit status."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from damdrift.doctor import DoctorReport, Status, run_doctor
from damdrift.doctor.assumptions import ASSUMPTIONS
from damdrift.doctor.probe import ProbeClient, ReadOnlyViolation
from damdrift.dx.client import ClientTuning
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.commands import doctor as command
from damdrift_cli.main import build_parser
from damdrift_cli.simulator import Drift, ManualClock, Simulator
from damdrift_cli.simulator.pytest_plugin import (
    DRIFTED_ID,
    FIND_FAILS_ID,
    IN_SYNC_ID,
    SimulatorFactory,
    login,
    make_scenario,
)
from damdrift_cli.simulator.state import SubscriberState

pytestmark = pytest.mark.integration

FAST = ClientTuning(connect_timeout=2, read_timeout=5, retries=0)
#: 1,200 rows for the drifted subscriber: more than a page of 1,000, and 5 pages of 250.
BIG_DRIFT = {"COLLECTION": {"CREATE": 700}, "MEDIA_ITEM": {"UPDATE": 500}}


def connection(sim: Simulator) -> DxConnection:
    return DxConnection(hostname=sim.hostname, dxProtocol="http", dxPort=sim.port)


def credentials(sim: Simulator) -> DxCredentials:
    return DxCredentials.model_validate({"username": sim.username, "password": sim.password})


def publisher_after_finds(factory: SimulatorFactory, **scenario: object) -> Simulator:
    """A publisher where finds have run: two completed (one with 1,200 rows), one failed."""
    clock = ManualClock()
    subscribers = [
        {"id": IN_SYNC_ID, "targetHost": "dx-sub-in-sync.test", "drift": {"RENDITION": {"DELETE": 2}}},
        {"id": DRIFTED_ID, "targetHost": "dx-sub-drifted.test", "drift": BIG_DRIFT},
        {"id": FIND_FAILS_ID, "targetHost": "dx-sub-find-fails.test", "findOutcome": "fail"},
    ]
    sim = factory(make_scenario(subscribers=subscribers, **scenario), clock=clock)
    session = login(sim)
    for subscriber_id in (IN_SYNC_ID, DRIFTED_ID, FIND_FAILS_ID):
        url = f"{sim.dam_base_url}/staging/subscriber/{subscriber_id}"
        session.patch(url, json={"resyncStatus": "FIND_MISMATCH_START"}, timeout=5).raise_for_status()
    clock.advance(1)
    sim.clear_exchanges()
    return sim


def doctor(sim: Simulator) -> DoctorReport:
    later = datetime.now(UTC) + timedelta(hours=3)
    return run_doctor(connection(sim), credentials(sim), tuning=FAST, now=later)


def by_id(report: DoctorReport) -> dict[str, tuple[Status, str]]:
    return {c.id: (c.status, c.evidence) for c in report.checks}


def test_doctor_against_the_simulator_confirms_the_record_shape_and_measures_paging(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher_after_finds(dx_simulator_factory)

    report = doctor(sim)

    checks = by_id(report)
    assert report.record_fields == [
        "created",
        "id",
        "recordAction",
        "recordId",
        "recordType",
        "subscriberId",
        "updated",
    ]
    assert report.page_size == 1000
    assert checks["mismatch log dx-sub-drifted.test"] == (Status.PASS, "1200 rows in 2 page(s) of up to 1000")
    assert checks["mismatch log dx-sub-in-sync.test"][1].startswith("2 rows")
    assert checks["mismatch offset"][0] is Status.PASS
    assert checks["assumption mismatch-record-shape"][0] is Status.PASS
    assert checks["assumption offset-limit-integers"][0] is Status.PASS
    assert checks["assumption last-resync-time-on-finish"][0] is Status.PASS
    assert checks["assumption find-failed-operation"][0] is Status.PASS
    assert checks["assumption trigger-via-patch"][0] is Status.NOT_CHECKED
    assert re.search(r"the oldest is \d+ hours old", checks["mismatch row age"][1])
    assert checks["failed staging operations"][0] is Status.WARN  # the failed find's operation
    assert "findStagingMismatch FAILED" in checks["failed staging operations"][1]
    assert report.exit_code == 1


def test_doctor_reports_a_dx_with_column_spellings_and_a_lower_page_cap(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher_after_finds(dx_simulator_factory, record_fields="columns", max_page_size=250)

    report = doctor(sim)

    checks = by_id(report)
    assert report.record_fields == [
        "action",
        "created",
        "id",
        "record_id",
        "subscriber_id",
        "type",
        "updated",
    ]
    assert report.page_size == 250
    assert "capped by DX at 250 rows" in checks["mismatch page size"][1]
    assert checks["mismatch log dx-sub-drifted.test"] == (Status.PASS, "1200 rows in 5 page(s) of up to 1000")
    assert checks["mismatch record fields"][0] is Status.PASS
    assert (
        "(recordType as type, recordAction as action, recordId as record_id, subscriberId as subscriber_id)"
        in (checks["mismatch record fields"][1])
    )
    assert checks["assumption mismatch-record-shape"][0] is Status.WARN
    assert checks["assumption mismatch-record-shape"][1].startswith("contradicted")


def test_doctor_sends_no_write_only_the_login_validate_and_logout_posts(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher_after_finds(dx_simulator_factory)

    report = doctor(sim)

    # HEAD / is the protocol sniff (plain HTTP or TLS?): no path of DX's, no credentials.
    methods = [
        (e.method, e.path.rsplit("/", 2)[-2:]) for e in sim.exchanges if e.method not in ("GET", "HEAD")
    ]
    assert methods == [
        ("POST", ["auth", "login"]),
        ("POST", ["auth", "validate"]),
        ("POST", ["auth", "logout"]),
        ("POST", ["auth", "validate"]),  # is the session really over?
    ]
    assert sum(e.method == "GET" for e in sim.exchanges) > 5
    assert sim.find_trigger_count(DRIFTED_ID) == 1  # the one before the probe
    assert [s for s in report.requests_sent if not s.startswith("GET ")] == [
        "POST /auth/login",
        "POST /auth/validate",
        "POST /auth/logout",
        "POST /auth/validate",
    ]


def test_the_probe_client_refuses_to_send_a_write(dx_simulator: Simulator) -> None:
    client = ProbeClient(connection(dx_simulator), credentials(dx_simulator), FAST)

    for attempt in (
        lambda: client.start_find_mismatch(DRIFTED_ID),
        lambda: client.delete_mismatches(DRIFTED_ID),
    ):
        client.login()
        with pytest.raises(ReadOnlyViolation):
            attempt()

    assert {e.method for e in dx_simulator.exchanges} == {"POST"}
    assert {e.path.rsplit("/", 1)[-1] for e in dx_simulator.exchanges} == {"login"}


def test_doctor_fails_on_a_wrong_password_and_exits_2(dx_simulator: Simulator) -> None:
    wrong = DxCredentials.model_validate({"username": dx_simulator.username, "password": "not-it"})

    report = run_doctor(connection(dx_simulator), wrong, tuning=FAST)

    login_check = by_id(report)["login"]
    assert login_check[0] is Status.FAIL
    assert "refused the login" in login_check[1]
    assert "not-it" not in report.model_dump_json()
    assert report.exit_code == 2


def test_doctor_fails_a_subscriber_list_that_check_would_refuse(dx_simulator: Simulator) -> None:
    """check reads the list through its model and stops at its first login when DX lists a subscriber
    the model refuses (here a resyncStatus none of the six; with sec-data also an id that is a path):
    the doctor must say FAIL, not PASS or a WARN that reads as "you may go on"."""
    queued = SubscriberState("0f6c1f2e-5f0e-4d43-9a55-1b2c3d4e5f60", "dx-sub-new.test", Drift(), {})
    queued.fields["resyncStatus"] = "FIND_MISMATCH_QUEUED"
    dx_simulator.state.add_subscriber(queued)

    report = run_doctor(connection(dx_simulator), credentials(dx_simulator), tuning=FAST)

    status, evidence = by_id(report)["subscribers"]
    assert status is Status.FAIL, evidence
    assert "check refuses this list: subscriber 5's 'resyncStatus' is unusable" in evidence
    assert report.exit_code == 2


def test_doctor_names_a_port_that_speaks_plain_http_when_told_https(dx_simulator: Simulator) -> None:
    told_https = DxConnection(hostname=dx_simulator.hostname, dxPort=dx_simulator.port)

    report = run_doctor(told_https, credentials(dx_simulator), tuning=FAST)

    status, evidence = by_id(report)[f"protocol {dx_simulator.hostname}:{dx_simulator.port}"]
    assert status is Status.FAIL
    assert "speaks plain HTTP" in evidence and "--dx-protocol http" in evidence
    assert by_id(report)["login"][0] is Status.NOT_CHECKED
    assert dx_simulator.exchanges == []  # no credentials went anywhere
    assert report.exit_code == 2


def test_doctor_names_a_refused_port(dx_simulator: Simulator) -> None:
    stopped, login_with = connection(dx_simulator), credentials(dx_simulator)
    dx_simulator.stop()

    report = run_doctor(stopped, login_with, tuning=FAST)

    status, evidence = by_id(report)[f"reachability {stopped.hostname}:{stopped.dx_port}"]
    assert status is Status.FAIL
    assert "refused the connection" in evidence
    assert report.exit_code == 2


def test_every_readme_assumption_has_a_doctor_line(dx_simulator: Simulator) -> None:
    report = run_doctor(connection(dx_simulator), credentials(dx_simulator), tuning=FAST)

    lines = {c.id.removeprefix("assumption ") for c in report.checks if c.id.startswith("assumption ")}
    assert lines == set(ASSUMPTIONS)


def test_the_cli_prints_json_with_checks_record_fields_and_page_size(
    dx_simulator_factory: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = {"username": "dxadmin", "password": "p4ss-never-shown"}
    sim = publisher_after_finds(dx_simulator_factory, max_page_size=400, credentials=secret)
    monkeypatch.setenv("DX_PASSWORD", sim.password)
    out = io.StringIO()

    status = run_cli(sim, out, "--json", "--dx-username", "dxadmin")

    result = json.loads(out.getvalue())
    assert status == result["exitCode"] == 1
    assert result["pageSize"] == 400
    assert "recordType" in result["recordFields"]
    assert {"id", "status", "evidence"} <= set(result["checks"][0])
    assert sim.password not in out.getvalue()


def run_cli(sim: Simulator, out: io.StringIO, *extra: str) -> int:
    argv = ["doctor", "--hostname", sim.hostname, "--dx-protocol", "http", "--dx-port", str(sim.port), *extra]
    return command.run(build_parser().parse_args(argv), out=out, progress=io.StringIO())


def test_the_cli_prints_one_line_per_check_and_a_summary(
    dx_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DX_PASSWORD", dx_simulator.password)
    out = io.StringIO()

    status = run_cli(dx_simulator, out)

    lines = out.getvalue().splitlines()
    assert lines[-1].startswith(f"doctor: {dx_simulator.hostname}_{dx_simulator.port}: ")
    assert lines[-1].endswith(f"exit {status} (PASS)")
    assert any(line.startswith("PASS        login") for line in lines)


def test_a_failing_mismatch_endpoint_fails_its_lines_and_the_probe_goes_on(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher_after_finds(dx_simulator_factory)
    sim.inject_fault("GET /staging/mismatches", "status", status=500)

    report = doctor(sim)

    checks = by_id(report)
    status, evidence = checks["mismatch log dx-sub-drifted.test"]
    assert status is Status.FAIL and "HTTP 500" in evidence
    assert checks["operations"][0] is Status.PASS
    assert report.exit_code == 2


def test_dx_going_away_midway_keeps_what_was_found_and_says_where_it_stopped(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher_after_finds(dx_simulator_factory)
    sim.inject_fault("GET /operations", "drop", after=1)  # the list answers, the filtered one does not

    report = doctor(sim)

    checks = by_id(report)
    assert checks["mismatch log dx-sub-drifted.test"][0] is Status.PASS
    assert checks["operations"][0] is Status.PASS
    status, evidence = checks["probe stopped"]
    assert status is Status.FAIL and "GET" in evidence and "/operations" in evidence
    assert report.exit_code == 2
