"""What the stack allows bounds what an execution input can order (issue 23 item 3).

Anyone who may start an execution writes its input; only whoever deploys the stack sets its parameters.
``MaxRemediation`` (never | ask | auto, default ask) is the most remediation any input may ask for, and
``TwoWaySubscribers`` lists the subscribers no resync may touch, whatever the input says.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from damdrift.errors import InvalidInput
from damdrift.execution_input import RemediateMode
from damdrift.remediation.guards import refusal
from damdrift.remediation.ledger import RemediationLedger
from damdrift.settings import AuthenticateSettings, RemediateSettings
from damdrift.state import SubscriberRef, SubscriberTask
from damdrift.steps.authenticate import AuthenticateRequest, plan_check, with_options

NOW = datetime(2026, 12, 5, tzinfo=UTC)
ARN = "arn:aws:states:eu-central-1:123456789012:execution:dam-drift-drift-check:exec-1"
STACK = {"REPORT_BUCKET": "reports", "CREDENTIALS_SECRET": "dx", "ALLOWED_DX_HOSTS": "dx.example.com"}
PUBLISHER = {"hostname": "dx.example.com"}


def plan(execution_input: dict[str, Any], **env: str) -> Any:
    settings = AuthenticateSettings.from_env({**STACK, **env})
    request = AuthenticateRequest(
        input={"publisher": PUBLISHER, **execution_input}, execution="e", execution_arn=ARN
    )
    return plan_check(request, settings, NOW)


def test_the_stack_allows_ask_unless_deployed_otherwise() -> None:
    assert AuthenticateSettings.from_env(STACK).max_remediation is RemediateMode.ASK
    assert RemediateSettings.from_env(STACK).max_remediation is RemediateMode.ASK
    plan({"remediate": "ask"})


def test_an_input_asking_auto_of_a_stack_that_allows_ask_is_refused_naming_the_field_and_ceiling() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan({"remediate": "auto", "remediation": {"force": True}})
    assert str(caught.value) == (
        "invalid execution input: remediate: 'auto' is more than this stack allows "
        "(stack parameter MaxRemediation is 'ask')"
    )


def test_a_subscribers_own_mode_is_held_to_the_same_ceiling() -> None:
    options = {"sub-1": {"remediate": "ask"}, "sub-2": {"remediate": "auto"}}
    with pytest.raises(InvalidInput, match=r"subscriberOptions\.sub-2\.remediate: 'auto' is more than"):
        plan({"subscriberOptions": options})


def test_a_stack_that_allows_never_refuses_ask_and_one_that_allows_auto_takes_it() -> None:
    with pytest.raises(InvalidInput, match="MaxRemediation is 'never'"):
        plan({"remediate": "ask"}, MAX_REMEDIATION="never")
    plan({"remediate": "never"}, MAX_REMEDIATION="never")
    plan({"remediate": "auto"}, MAX_REMEDIATION="auto")


def test_a_ceiling_outside_never_ask_auto_fails_the_cold_start() -> None:
    from damdrift.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="MAX_REMEDIATION"):
        AuthenticateSettings.from_env({**STACK, "MAX_REMEDIATION": "always"})


def test_the_stacks_two_way_list_marks_the_subscriber_whatever_the_input_says() -> None:
    settings = AuthenticateSettings.from_env(
        {**STACK, "MAX_REMEDIATION": "auto", "TWO_WAY_SUBSCRIBERS": "sub-2, sub-3"}
    )
    _, check_input = plan({"remediate": "auto"}, MAX_REMEDIATION="auto")
    two_way = with_options(SubscriberRef(subscriber_id="sub-2"), check_input, settings)
    one_way = with_options(SubscriberRef(subscriber_id="sub-1"), check_input, settings)
    assert two_way.two_way_staging and not one_way.two_way_staging


class _NoLedger(RemediationLedger):
    def __init__(self) -> None:
        pass

    def today(self, *args: Any) -> None:
        return None


def task(subscriber: SubscriberRef) -> SubscriberTask:
    check = {
        "execution": "e",
        "executionArn": ARN,
        "publisher": PUBLISHER,
        "publisherId": "dx.example.com",
        "credentialsSecret": "dx",
        "poll": {},
        "busyPolicy": "wait",
        "notifyPolicy": "on-drift",
        "maxConcurrency": 2,
        "startedAt": NOW.isoformat(),
    }
    return SubscriberTask.model_validate({"check": check, "subscriber": subscriber.to_wire()})


def test_the_remediate_function_refuses_a_two_way_subscriber_of_the_stack_even_if_the_task_says_not() -> None:
    """The guard reads the stack's list itself: a task that says nothing (or false) is not believed."""
    env = {**STACK, "MAX_REMEDIATION": "auto", "TWO_WAY_SUBSCRIBERS": "sub-2"}
    settings = RemediateSettings.from_env(env)
    subscriber = SubscriberRef(subscriber_id="sub-2", remediate=RemediateMode.AUTO, own_dam=True)
    reason = refusal(task(subscriber), None, _NoLedger(), NOW, settings)
    assert reason is not None and "two-way staging" in reason and "TwoWaySubscribers" in reason


def test_the_remediate_function_refuses_a_mode_above_the_stacks_ceiling() -> None:
    """Authenticate refuses it first; the guard checks again (the stack may be redeployed meanwhile)."""
    settings = RemediateSettings.from_env(STACK)  # ceiling ask
    subscriber = SubscriberRef(subscriber_id="sub-1", remediate=RemediateMode.AUTO, own_dam=True)
    reason = refusal(task(subscriber), None, _NoLedger(), NOW, settings)
    assert reason == (
        "remediate 'auto' is more than this stack allows (stack parameter MaxRemediation is 'ask')"
    )


def test_the_stacks_two_way_list_also_names_a_subscriber_by_its_target_host() -> None:
    """dxclient and the CLI name subscribers by target host too: a host in TwoWaySubscribers protects it."""
    env = {**STACK, "MAX_REMEDIATION": "auto", "TWO_WAY_SUBSCRIBERS": "DX-Sub.example.com"}
    subscriber = SubscriberRef(
        subscriber_id="sub-2", target_host="dx-sub.example.com", remediate=RemediateMode.AUTO, own_dam=True
    )
    reason = refusal(task(subscriber), None, _NoLedger(), NOW, RemediateSettings.from_env(env))
    marked = with_options(subscriber, plan({}, MAX_REMEDIATION="auto")[1], AuthenticateSettings.from_env(env))
    assert reason is not None and "two-way staging" in reason
    assert marked.two_way_staging
