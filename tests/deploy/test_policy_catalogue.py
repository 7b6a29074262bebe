"""Every policy of template.yaml against AWS's action/resource catalogue (parliament): no finding, or
one suppressed on its resource with the reason. Runs in ``make test`` (and on the SAM translation in
scripts/check-template.sh, which adds the roles SAM generates)."""

import copy
from pathlib import Path
from typing import Any

import pytest

from damdrift_cli.local.template import load_template
from tests.deploy.policy_catalogue import check, documents, suppressions
from tests.deploy.test_template import EVERYTHING

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.mark.parametrize("parameters", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_every_policy_of_the_template_passes_aws_catalogue(
    template: dict[str, Any], parameters: dict[str, str]
) -> None:
    findings = check(template, parameters)
    assert findings == [], "\n".join(map(str, findings))


def test_every_kind_of_policy_is_checked(template: dict[str, Any]) -> None:
    checked = {(p.resource, p.kind) for p in documents(template)}
    roles = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("Policies")  # the chat channel's has none
    ]
    assert {(role, "identity") for role in roles} <= checked
    assert {
        ("FunctionBasePolicy", "identity"),
        ("ReportBucketPolicy", "bucket"),
        ("DriftTopicPolicy", "topic"),
        ("OpsTopicPolicy", "topic"),
        ("DataKey", "key"),
        ("ApproveFunctionUrlPublicAccess", "lambda-permission"),
        ("ApproveFunctionInvokeViaUrlOnly", "lambda-permission"),
        ("StateMachineBasePolicy", "identity"),
        ("ReportViewerInvokeViaUrlOnly", "lambda-permission"),
    } <= checked


def test_the_approve_role_before_issue_13_is_flagged_resource_mismatch(template: dict[str, Any]) -> None:
    before = copy.deepcopy(template)
    policies = before["Resources"]["ApproveRole"]["Properties"]["Policies"]
    index = next(i for i, p in enumerate(policies) if p["PolicyName"] == "answer-approvals")
    policies[index] = load_template(FIXTURES / "approve_role_before_issue_13.yaml")

    findings = check(before)

    (finding,) = findings
    assert (finding.resource, finding.issue, finding.sid) == (
        "ApproveRole",
        "RESOURCE_MISMATCH",
        "ResumeTheWaitingExecution",
    )
    assert {d["action"] for d in finding.detail} == {"states:SendTaskSuccess", "states:SendTaskFailure"}
    assert {d["required_format"] for d in finding.detail} == {"*"}


def test_an_action_aws_does_not_have_is_flagged_in_a_translated_template() -> None:
    """The SAM translation's form (long intrinsics, a generated role): what check-template.sh feeds it."""
    translated = {
        "Resources": {
            "StateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
            "ScheduleRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Statement": []},
                    "Policies": [
                        {
                            "PolicyName": "start",
                            "PolicyDocument": {
                                "Statement": [
                                    {
                                        "Sid": "Start",
                                        "Effect": "Allow",
                                        "Action": "states:StartExecutions",
                                        "Resource": {"Ref": "StateMachine"},
                                    }
                                ]
                            },
                        }
                    ],
                },
            },
        }
    }

    (finding,) = check(translated)

    assert (finding.resource, finding.issue, finding.sid) == ("ScheduleRole", "UNKNOWN_ACTION", "Start")


def test_every_suppression_names_its_issue_and_reason_and_is_still_needed(template: dict[str, Any]) -> None:
    found = suppressions(template)
    assert found, "the template suppresses some findings"
    for resource, entry in found:
        assert set(entry) <= {"issue", "sid", "reason"}, resource
        assert entry["issue"].isupper() and len(entry["reason"]) > 40, resource
        without = copy.deepcopy(template)
        ignored = without["Resources"][resource]["Metadata"]["parliament"]["ignore"]
        ignored.remove(entry)
        assert any(
            f.resource == resource and f.issue == entry["issue"] and entry.get("sid") in (None, f.sid)
            for f in check(without, EVERYTHING)
        ), f"{resource}: the suppression of {entry['issue']} is no longer needed"
