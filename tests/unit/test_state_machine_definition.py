"""The ASL files and the template agree, and the failure policy names real exception classes."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from damdrift import errors
from damdrift_cli.local import definitions
from damdrift_cli.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PARENT_PATH = definitions.SHIPPED_DIR / "drift_check.asl.json"
CHILD_PATH = definitions.SHIPPED_DIR / "subscriber_check.asl.json"
MACHINES = {"DriftCheckStateMachine": PARENT_PATH, "SubscriberCheckStateMachine": CHILD_PATH}


def load(path: Path) -> dict[str, Any]:
    return definitions.load(path)


def parent() -> dict[str, Any]:
    return load(PARENT_PATH)


def child() -> dict[str, Any]:
    return load(CHILD_PATH)


def both() -> list[dict[str, Any]]:
    return [parent(), child()]


def walk_states(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, state in states.items():
        found.append((name, state))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.extend(walk_states(processor["States"]))
        for branch in state.get("Branches", []):
            found.extend(walk_states(branch["States"]))
    return found


def every_state() -> list[tuple[str, dict[str, Any]]]:
    return [found for definition in both() for found in walk_states(definition["States"])]


def state_machine_resource(logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = load_template()["Resources"][logical_id]["Properties"]
    return props


def test_the_template_has_exactly_the_two_state_machines() -> None:
    template = load_template()
    machines = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"}
    assert machines == set(MACHINES)


@pytest.mark.parametrize(("logical_id", "path"), MACHINES.items())
def test_substitution_variables_match_the_template_exactly(logical_id: str, path: Path) -> None:
    used = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
    declared = set(state_machine_resource(logical_id)["DefinitionSubstitutions"])
    assert used == declared


@pytest.mark.parametrize("logical_id", MACHINES)
def test_every_lambda_the_asl_names_is_a_function_in_the_template(logical_id: str) -> None:
    props = state_machine_resource(logical_id)
    template = load_template()
    functions = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    for variable, value in props["DefinitionSubstitutions"].items():
        if variable.endswith("FunctionArn"):
            assert value["Fn::GetAtt"][0] in functions, variable


@pytest.mark.parametrize(("logical_id", "path"), MACHINES.items())
def test_template_points_at_the_asl_file(logical_id: str, path: Path) -> None:
    assert (ROOT / state_machine_resource(logical_id)["DefinitionUri"]).resolve() == path


def test_a_substituted_definition_is_the_shipped_json_with_the_values_in_place() -> None:
    values = {
        name: f"arn:aws:x:{name}"
        for name in state_machine_resource("DriftCheckStateMachine")["DefinitionSubstitutions"]
    }
    definition = json.loads(definitions.load_json(PARENT_PATH, values))
    assert definition["States"]["Authenticate"]["Resource"] == "arn:aws:x:AuthenticateFunctionArn"
    task = definition["States"]["CheckSubscribers"]["ItemProcessor"]["States"]["CheckSubscriber"]
    assert task["Parameters"]["StateMachineArn"] == "arn:aws:x:SubscriberCheckStateMachineArn"


def test_every_error_name_in_retry_and_catch_is_a_domain_exception_or_a_service_error() -> None:
    for name, state in every_state():
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for error in clause["ErrorEquals"]:
                if error.startswith(("States.", "Lambda.", "Sandbox.", "StepFunctions.")):
                    continue
                assert isinstance(getattr(errors, error, None), type), (
                    f"{name}: {error} is not in damdrift.errors"
                )


def test_every_next_points_at_a_state_in_the_same_scope() -> None:
    def check(states: dict[str, Any]) -> None:
        for name, state in states.items():
            targets = [state.get("Next"), state.get("Default")]
            targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
            for target in filter(None, targets):
                assert target in states, f"{name} -> {target}"
            processor = state.get("ItemProcessor")
            if processor:
                assert processor["StartAt"] in processor["States"]
                check(processor["States"])

    for definition in both():
        assert definition["StartAt"] in definition["States"]
        check(definition["States"])


def test_domain_errors_are_never_retried() -> None:
    not_retryable = {
        "AuthenticationError",
        "PermissionDenied",
        "SubscriberNotFound",
        "InvalidInput",
        "FindMismatchFailed",
        "FindMismatchTimedOut",
        "CredentialsError",
        "PublisherBusy",
        "ResyncFailed",
        "ResyncTimedOut",
        "RemediationRefused",
    }
    for name, state in every_state():
        for retry in state.get("Retry", []):
            assert not not_retryable & set(retry["ErrorEquals"]), name
            assert "States.ALL" not in retry["ErrorEquals"] or state.get("Resource", "").startswith(
                "arn:aws:states:::sns"
            ), f"{name} retries everything"


def test_the_asl_uses_only_jsonpath_features_the_local_interpreter_runs() -> None:
    for path in MACHINES.values():
        text = path.read_text()
        assert "JSONata" not in text
        assert '"Assign":' not in text
        assert "aws-sdk:" not in text


def test_every_lambda_task_retries_a_timed_out_function_and_lambdas_transient_errors() -> None:
    # A Lambda that times out is reported as Lambda.Unknown (Step Functions' docs) or Sandbox.Timedout
    # (Lambda's errorType); every step is idempotent, the fetch step even resumes, so both are retried,
    # with the errors AWS's docs recommend retrying for every Lambda task.
    lambda_tasks = [
        (name, state)
        for name, state in every_state()
        if state.get("Type") == "Task" and "FunctionArn}" in state["Resource"] + str(state.get("Parameters"))
    ]
    # authenticate, summarise-run, 4 check steps + RecordErrored, 3 remediation steps
    assert len(lambda_tasks) == 10
    recommended = {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    }
    for name, state in lambda_tasks:
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert {"Lambda.Unknown", "Sandbox.Timedout"} | recommended <= retried, name


def test_every_retry_can_fire_states_timeout_only_where_the_state_has_a_timeout() -> None:
    # A Lambda task without TimeoutSeconds never raises States.Timeout (a function timeout arrives as
    # Sandbox.Timedout), so a States.Timeout retrier there would be dead.
    for name, state in every_state():
        timed = any(key in state for key in ("TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds"))
        for retry in state.get("Retry", []):
            assert timed or "States.Timeout" not in retry["ErrorEquals"], name


def test_shared_retry_and_catch_policies_are_written_once_in_the_source() -> None:
    text = (definitions.SOURCE_DIR / "subscriber_check.asl.yaml").read_text()
    for policy in ("Lambda.ClientExecutionTimeoutException", "[DxUnavailable]", "[UnexpectedResponse]"):
        assert text.count(policy) == 1, policy
    assert text.count("[ReportStorageError]") == 1
    retried = [state["Retry"] for _, state in walk_states(child()["States"]) if "Retry" in state]
    lambda_policy = retried[0][0]
    assert sum(lambda_policy in retry for retry in retried) == 8


def item_states() -> dict[str, Any]:
    """One subscriber's check: the child state machine."""
    states: dict[str, Any] = child()["States"]
    return states


