"""The doctor against a DX that echoes requests in its errors: the live LtpaToken2 (and the password) never
reach doctor.json, the printed lines or the ops notice, not even a piece of them left by a cut; no DX
text starts a line of its own; and the doctor ends its session with ``POST /auth/logout``."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from secrets import compare_digest
from types import SimpleNamespace

import pytest

from damdrift.doctor import DoctorReport, Status, run_doctor
from damdrift.dx.client import ClientTuning
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.settings import DoctorSettings
from damdrift.steps import doctor as step
from damdrift_cli.simulator import ManualClock, Simulator, sessions
from damdrift_cli.simulator.pytest_plugin import DRIFTED_ID, SimulatorFactory, login, make_scenario
from tests.aws import Recorder

pytestmark = pytest.mark.integration

FAST = ClientTuning(connect_timeout=2, read_timeout=5, retries=0)
SECRET = {"username": "dxadmin", "password": "Echo-me/if'you&dare"}


def connection(sim: Simulator) -> DxConnection:
    return DxConnection(hostname=sim.hostname, dxProtocol="http", dxPort=sim.port)


def credentials(sim: Simulator) -> DxCredentials:
    return DxCredentials.model_validate({"username": sim.username, "password": sim.password})


def publisher(factory: SimulatorFactory, secret: dict[str, str] = SECRET) -> Simulator:
    """A publisher whose drifted subscriber has a finished find (so the doctor reads every endpoint)."""
    clock = ManualClock()
    subscribers = [{"id": DRIFTED_ID, "targetHost": "dx-sub.test", "drift": {"MEDIA_ITEM": {"CREATE": 3}}}]
    sim = factory(make_scenario(subscribers=subscribers, credentials=secret), clock=clock)
    url = f"{sim.dam_base_url}/staging/subscriber/{DRIFTED_ID}"
    login(sim).patch(url, json={"resyncStatus": "FIND_MISMATCH_START"}, timeout=5).raise_for_status()
    clock.advance(1)
    sim.clear_exchanges()
    return sim


def doctor(sim: Simulator) -> DoctorReport:
    later = datetime.now(UTC) + timedelta(minutes=5)
    return run_doctor(connection(sim), credentials(sim), tuning=FAST, now=later)


def session_tokens(sim: Simulator) -> set[str]:
    """Every LtpaToken2 the doctor sent back to DX."""
    cookies = (e.request_headers.get("Cookie", "") for e in sim.exchanges)
    return {
        part.split("=", 1)[1] for c in cookies for part in c.split("; ") if part.startswith("LtpaToken2=")
    }


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaked(text: str, sim: Simulator) -> list[str]:
    secrets = [*session_tokens(sim), sim.password]
    return [piece for secret in secrets for piece in pieces(secret) if piece in text]


def by_id(report: DoctorReport) -> dict[str, tuple[Status, str]]:
    return {c.id: (c.status, c.evidence) for c in report.checks}


@pytest.mark.parametrize(
    ("endpoint", "check", "shown"),
    [
        ("GET /operations", "operations", True),
        # The echo puts the token across the old 120-character cut: a piece of it was left behind.
        ("GET /staging/subscriber/{subscriber_id}", "subscriber by id", True),
        ("GET /staging/mismatches", "mismatch log dx-sub.test", False),  # the cut falls before it
    ],
)
def test_a_dx_that_echoes_the_session_cookie_in_its_errors_leaves_no_piece_of_it_in_the_report(
    dx_simulator_factory: SimulatorFactory, endpoint: str, check: str, shown: bool
) -> None:
    sim = publisher(dx_simulator_factory)
    echo = sim.inject_fault(endpoint, "echo", status=400)

    report = doctor(sim)

    assert echo.applied > 0 and session_tokens(sim)
    status, evidence = by_id(report)[check]
    assert status is not Status.PASS and "HTTP 400" in evidence
    assert ("[redacted" in evidence) is shown  # redacted, then cut: "[redacted..." at the edge
    assert leaked(json.dumps(report.to_wire()) + report.text(), sim) == []


def test_the_login_line_names_the_user_the_doctor_logged_in_as(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher(dx_simulator_factory)

    report = doctor(sim)

    assert by_id(report)["login"] == (Status.PASS, "POST /auth/login as user 'dxadmin': LtpaToken2 set")


def test_a_user_name_that_is_the_password_is_withheld_from_the_login_line_not_shown_as_redacted(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    # DX's default account is wpsadmin/wpsadmin: showing its name would show its password.
    sim = publisher(dx_simulator_factory, {"username": "dx-Admin-77", "password": "dx-Admin-77"})

    report = doctor(sim)

    withheld = "POST /auth/login as the configured user (name withheld): LtpaToken2 set"
    assert by_id(report)["login"] == (Status.PASS, withheld)
    assert leaked(json.dumps(report.to_wire()) + report.text(), sim) == []


def test_dx_text_with_line_breaks_stays_on_its_line_of_the_report(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher(dx_simulator_factory)
    sim.inject_fault("GET /operations", "echo", status=400)  # the request's lines, one per line

    report = doctor(sim)

    assert len(report.text().splitlines()) == len(report.checks) + 1  # a line per check and the summary
    assert all("\n" not in c.evidence and "\n" not in c.id for c in report.checks)


def test_the_doctor_logs_out_at_the_end_and_checks_the_session_is_over(
    dx_simulator_factory: SimulatorFactory,
) -> None:
    sim = publisher(dx_simulator_factory)

    report = doctor(sim)

    (token,) = session_tokens(sim)
    logout, validate = sim.exchanges[-2:]
    assert (logout.method, logout.path, logout.status) == ("POST", "/dx/api/core/v1/auth/logout", 200)
    assert (validate.method, validate.path, validate.status) == ("POST", "/dx/api/core/v1/auth/validate", 401)
    assert (
        f"LtpaToken2={token}" in logout.request_headers["Cookie"]
        and token in validate.request_headers["Cookie"]
    )
    assert report.requests_sent[-2:] == ["POST /auth/logout", "POST /auth/validate"]
    status, evidence = by_id(report)["logout"]
    assert status is Status.PASS
    assert evidence.startswith("POST /auth/logout: HTTP 200; POST /auth/validate then gets HTTP 401")
    assert evidence.endswith(": the session is ended")


def test_a_dx_that_refuses_the_logout_gets_a_warning(dx_simulator_factory: SimulatorFactory) -> None:
    sim = publisher(dx_simulator_factory)
    sim.inject_fault("POST /auth/logout", "status", status=500)

    report = doctor(sim)

    status, evidence = by_id(report)["logout"]
    assert status is Status.WARN and evidence.startswith("POST /auth/logout: HTTP 500")
    assert evidence.endswith("the session stays valid until it expires")
    assert report.exit_code >= 1


def test_a_failed_login_sends_no_logout(dx_simulator_factory: SimulatorFactory) -> None:
    sim = publisher(dx_simulator_factory)
    wrong = DxCredentials.model_validate({"username": sim.username, "password": "not-the-password"})

    report = run_doctor(connection(sim), wrong, tuning=FAST)

    assert [e.path.rsplit("/", 1)[-1] for e in sim.exchanges if e.method == "POST"] == ["login"]
    assert "logout" not in by_id(report)


def test_the_doctor_function_stores_and_sends_no_piece_of_the_session_dx_echoed(
    dx_simulator_factory: SimulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = publisher(dx_simulator_factory)
    for endpoint in ("GET /operations", "GET /staging/subscriber/{subscriber_id}", "GET /staging/mismatches"):
        sim.inject_fault(endpoint, "echo", status=400)
    monkeypatch.setattr(step, "load_credentials", lambda _secret: credentials(sim))
    settings = DoctorSettings.model_validate(
        {
            "REPORT_BUCKET": "reports",
            "OPS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:ops",
            "ALLOWED_DX_HOSTS": f"{sim.hostname}:{sim.port}",  # host and port, as the stack binds them
            "ALLOW_INSECURE_DX": "true",
            "CREDENTIALS_SECRET": "dx",
            "DX_RETRIES": "0",
        }
    )
    s3, sns = Recorder(), Recorder()

    result = step.run_doctor_step(
        step.DoctorRequest(publisher=connection(sim)),
        settings,
        s3,  # type: ignore[arg-type]
        sns,  # type: ignore[arg-type]
        datetime.now(UTC),
    )

    stored = s3.calls[0]["Body"].decode()
    notice = sns.calls[0]["Subject"] + sns.calls[0]["Message"]
    assert "[redacted]" in stored and "[redacted]" in notice
    assert leaked(stored + notice + json.dumps(result), sim) == []


#: A NUL, a line break, a tab, a zero-width space: each joins a split secret back (our clean-up, a reader).
SPLITTERS = {"nul": "\x00", "crlf": "\r\n", "tab": "\t", "zero-width-space": "\u200b"}
TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def as_read(text: str) -> str:
    """``text`` with every space, control and invisible format character dropped, as a reader joins it."""
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf"))


@pytest.mark.parametrize("splitter", SPLITTERS.values(), ids=SPLITTERS.keys())
def test_a_secret_dx_splits_with_a_control_or_invisible_character_is_not_joined_back_in_the_report(
    dx_simulator_factory: SimulatorFactory, monkeypatch: pytest.MonkeyPatch, splitter: str
) -> None:
    # The simulator issues a known LtpaToken2, so its error message can carry the session cookie split.
    monkeypatch.setattr(
        sessions, "secrets", SimpleNamespace(token_hex=lambda _n: TOKEN, compare_digest=compare_digest)
    )
    sim = publisher(dx_simulator_factory)
    password = sim.password
    message = f"you sent {password[:5]}{splitter}{password[5:]} with {TOKEN[:9]}{splitter}{TOKEN[9:]}"
    sim.inject_fault("GET /operations", "status", status=400, message=message)

    report = doctor(sim)

    assert session_tokens(sim) == {TOKEN}
    status, evidence = by_id(report)["operations"]
    assert status is not Status.PASS and "HTTP 400" in evidence
    shown = as_read(json.dumps(report.to_wire(), ensure_ascii=False) + report.text())
    assert password not in shown and TOKEN not in shown
