"""The stack's DX credentials go only to the DX hosts it was deployed for (issue 12 item 2): an execution
input naming another host, or asking to send them unprotected, fails at Authenticate before any request."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from damdrift.check_clients import dx_client, subscriber_dam_client
from damdrift.dx.connection import DxConnection
from damdrift.errors import InvalidInput
from damdrift.settings import AuthenticateSettings, RemediateSettings
from damdrift.state import SubscriberTask
from damdrift.steps.authenticate import AuthenticateRequest, plan_check

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 12, 3, tzinfo=UTC)
ARN = "arn:aws:states:eu-central-1:123456789012:execution:dam-drift-drift-check:exec-1"
STACK = {
    "REPORT_BUCKET": "reports",
    "CREDENTIALS_SECRET": "dx",
    "ALLOWED_DX_HOSTS": "dx.example.com,dam2.example.com,",
}


def plan(execution_input: dict[str, Any], **env: str) -> None:
    settings = AuthenticateSettings.from_env({**STACK, **env})
    plan_check(
        AuthenticateRequest(input=execution_input, execution="exec-1", execution_arn=ARN), settings, NOW
    )


def test_the_publisher_the_stack_was_deployed_for_is_accepted() -> None:
    plan({"publisher": {"hostname": "DX.example.com"}})


def test_a_publisher_the_credentials_are_not_for_is_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"publisher\.hostname: 'elsewhere\.example' is not a DX host"):
        plan({"publisher": {"hostname": "elsewhere.example"}})


def test_a_subscriber_dam_the_credentials_are_not_for_is_invalid_input_naming_the_field() -> None:
    options = {
        "sub-1": {"dam": {"hostname": "dam2.example.com"}},
        "sub-2": {"dam": {"hostname": "evil.example"}},
    }
    with pytest.raises(InvalidInput, match=r"subscriberOptions\.sub-2\.dam\.hostname: 'evil\.example'"):
        plan({"publisher": {"hostname": "dx.example.com"}, "subscriberOptions": options})


@pytest.mark.parametrize(
    ("connection", "what"),
    [({"dxProtocol": "http"}, "dxProtocol: http"), ({"verifyTls": False}, "verifyTls: false")],
)
def test_sending_the_credentials_unprotected_needs_the_stacks_explicit_permission(
    connection: dict[str, Any], what: str
) -> None:
    publisher = {"hostname": "dx.example.com", **connection}
    with pytest.raises(InvalidInput, match=f"{what} would send the DX password unprotected"):
        plan({"publisher": publisher})
    plan({"publisher": publisher}, ALLOW_INSECURE_DX="true")


def test_a_stack_without_a_host_list_allows_no_host() -> None:
    with pytest.raises(InvalidInput, match=r"allowed: none"):
        plan({"publisher": {"hostname": "dx.example.com"}}, ALLOWED_DX_HOSTS="")


def test_the_wildcard_of_the_local_runner_allows_any_host() -> None:
    plan({"publisher": {"hostname": "anything.example"}}, ALLOWED_DX_HOSTS="*")


def test_every_later_step_refuses_a_subscriber_dam_the_stack_is_not_for_before_reading_the_secret(
    drift_check_started_with: Callable[[dict[str, Any]], str],
) -> None:
    """Remediation's plan/start/poll reach a subscriber's DAM through ``subscriber_dam_client``: the same
    binding holds there, whatever the drift check's input says."""
    event = json.loads((EVENTS / "remediate-plan.json").read_text())
    task = SubscriberTask.model_validate(event["task"])
    dam = {"hostname": "dx-sub-drifted.example.com"}
    execution_arn = drift_check_started_with(
        {
            "publisher": {"hostname": "dx.example.com"},
            "subscriberOptions": {task.subscriber.subscriber_id: {"dam": dam}},
        }
    )
    task = task.model_copy(update={"check": task.check.model_copy(update={"execution_arn": execution_arn})})
    settings = RemediateSettings.from_env({**STACK, "ALLOWED_DX_HOSTS": "dx.example.com"})

    with pytest.raises(InvalidInput, match=r"subscriberOptions\.8c72ef60-[0-9a-f-]+\.dam\.hostname"):
        subscriber_dam_client(task, settings)
    moved = task.check.model_copy(update={"publisher": DxConnection.model_validate(dam)})
    with pytest.raises(InvalidInput, match=r"publisher\.hostname: 'dx-sub-drifted\.example\.com'"):
        dx_client(moved, settings)


def test_the_check_starts_when_its_execution_started_not_when_authenticate_ran() -> None:
    """The definition hands ``startTime`` (camelCase, like every field of its Parameters)."""
    started = "2026-12-03T04:59:58.123Z"
    request = AuthenticateRequest.model_validate(
        {
            "input": {"publisher": {"hostname": "dx.example.com"}},
            "execution": "exec-1",
            "executionArn": ARN,
            "startTime": started,
        }
    )
    check, _ = plan_check(request, AuthenticateSettings.from_env(STACK), NOW)
    assert check.started_at == datetime(2026, 12, 3, 4, 59, 58, 123000, tzinfo=UTC)
    assert check.execution_arn == ARN
