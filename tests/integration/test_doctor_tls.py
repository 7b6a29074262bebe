"""``damdrift doctor`` and TLS: the real cause of a failed handshake, and an https port told http."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from damdrift.doctor import DoctorReport, Status, run_doctor
from damdrift.dx.client import ClientTuning
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift_cli.simulator import Scenario, Simulator
from tests.certificates import Pki, make_pki

pytestmark = pytest.mark.integration

FAST = ClientTuning(connect_timeout=2, read_timeout=5, retries=0)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def dx(pki: Pki) -> Iterator[Simulator]:
    scenario = Scenario.model_validate({"name": "tls", "credentials": {"password": "Tls-Pa55-word-5"}})
    with Simulator(scenario, tls=pki.server_context, record_exchanges=True) as simulator:
        simulator.add_subscriber("sub.example.com")
        yield simulator


def doctor(dx: Simulator, **publisher: object) -> DoctorReport:
    connection = DxConnection.model_validate(
        {"hostname": dx.hostname, "dxProtocol": "https", "dxPort": dx.port, **publisher}
    )
    credentials = DxCredentials.model_validate({"username": dx.username, "password": dx.password})
    return run_doctor(connection, credentials, tuning=FAST)


def check(report: DoctorReport, check_id: str) -> tuple[Status, str]:
    return next((c.status, c.evidence) for c in report.checks if c.id == check_id)


def test_an_unknown_ca_is_named_as_the_cause_and_no_credentials_are_sent(dx: Simulator) -> None:
    report = doctor(dx)

    status, evidence = check(report, f"tls {dx.hostname}:{dx.port}")
    assert status is Status.FAIL
    assert "certificate is not trusted: unable to get local issuer certificate" in evidence
    assert "--ca-bundle" in evidence
    assert check(report, "login")[0] is Status.NOT_CHECKED
    assert dx.exchanges == []
    assert report.exit_code == 2


def test_the_private_cas_bundle_verifies_and_a_certificate_near_expiry_warns(dx: Simulator, pki: Pki) -> None:
    report = doctor(dx, caBundle=str(pki.ca_bundle))

    status, evidence = check(report, f"tls {dx.hostname}:{dx.port}")
    assert status is Status.WARN  # the test certificate lives one day
    assert "certificate for 127.0.0.1 issued by dam-drift test CA, verified, expires in 0 days" in evidence
    assert check(report, "login")[0] is Status.PASS
    # without Secure (as HCL's example): noted, not a warning; the client never speaks http to an https DX
    assert check(report, "session cookie") == (
        Status.PASS,
        "LtpaToken2: Path=/, no Domain (host-only), not Secure, HttpOnly",
    )


def test_verification_off_is_a_warning(dx: Simulator) -> None:
    report = doctor(dx, verifyTls=False)

    status, evidence = check(report, f"tls {dx.hostname}:{dx.port}")
    assert status is Status.WARN
    assert "NOT verified" in evidence


def test_an_https_port_told_http_is_named(dx: Simulator) -> None:
    report = doctor(dx, dxProtocol="http")

    status, evidence = check(report, f"protocol {dx.hostname}:{dx.port}")
    assert status is Status.FAIL
    assert "speaks HTTPS" in evidence and "--dx-protocol https" in evidence
    assert dx.exchanges == []
