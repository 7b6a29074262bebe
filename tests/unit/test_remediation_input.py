"""Remediation in the execution input: off unless asked for, per-subscriber options, named errors."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from damdrift.dx.connection import DxConnection
from damdrift.errors import ConfigurationError, InvalidInput
from damdrift.execution_input import CheckInput, RemediateMode, RemediationPolicy, SubscriberOptions
from damdrift.settings import RemediationLimits
from damdrift.state import CheckContext, SubscriberRef
from damdrift.steps.authenticate import with_options
from damdrift.subscriber_dam import subscriber_dam
from damdrift.validation import parse_input

PUBLISHER = {"hostname": "dx.example.com"}
DAM = {"hostname": "dx-sub.example.com", "dxProtocol": "http", "dxPort": 8080}
#: A stack deployed with MaxRemediation=auto and no two-way subscribers.
LIMITS = RemediationLimits.model_validate({"REPORT_BUCKET": "reports", "MAX_REMEDIATION": "auto"})


def parse(**fields: Any) -> CheckInput:
    return parse_input(CheckInput, {"publisher": PUBLISHER, **fields}, "execution input")


def refusal(**fields: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(**fields)
    return str(caught.value)


# -- defaults ---------------------------------------------------------------------------------------------


def test_remediation_is_never_unless_the_input_asks_for_it() -> None:
    check = parse()
    assert check.remediate is RemediateMode.NEVER
    assert check.subscriber_options == {}
    assert check.options_for("any-subscriber") == SubscriberOptions(remediate=RemediateMode.NEVER)


def test_remediation_policy_defaults_to_a_day_to_approve_two_hours_to_resync_and_no_force() -> None:
    policy = parse().remediation
    assert policy == RemediationPolicy(
        approval_timeout_seconds=86_400, max_duration_seconds=7200, force=False
    )


def test_a_subscriber_without_options_gets_the_check_wide_mode_and_nothing_else() -> None:
    options = parse(remediate="auto").options_for("sub-1")
    assert options.remediate is RemediateMode.AUTO
    assert options.dam is None
    assert options.credentials_secret is None
    assert options.two_way_staging is False


# -- per-subscriber options ------------------------------------------------------------------------------


def test_a_subscribers_own_mode_overrides_the_check_wide_one() -> None:
    check = parse(remediate="auto", subscriberOptions={"sub-1": {"remediate": "never"}, "sub-2": {}})
    assert check.options_for("sub-1").remediate is RemediateMode.NEVER
    assert check.options_for("sub-2").remediate is RemediateMode.AUTO
    assert check.options_for("sub-3").remediate is RemediateMode.AUTO


def test_a_subscriber_can_opt_in_when_the_check_wide_mode_is_never() -> None:
    check = parse(subscriberOptions={"sub-1": {"remediate": "ask"}})
    assert check.options_for("sub-1").remediate is RemediateMode.ASK
    assert check.options_for("sub-2").remediate is RemediateMode.NEVER


def test_options_for_keeps_the_subscribers_dam_secret_and_two_way_flag() -> None:
    check = parse(
        remediate="ask",
        subscriberOptions={
            "sub-1": {"dam": DAM, "credentialsSecret": "dam-drift/sub-1", "twoWayStaging": True}
        },
    )
    options = check.options_for("sub-1")
    assert options.dam == DxConnection.model_validate(DAM)
    assert options.credentials_secret == "dam-drift/sub-1"
    assert options.two_way_staging is True
    assert options.remediate is RemediateMode.ASK


def test_options_for_does_not_change_the_parsed_input() -> None:
    check = parse(remediate="auto", subscriberOptions={"sub-1": {}})
    check.options_for("sub-1")
    assert check.subscriber_options["sub-1"].remediate is None


# -- invalid values name the field ---------------------------------------------------------------------


def test_an_unknown_mode_names_the_field_and_the_choices() -> None:
    message = refusal(remediate="sometimes")
    assert "remediate:" in message
    assert "'never', 'ask' or 'auto'" in message


def test_an_unknown_per_subscriber_mode_names_the_subscriber() -> None:
    assert "subscriberOptions.sub-1.remediate:" in refusal(
        subscriberOptions={"sub-1": {"remediate": "sometimes"}}
    )


@pytest.mark.parametrize("key", ["../etc", "a b", "", "x" * 129, "-leading-dash"])
def test_subscriber_options_keyed_by_something_other_than_a_subscriber_id_are_refused(key: str) -> None:
    message = refusal(subscriberOptions={key: {}})
    assert message.startswith("invalid execution input: subscriberOptions:")
    assert "expected subscriber ids as keys" in message


def test_a_refused_subscriber_options_key_is_shown_shortened() -> None:
    message = refusal(subscriberOptions={"../" + "x" * 200: {}})
    assert "'../xxx" in message
    assert "x" * 100 not in message


@pytest.mark.parametrize("hostname", ["https://dx-sub.example.com", "dx-sub.example.com/dx", "u:p@dx-sub"])
def test_a_subscriber_dam_hostname_with_a_scheme_path_or_credentials_names_the_nested_field(
    hostname: str,
) -> None:
    message = refusal(subscriberOptions={"sub-1": {"dam": {"hostname": hostname}}})
    assert "subscriberOptions.sub-1.dam.hostname:" in message
    assert "bare host name" in message


def test_a_refused_subscriber_dam_hostname_is_not_echoed_back() -> None:
    message = refusal(subscriberOptions={"sub-1": {"dam": {"hostname": "admin:hunter2@dx-sub"}}})
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("approvalTimeoutSeconds", 0),
        ("approvalTimeoutSeconds", 7 * 86_400 + 1),
        ("maxDurationSeconds", 0),
        ("maxDurationSeconds", 86_401),
    ],
)
def test_remediation_limits_out_of_range_name_the_field(field: str, value: int) -> None:
    assert f"remediation.{field}:" in refusal(remediation={field: value})


@pytest.mark.parametrize(
    ("field", "value"), [("approvalTimeoutSeconds", 1), ("approvalTimeoutSeconds", 604_800)]
)
def test_remediation_limits_at_their_bounds_are_accepted(field: str, value: int) -> None:
    assert parse(remediation={field: value}).remediation.approval_timeout_seconds == value


def test_an_unknown_field_in_subscriber_options_is_an_error_not_a_silent_default() -> None:
    message = refusal(subscriberOptions={"sub-1": {"remedaite": "auto"}})
    assert "subscriberOptions.sub-1.remedaite: unknown field (check its spelling)" in message


def test_an_unknown_field_in_the_remediation_policy_is_an_error() -> None:
    assert "remediation.forced: unknown field" in refusal(remediation={"forced": True})


def test_a_per_subscriber_credentials_secret_must_look_like_a_secret_name() -> None:
    message = refusal(subscriberOptions={"sub-1": {"credentialsSecret": "not a secret name"}})
    assert "subscriberOptions.sub-1.credentialsSecret:" in message
    assert "not a secret name" not in message


def test_every_problem_is_reported_at_once() -> None:
    message = refusal(remediate="sometimes", remediation={"maxDurationSeconds": 0})
    assert "remediate:" in message and "remediation.maxDurationSeconds:" in message


# -- authenticate resolves the modes onto each subscriber --------------------------------------------------


def test_with_options_resolves_mode_and_two_way_flag_and_marks_an_own_dam_without_copying_it() -> None:
    check = parse(
        remediate="auto",
        subscriberOptions={
            "sub-1": {"dam": DAM, "credentialsSecret": "dam-drift/sub-1", "twoWayStaging": True},
            "sub-2": {"remediate": "ask"},
        },
    )
    first = with_options(SubscriberRef(subscriber_id="sub-1", target_host="sub-1.example.com"), check, LIMITS)
    second = with_options(SubscriberRef(subscriber_id="sub-2"), check, LIMITS)
    assert first == SubscriberRef(
        subscriber_id="sub-1",
        target_host="sub-1.example.com",
        remediate=RemediateMode.AUTO,
        own_dam=True,
        two_way_staging=True,
    )
    assert DAM["hostname"] not in json.dumps(first.to_wire()), "the fan-out list carries no connection"
    assert second.remediate is RemediateMode.ASK
    assert not second.own_dam and not second.two_way_staging


def check_of(execution_arn: str) -> CheckContext:
    return CheckContext.model_validate(
        {
            "execution": execution_arn.rsplit(":", 1)[1],
            "executionArn": execution_arn,
            "publisher": {"hostname": "dx.example.com"},
            "publisherId": "dx.example.com",
            "credentialsSecret": "dam-drift/dx-credentials",
            "poll": {},
            "busyPolicy": "wait",
            "notifyPolicy": "on-drift",
            "maxConcurrency": 2,
            "startedAt": "2026-11-01T05:00:00Z",
        }
    )


def test_a_steps_subscriber_dam_is_read_from_the_drift_checks_input_with_its_own_or_the_publishers_secret(
    drift_check_started_with: Callable[[dict[str, Any]], str],
) -> None:
    options = {"sub-1": {"dam": DAM, "credentialsSecret": "dam-drift/sub-1"}, "sub-2": {"dam": DAM}}
    check = check_of(
        drift_check_started_with({"publisher": {"hostname": "dx.example.com"}, "subscriberOptions": options})
    )
    assert subscriber_dam(check, "sub-1") == (DxConnection.model_validate(DAM), "dam-drift/sub-1")
    assert subscriber_dam(check, "sub-2") == (DxConnection.model_validate(DAM), "dam-drift/dx-credentials")
    with pytest.raises(
        InvalidInput, match=r"subscriberOptions\.sub-3\.dam: missing from the input of the drift check"
    ):
        subscriber_dam(check, "sub-3")


def test_a_drift_check_that_cannot_be_read_is_a_configuration_error_naming_it(
    drift_check_started_with: Callable[[dict[str, Any]], str],
) -> None:
    existing = drift_check_started_with({"publisher": {"hostname": "dx.example.com"}})
    gone = existing.rsplit(":", 1)[0] + ":never-started"
    with pytest.raises(
        ConfigurationError, match=rf"cannot read the drift check's input \({gone}\).*ExecutionDoesNotExist"
    ):
        subscriber_dam(check_of(gone), "sub-1")


def test_with_options_leaves_a_subscriber_without_options_at_never() -> None:
    ref = with_options(SubscriberRef(subscriber_id="sub-1", registered=False), parse(), LIMITS)
    assert ref.remediate is RemediateMode.NEVER
    assert ref.registered is False
    assert ref.to_wire()["remediate"] == "never"  # what the state machine's Choice reads


def test_with_options_keeps_what_authenticate_found_on_the_publisher() -> None:
    ref = SubscriberRef(subscriber_id="sub-1", target_host="sub-1.example.com", registered=True)
    resolved = with_options(ref, parse(remediate="ask"), LIMITS)
    assert (resolved.subscriber_id, resolved.target_host, resolved.registered) == (
        "sub-1",
        "sub-1.example.com",
        True,
    )