def test_each_subscriber_is_checked_in_its_own_execution_and_the_parent_keeps_a_small_result() -> None:
    fan_out = parent()["States"]["CheckSubscribers"]
    assert fan_out["ItemsPath"] == "$.subscribers"
    task = fan_out["ItemProcessor"]["States"]["CheckSubscriber"]
    assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert task["Parameters"]["StateMachineArn"] == "${SubscriberCheckStateMachineArn}"
    assert task["Parameters"]["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id"
    assert task["ResultSelector"] == {
        "subscriberId.$": "$.Output.subscriberId",
        "status.$": "$.Output.status",
    }
    # the subscriber list is replaced by the results, not kept beside them
    assert fan_out["ResultPath"] == "$.subscribers"
    assert parent()["States"]["Report"]["Parameters"]["outcomes.$"] == "$.subscribers"
    lambda_tasks = [s for _, s in walk_states(parent()["States"]) if "FunctionArn" in str(s.get("Resource"))]
    # authenticate, and the fleet step after the Map: every poll is in a child's history
    assert [s["Resource"] for s in lambda_tasks] == [
        "${AuthenticateFunctionArn}",
        "${SummariseRunFunctionArn}",
    ]


def test_the_fleet_step_follows_the_map_and_its_failure_still_ends_in_the_report() -> None:
    states = parent()["States"]
    assert states["CheckSubscribers"]["Next"] == "SummariseRun"
    summarise = states["SummariseRun"]
    assert summarise["Next"] == "Report" and summarise["ResultPath"] == "$.run"
    (catch,) = summarise["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "RunNotSummarised"
    assert states["RunNotSummarised"]["ResultPath"] == "$.run"
    tell = states[states["RunNotSummarised"]["Next"]]
    assert (
        tell["Resource"] == "arn:aws:states:::sns:publish"
        and tell["Parameters"]["TopicArn"] == "${OpsTopicArn}"
    )
    assert tell["Next"] == "Report" and tell["Catch"][0]["Next"] == "Report"
    assert states["Report"]["Parameters"]["run.$"] == "$.run"


def test_remediation_is_planned_only_after_drift_when_asked_for_and_only_once_per_check() -> None:
    (rule,) = item_states()["RemediationWanted?"]["Choices"]
    assert rule["Next"] == "PlanRemediation"
    conditions = rule["And"]
    assert {"Variable": "$.remediation", "IsPresent": False} in conditions
    assert {"Variable": "$.result.outcome.status", "StringEquals": "DRIFT"} in conditions
    assert {"Not": {"Variable": "$.subscriber.remediate", "StringEquals": "never"}} in conditions
    assert item_states()["RemediationWanted?"]["Default"] == "ShouldNotify?"
    assert item_states()["FetchReport"]["Next"] == "RemediationWanted?"


def test_a_failing_plan_or_approval_request_still_sends_the_drift_notice() -> None:
    for name in ("PlanRemediation", "AskApproval"):
        catch_all = [c for c in item_states()[name]["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all[0]["Next"] == "ShouldNotify?", name


def test_ask_waits_for_a_task_token_with_the_inputs_timeout_and_a_timeout_denies() -> None:
    ask = item_states()["AskApproval"]
    assert ask["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert ask["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert ask["TimeoutSecondsPath"] == "$.check.remediation.approvalTimeoutSeconds"
    timeout = next(c for c in ask["Catch"] if c["ErrorEquals"] == ["States.Timeout"])
    expired = item_states()[timeout["Next"]]
    assert expired["Result"]["approved"] is False and expired["Next"] == "Approved?"
    (approved,) = item_states()["Approved?"]["Choices"]
    assert approved == {"Variable": "$.approval.approved", "BooleanEquals": True, "Next": "StartResync"}


def test_a_remediation_failure_is_recorded_and_the_verifying_check_is_this_state_machine_again() -> None:
    for name in ("StartResync", "PollResync"):
        (catch,) = item_states()[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "RecordErrored", name
        assert item_states()[name]["ResultPath"] == "$.remediation"
    (done,) = item_states()["ResyncDone?"]["Choices"]
    assert done == {"Variable": "$.remediation.phase", "StringEquals": "VERIFYING", "Next": "Verify"}
    assert item_states()["ResyncDone?"]["Default"] == "WaitForResync"
    verify = item_states()["Verify"]
    assert verify["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert verify["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    assert verify["Parameters"]["Input"]["remediation.$"] == "$.remediation"
    # nothing loops back into the find states
    assert all(
        state.get("Next") != "TriggerMismatch"
        for name, state in item_states().items()
        if name != "WaitForPublisher"
    )
