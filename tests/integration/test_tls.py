"""TLS for real: the simulator behind a certificate from a private CA, the DX client verifying it.

Verification is on by default and fails with a clear DxUnavailable; ``caBundle`` trusts a private CA;
only an explicit ``verifyTls: false`` turns verification off, and that is logged as a warning.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.errors import DxUnavailable
from damdrift_cli.simulator import Scenario, Simulator
from tests.certificates import Pki, make_pki

pytestmark = pytest.mark.integration

FAST = ClientTuning(retries=0, read_timeout=5.0)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def dx(pki: Pki) -> Iterator[Simulator]:
    scenario = Scenario.model_validate({"name": "tls", "credentials": {"password": "Tls-Pa55-word-5"}})
    with Simulator(scenario, tls=pki.server_context) as simulator:
        simulator.add_subscriber("sub.example.com")
        yield simulator


def client(dx: Simulator, **tls: object) -> DxClient:
    connection = DxConnection.model_validate(
        {"hostname": dx.hostname, "dxProtocol": "https", "dxPort": dx.port, **tls}
    )
    credentials = DxCredentials(username=dx.username, password=dx.password)  # type: ignore[arg-type]
    return DxClient(connection, credentials, FAST)


def test_the_simulator_serves_https(dx: Simulator) -> None:
    assert dx.base_url.startswith("https://")


def test_a_certificate_from_an_unknown_ca_fails_verification_with_a_clear_dx_unavailable(
    dx: Simulator,
) -> None:
    with pytest.raises(DxUnavailable) as caught:
        client(dx).login()
    message = str(caught.value)
    assert "TLS verification failed" in message
    assert "CA bundle" in message
    assert dx.password not in message


def test_the_ca_bundle_of_the_private_ca_makes_it_work(dx: Simulator, pki: Pki) -> None:
    assert [s.target_host for s in client(dx, caBundle=str(pki.ca_bundle)).list_subscribers()] == [
        "sub.example.com"
    ]


def test_a_bundle_of_another_ca_does_not(dx: Simulator, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other", ca_name="some other CA")
    with pytest.raises(DxUnavailable, match="TLS verification failed"):
        client(dx, caBundle=str(other.ca_bundle)).login()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verification_is_off_only_when_asked_and_that_is_logged_as_a_warning(
    dx: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="damdrift.dx.client"):
        subscribers = client(dx, verifyTls=False).list_subscribers()
    assert len(subscribers) == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "verification is OFF" in warning.getMessage()
    assert dx.hostname in warning.getMessage()
