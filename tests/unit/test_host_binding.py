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
    stack = {
        **STACK,
        "ALLOWED_DX_HOSTS": "dx.example.com",
        "CREDENTIALS_SECRET": task.check.credentials_secret,
    }
    settings = RemediateSettings.from_env(stack)

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


# -- issue 23 item 11: host AND port, the stack's own CA bundles, each secret to its own hosts ------------

EXTRA_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:dam-drift/sub-dam-AbC123"


def test_a_port_the_stack_was_not_deployed_for_is_refused_though_the_host_is_right() -> None:
    with pytest.raises(InvalidInput, match=r"publisher\.ringAPIPort: port 8443 of dx\.example\.com is not"):
        plan({"publisher": {"hostname": "dx.example.com", "ringAPIPort": 8443}})
    with pytest.raises(InvalidInput, match=r"subscriberOptions\.sub-1\.dam\.dxPort: port 8080"):
        plan(
            {
                "publisher": {"hostname": "dx.example.com"},
                "subscriberOptions": {"sub-1": {"dam": {"hostname": "dam2.example.com", "dxPort": 8080}}},
            }
        )


def test_ports_listed_with_the_host_are_accepted_and_a_host_alone_means_the_default_port() -> None:
    ports = "dx.example.com:10039,dx.example.com:3000,dam2.example.com:8443"
    plan(
        {"publisher": {"hostname": "dx.example.com", "ringAPIPort": 10039, "damAPIPort": 3000}},
        ALLOWED_DX_HOSTS=ports,
    )
    plan({"publisher": {"hostname": "dx.example.com", "dxPort": 443}})  # 443 is https's default
    with pytest.raises(InvalidInput, match=r"publisher\.dxPort: port 443"):
        plan({"publisher": {"hostname": "dx.example.com", "dxPort": 443}}, ALLOWED_DX_HOSTS=ports)


def test_a_ca_bundle_that_is_not_one_of_the_stacks_own_files_is_refused(tmp_path: Path) -> None:
    own = tmp_path / "ca-bundles"
    own.mkdir()
    (own / "private-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (own / "escape.pem").symlink_to("/proc/self/environ")
    env = {"DX_CA_BUNDLES": str(own)}
    plan({"publisher": {"hostname": "dx.example.com", "caBundle": str(own / "private-ca.pem")}}, **env)
    for path in ("/proc/self/environ", f"{own}/../ca-bundles-x/a.pem", f"{own}/escape.pem"):
        with pytest.raises(
            InvalidInput, match=r"publisher\.caBundle: .* is not one of this stack's CA bundles"
        ):
            plan({"publisher": {"hostname": "dx.example.com", "caBundle": path}}, **env)
    with pytest.raises(InvalidInput, match=r"publisher\.caBundle"):
        plan({"publisher": {"hostname": "dx.example.com", "caBundle": "/proc/self/environ"}})


def test_a_secret_the_stack_does_not_list_is_refused_before_it_is_read() -> None:
    options = {"sub-1": {"dam": {"hostname": "dam2.example.com"}, "credentialsSecret": "someone/elses"}}
    with pytest.raises(
        InvalidInput,
        match=r"subscriberOptions\.sub-1\.dam: the credentials secret 'someone/elses' is not one",
    ):
        plan({"publisher": {"hostname": "dx.example.com"}, "subscriberOptions": options})
    with pytest.raises(InvalidInput, match=r"publisher: the credentials secret 'someone/elses' is not one"):
        plan({"publisher": {"hostname": "dx.example.com"}, "credentialsSecret": "someone/elses"})


def test_an_extra_secret_goes_only_to_the_hosts_the_stack_lists_for_it() -> None:
    env = {
        "EXTRA_CREDENTIALS_SECRETS": EXTRA_SECRET,
        "EXTRA_CREDENTIALS_SECRET_HOSTS": "dam3.example.com+dam3b.example.com:8443",
        "ALLOWED_DX_HOSTS": "dx.example.com",
    }
    for name in (EXTRA_SECRET, "dam-drift/sub-dam", EXTRA_SECRET.removesuffix("-AbC123")):
        options = {
            "sub-1": {"dam": {"hostname": "dam3b.example.com", "dxPort": 8443}, "credentialsSecret": name}
        }
        plan({"publisher": {"hostname": "dx.example.com"}, "subscriberOptions": options}, **env)
    with pytest.raises(
        InvalidInput, match=r"publisher\.hostname: 'dx\.example\.com' is not a DX host the secret"
    ):
        plan({"publisher": {"hostname": "dx.example.com"}, "credentialsSecret": "dam-drift/sub-dam"}, **env)
    # and the stack's own secret does not go to the extra secret's hosts
    own = {"sub-1": {"dam": {"hostname": "dam3.example.com"}}}
    with pytest.raises(InvalidInput, match=r"subscriberOptions\.sub-1\.dam\.hostname: 'dam3\.example\.com'"):
        plan({"publisher": {"hostname": "dx.example.com"}, "subscriberOptions": own}, **env)


def test_extra_secrets_and_their_hosts_must_pair_up_or_the_cold_start_fails() -> None:
    from damdrift.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="EXTRA_CREDENTIALS_SECRET_HOSTS"):
        AuthenticateSettings.from_env(
            {**STACK, "EXTRA_CREDENTIALS_SECRETS": EXTRA_SECRET, "EXTRA_CREDENTIALS_SECRET_HOSTS": ""}
        )


def test_the_doctor_refuses_a_secret_the_stack_does_not_list_before_reading_it() -> None:
    from damdrift.settings import DoctorSettings
    from damdrift.steps.doctor import DoctorRequest, run_doctor_step

    settings = DoctorSettings.from_env(STACK)
    request = DoctorRequest.model_validate(
        {"publisher": {"hostname": "dx.example.com"}, "credentialsSecret": "someone/elses"}
    )
    with pytest.raises(InvalidInput, match="the credentials secret 'someone/elses' is not one"):
        run_doctor_step(request, settings, None, None, NOW)  # type: ignore[arg-type]
