"""End-to-end fixtures: a DX simulator on loopback and moto running the real state machine file."""

from collections.abc import Iterator
from typing import Any

import pytest

from damdrift.dx.sessions import forget_all
from damdrift_cli.local.runner import LocalAws, stack_parameters
from damdrift_cli.simulator import Scenario, Simulator

FAST_POLL = {"initialWaitSeconds": 1, "maxWaitSeconds": 1, "jitterSeconds": 0, "maxDurationSeconds": 60}
#: Quick transport retries, so fault tests spend milliseconds, not the production backoff.
FAST_CLIENT = {"DX_RETRIES": "2", "DX_BACKOFF_FACTOR": "0.01", "DX_READ_TIMEOUT": "5"}


@pytest.fixture
def publisher() -> Iterator[Simulator]:
    # A password unlike the user name, so a leak of one cannot hide behind the other.
    scenario = Scenario.model_validate(
        {
            "name": "e2e",
            "findDurationSeconds": 0.3,
            "seed": 7,
            "credentials": {"password": "e2e-Pa55-word-93"},
        }
    )
    with Simulator(scenario, record_exchanges=True) as simulator:
        yield simulator


@pytest.fixture
def aws(publisher: Simulator) -> Iterator[LocalAws]:
    forget_all()  # no DX session survives from another test
    with LocalAws(
        {"username": publisher.username, "password": publisher.password},
        parameters=stack_of(publisher),
        retry_time_scale=0.01,
        function_env=FAST_CLIENT,
    ) as local:
        yield local
    forget_all()


def check_input(simulator: Simulator, **extra: Any) -> dict[str, Any]:
    return {
        "publisher": {"hostname": simulator.hostname, "dxProtocol": "http", "dxPort": simulator.port},
        "poll": dict(FAST_POLL),
        **extra,
    }


def stack_of(simulator: Simulator) -> dict[str, str]:
    """The stack parameters a deployed stack for this simulator has (DxHostname, its port, http)."""
    return stack_parameters(check_input(simulator)["publisher"])
