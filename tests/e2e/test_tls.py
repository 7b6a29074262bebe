"""TLS end to end: a publisher behind a private CA, checked through the real state machine."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from damdrift.dx.sessions import forget_all
from damdrift_cli.local.runner import LocalAws, stack_parameters
from damdrift_cli.simulator import Scenario, Simulator
from tests.certificates import Pki, make_pki
from tests.e2e.conftest import FAST_CLIENT, FAST_POLL

pytestmark = pytest.mark.e2e

INSECURE_WARNING = "TLS certificate verification is OFF"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def https_publisher(pki: Pki) -> Iterator[Simulator]:
    scenario = Scenario.model_validate(
        {"name": "tls", "findDurationSeconds": 0.3, "credentials": {"password": "Tls-e2e-Pa55-8"}}
    )
    with Simulator(scenario, tls=pki.server_context) as simulator:
        simulator.add_subscriber("sub.example.com", drift={"COLLECTION": {"CREATE": 2}})
        yield simulator


@pytest.fixture
def aws(https_publisher: Simulator, pki: Pki, request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    """A stack for this publisher; ``AllowInsecureDx`` is the test's parameter (default false)."""
    forget_all()
    credentials = {"username": https_publisher.username, "password": https_publisher.password}
    parameters = {
        **stack_parameters(https_input(https_publisher)["publisher"]),
        "AllowInsecureDx": getattr(request, "param", "false"),
    }
    # The CA bundle is one of the stack's own files, as the layer's ca-bundles/ folder is on AWS.
    env = {**FAST_CLIENT, "DX_CA_BUNDLES": str(pki.ca_bundle)}
    with LocalAws(credentials, parameters=parameters, retry_time_scale=0.01, function_env=env) as local:
        yield local
    forget_all()


def https_input(dx: Simulator, **tls: Any) -> dict[str, Any]:
    publisher = {"hostname": dx.hostname, "dxProtocol": "https", "dxPort": dx.port, **tls}
    return {"publisher": publisher, "poll": FAST_POLL}


def test_a_publisher_behind_a_private_ca_is_checked_with_its_ca_bundle(
    https_publisher: Simulator, aws: LocalAws, pki: Pki
) -> None:
    run = aws.run_check(https_input(https_publisher, caBundle=str(pki.ca_bundle)))

    assert run.status == "SUCCEEDED"
    assert [item["status"] for item in run.outcomes] == ["DRIFT"]
    assert INSECURE_WARNING not in aws.function_logs()


def test_without_its_ca_bundle_the_check_fails_at_once_and_says_why(
    https_publisher: Simulator, aws: LocalAws
) -> None:
    run = aws.run_check(https_input(https_publisher))

    assert (run.status, run.error) == ("FAILED", "DxUnavailable")
    assert "TLS verification failed" in (run.cause or "")
    assert "CA bundle" in (run.cause or "")
    [notice] = run.notices
    assert notice.topic == "OpsTopic"


@pytest.mark.parametrize("aws", ["true"], indirect=True)  # the stack allows it: AllowInsecureDx=true
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verification_off_is_explicit_and_every_run_logs_a_warning(
    https_publisher: Simulator, aws: LocalAws
) -> None:
    runs = [aws.run_check(https_input(https_publisher, verifyTls=False)) for _ in range(2)]

    assert [[item["status"] for item in run.outcomes] for run in runs] == [["DRIFT"], ["DRIFT"]]
    authenticate_logs = [
        invocation.logs
        for invocation in aws._deployed.lambdas.invocations
        if invocation.function.endswith("AuthenticateFunction")
    ]
    assert len(authenticate_logs) == 2
    assert all(INSECURE_WARNING in logs for logs in authenticate_logs)


def test_verification_off_is_refused_by_a_stack_that_does_not_allow_it(
    https_publisher: Simulator, aws: LocalAws
) -> None:
    """The local stack runs with the template's own host binding (AllowInsecureDx=false by default),
    not a widened one: the input cannot turn verification off, as on AWS."""
    run = aws.run_check(https_input(https_publisher, verifyTls=False))

    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert "AllowInsecureDx" in (run.cause or "") or "insecure" in (run.cause or "").lower()
    assert https_publisher.exchanges == [] or all(
        "login" not in str(e).lower() for e in https_publisher.exchanges
    )
