"""The ASL file and the template agree, and the failure policy names real exception classes."""

import json
import re
from pathlib import Path
from typing import Any

from damdrift import errors
from damdrift_cli.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "drift_check.asl.json"


def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


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


def state_machine_resource() -> dict[str, Any]:
    template = load_template()
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    assert len(machines) == 1
    return machines[0]["Properties"]


def test_substitution_variables_match_the_template_exactly() -> None:
    used = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    declared = set(state_machine_resource()["DefinitionSubstitutions"])
    assert used == declared


def test_every_lambda_the_asl_names_is_a_function_in_the_template() -> None:
    props = state_machine_resource()
    template = load_template()
    functions = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    for variable, value in props["DefinitionSubstitutions"].items():
        if variable.endswith("FunctionArn"):
            assert value["Fn::GetAtt"][0] in functions, variable


def test_template_points_at_this_asl_file() -> None:
    assert (ROOT / state_machine_resource()["DefinitionUri"]).resolve() == ASL_PATH


def test_every_error_name_in_retry_and_catch_is_a_domain_exception_or_a_service_error() -> None:
    for name, state in walk_states(asl()["States"]):
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for error in clause["ErrorEquals"]:
                if error.startswith(("States.", "Lambda.", "Sandbox.")):
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

    definition = asl()
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
    for name, state in walk_states(asl()["States"]):
        for retry in state.get("Retry", []):
            assert not not_retryable & set(retry["ErrorEquals"]), name
            assert "States.ALL" not in retry["ErrorEquals"] or state.get("Resource", "").startswith(
                "arn:aws:states:::sns"
            ), f"{name} retries everything"


def test_the_asl_uses_only_jsonpath_features_the_local_interpreter_runs() -> None:
    text = ASL_PATH.read_text()
    assert "JSONata" not in text
    assert '"Assign"' not in text
    assert "aws-sdk:" not in text


def test_every_lambda_task_retries_a_timed_out_function() -> None:
    # A Lambda that times out is reported as Lambda.Unknown (Step Functions' docs) or Sandbox.Timedout
    # (Lambda's errorType); every step is idempotent, the fetch step even resumes, so both are retried.
    lambda_tasks = [
        (name, state)
        for name, state in walk_states(asl()["States"])
        if state.get("Type") == "Task" and state["Resource"].endswith("FunctionArn}")
    ]
    assert len(lambda_tasks) == 8  # 4 drift-check steps, RecordErrored, 3 remediation steps
    for name, state in lambda_tasks:
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert {"Lambda.Unknown", "Sandbox.Timedout"} <= retried, name


def item_states() -> dict[str, Any]:
    states: dict[str, Any] = asl()["States"]["CheckSubscribers"]["ItemProcessor"]["States"]
    return states


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


def test_a_remediation_failure_is_recorded_and_the_verifying_find_reuses_the_find_states() -> None:
    for name in ("StartResync", "PollResync"):
        (catch,) = item_states()[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "RecordErrored", name
        assert item_states()[name]["ResultPath"] == "$.remediation"
    (done,) = item_states()["ResyncDone?"]["Choices"]
    assert done == {"Variable": "$.remediation.phase", "StringEquals": "VERIFYING", "Next": "TriggerMismatch"}
    assert item_states()["ResyncDone?"]["Default"] == "WaitForResync"
