"""What AWS refuses at the first deploy that moto, cfn-lint and the local stack accept (issue 22).

Each limit here is AWS's own (service quotas, API references, CloudFormation's Rules), checked against
template.yaml as CloudFormation resolves it - for the defaults, for every option switched on and for the
longest stack name CloudFormation allows. docs/deploy.md's tables are pinned to the template here too.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from damdrift.doctor.account import reservable
from damdrift_cli.local.template import RuleViolation, check_rules, load_template, parameter_values
from tests.deploy.stack_view import PSEUDO, REQUIRED, StackView, as_list, stack, statements
from tests.deploy.test_template import EVERYTHING as TEMPLATE_EVERYTHING

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"

#: Every option on (test_template's set), chat channels and the hardening reservations too, so every
#: conditional resource is there.
EVERYTHING = {
    **TEMPLATE_EVERYTHING,
    "ChatNotifications": "true",
    "SlackWorkspaceId": "T0123ABCD",
    "SlackChannelId": "C0123456789",
    "TeamsTenantId": "12345678-1234-1234-1234-123456789012",
    "TeamsTeamId": "12345678-1234-1234-1234-123456789012",
    "TeamsChannelId": "19:abc@thread.tacv2",
    "ApproveConcurrency": "2",
    "ReportViewerConcurrency": "2",
}


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@cache
def template() -> dict[str, Any]:
    return load_template()


@cache
def everything() -> StackView:
    return stack(**EVERYTHING)


# ------------------------------------------------------------------------ account concurrency (item 2)


def reserved_concurrency(view: StackView) -> int:
    functions = view.of_type("AWS::Serverless::Function") | view.of_type("AWS::Lambda::Function")
    return sum(int(view.function(f).get("ReservedConcurrentExecutions", 0)) for f in functions)


def test_a_new_account_with_a_concurrency_quota_of_10_can_create_the_stack_with_the_defaults() -> None:
    # Lambda refuses a reservation that leaves fewer than 100 unreserved: a quota of 10 allows none.
    assert reserved_concurrency(stack()) <= reservable(10) == 0


def test_the_hardening_step_reserves_what_the_doctor_checks_for() -> None:
    from damdrift.doctor.account import HARDENING_RESERVATION

    hardened = stack(ApproveConcurrency="2", ReportViewerConcurrency="2")
    assert reserved_concurrency(hardened) == HARDENING_RESERVATION
    text = guide()
    assert "ApproveConcurrency=2 ReportViewerConcurrency=2" in text  # the hardening step's command
    assert "aws: lambda reserved concurrency" in text  # the doctor line it tells you to read


# ---------------------------------------------------------------------------- names AWS limits (item 6)

#: Limits on the names the template sets (API references of each service).
NAME_LIMITS = {
    ("AWS::Serverless::StateMachine", "Name"): 80,  # Step Functions CreateStateMachine: name 1-80
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): 80,
    ("AWS::Chatbot::SlackChannelConfiguration", "ConfigurationName"): 128,
    ("AWS::Chatbot::MicrosoftTeamsChannelConfiguration", "ConfigurationName"): 128,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SecretsManager::Secret", "Name"): 512,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::Serverless::LayerVersion", "LayerName"): 140,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
}
#: CloudFormation's longest stack name (CreateStack: 128 characters).
LONGEST_STACK = "s" + "-x" * 63 + "z"


@cache
def longest_named_stack(stack_id: str = "0123abcd-4e5f-4a6b-8c7d-9e0f1a2b3c4d") -> StackView:
    arn = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{LONGEST_STACK}/{stack_id}"
    return stack({"AWS::StackName": LONGEST_STACK, "AWS::StackId": arn}, **EVERYTHING)


def test_every_name_the_stack_sets_fits_awss_limit_for_the_longest_stack_name() -> None:
    assert len(LONGEST_STACK) == 128
    view = longest_named_stack()
    named = 0
    for logical_id, resource in view.resources.items():
        for prop, value in resource.get("Properties", {}).items():
            if isinstance(value, str) and LONGEST_STACK in value and prop.endswith("Name"):
                limit = NAME_LIMITS.get((resource["Type"], prop))
                assert limit is not None, f"{logical_id}.{prop}: add AWS's limit to NAME_LIMITS"
                assert len(value) <= limit, (
                    f"{logical_id}.{prop} has {len(value)} characters, AWS allows {limit}"
                )
                named += 1
        for (kind, prop), limit in NAME_LIMITS.items():
            value = resource.get("Properties", {}).get(prop) if resource["Type"] == kind else None
            if value is not None:
                assert len(value) <= limit, (
                    f"{logical_id}.{prop} has {len(value)} characters, AWS allows {limit}"
                )
    assert named >= 10  # the log groups, the secrets, the alias, the layer, the dashboard


def test_state_machine_names_come_from_the_stack_id_and_the_roles_name_them_so() -> None:
    one, other = (
        longest_named_stack("0123abcd-0000-4000-8000-000000000000"),
        longest_named_stack("89abcdef-0000"),
    )
    names = {one.props(m)["Name"] for m in ("DriftCheckStateMachine", "SubscriberCheckStateMachine")}
    assert names == {"dam-drift-0123abcd-drift-check", "dam-drift-0123abcd-subscriber-check"}
    assert (
        one.props("SubscriberCheckStateMachine")["Name"] != other.props("SubscriberCheckStateMachine")["Name"]
    )
    granted = json.dumps(
        [one.props(r) for r in one.of_type("AWS::IAM::Role") | one.of_type("AWS::IAM::ManagedPolicy")]
    )
    assert ":stateMachine:dam-drift-0123abcd-subscriber-check" in granted
    assert ":execution:dam-drift-0123abcd-subscriber-check:*" in granted
    assert ":execution:dam-drift-0123abcd-drift-check:*" in granted


# ------------------------------------------------------------------------ S3 lifecycle rules (item 7)


def s3_accepts(transition: int, retention: int) -> bool:
    """S3's lifecycle constraints: Standard-IA after at least 30 days; expiration after the transition."""
    if transition and transition < 30:
        return False
    return not (transition and retention and retention <= transition)


def rules_accept(**parameters: str) -> bool:
    values = parameter_values(template(), {**REQUIRED, **parameters})
    try:
        check_rules(template(), lambda name, _attribute: values.get(name, PSEUDO.get(name)))
    except RuleViolation:
        return False
    return True


def allowed(name: str) -> list[int]:
    return [int(v) for v in template()["Parameters"][name]["AllowedValues"]]


def test_no_transition_s3_refuses_can_be_chosen() -> None:
    assert all(days == 0 or days >= 30 for days in allowed("ReportTransitionDays"))


def test_the_rules_refuse_exactly_the_lifecycles_s3_refuses() -> None:
    pairs = list(product(allowed("ReportTransitionDays"), allowed("ReportRetentionDays")))
    assert len(pairs) > 50
    for transition, retention in pairs:
        accepted = rules_accept(ReportTransitionDays=str(transition), ReportRetentionDays=str(retention))
        assert accepted == s3_accepts(transition, retention), (transition, retention)


def test_the_local_stack_refuses_a_lifecycle_s3_would_refuse_with_the_rules_description() -> None:
    values = parameter_values(
        template(), {**REQUIRED, "ReportTransitionDays": "90", "ReportRetentionDays": "60"}
    )
    with pytest.raises(
        RuleViolation, match=r"ReportsExpireAfterTheyMoveAt90Days: ReportRetentionDays must be 0"
    ):
        check_rules(template(), lambda name, _attribute: values[name])
    assert rules_accept()  # the defaults: Standard-IA after 90 days, expired after 400


# ------------------------------------------------------------------------ other quotas AWS enforces


def test_each_functions_environment_fits_lambdas_4_kb() -> None:
    view = everything()
    for function in view.of_type("AWS::Serverless::Function"):
        variables = view.function(function).get("Environment", {}).get("Variables", {})
        size = sum(len(str(k)) + len(str(v)) for k, v in variables.items())
        assert size <= 4 * 1024, (function, size)


def non_whitespace(document: Any) -> int:
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


def test_every_role_fits_iams_policy_size_quotas() -> None:
    # IAM quotas: a role's inline policies 10,240 characters together, a managed policy 6,144 (no
    # whitespace counted). Resolved ARNs are longer on AWS than "<X.Arn>": keep a margin of a third.
    view = longest_named_stack()
    for role_id, role in view.of_type("AWS::IAM::Role").items():
        inline = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        assert sum(non_whitespace(d) for d in inline) <= 10_240 * 2 // 3, role_id
    for policy_id, policy in view.of_type("AWS::IAM::ManagedPolicy").items():
        assert non_whitespace(policy["Properties"]["PolicyDocument"]) <= 6_144 * 2 // 3, policy_id


def test_the_template_fits_cloudformations_quotas_and_is_deployed_through_s3() -> None:
    size = (ROOT / "template.yaml").stat().st_size
    assert size <= 1024 * 1024  # template body from S3: 1 MB
    assert size > 51_200  # over the direct-upload limit, so sam deploy must upload it to S3:
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    assert deploy.get("resolve_s3") is True or "s3_bucket" in deploy
    assert len(template()["Resources"]) <= 400  # 500, less what the SAM transform adds (URLs, schedule)
    assert len(template()["Parameters"]) <= 200 and len(template().get("Outputs", {})) <= 200


# ------------------------------------------------------------------------ docs/deploy.md's tables (item 8)


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def role_of(value: str) -> str:
    return value.strip("<>").removesuffix(".Arn")


def exempt_roles(document: dict[str, Any]) -> set[str]:
    """Roles a resource policy's Deny statements let through (``ArnNotEquals aws:PrincipalArn``)."""
    roles: set[str] = set()
    for statement in statements(document):
        if statement["Effect"] == "Deny":
            arns = statement.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
            roles |= {role_of(arn) for arn in as_list(arns)}
    return roles


def denied_actions(document: dict[str, Any]) -> set[str]:
    actions = {a for s in statements(document) if s["Effect"] == "Deny" for a in as_list(s["Action"])}
    return {a for a in actions if not a.endswith("*")}


def resource_policy_rows() -> dict[str, str]:
    table = section(guide(), "| resource policy | denies |", "\n\n")
    rows = re.findall(r"^\| `([A-Za-z]+)` \| (.+) \|$", table, re.MULTILINE)
    return dict(rows)


def test_the_resource_policy_table_names_exactly_the_roles_each_policy_exempts() -> None:
    view = everything()
    policies = view.of_type("AWS::S3::BucketPolicy") | view.of_type("AWS::SNS::TopicPolicy")
    rows = resource_policy_rows()
    assert rows.keys() == policies.keys()
    for policy_id, policy in policies.items():
        document = policy["Properties"]["PolicyDocument"]
        named = set(re.findall(r"`([A-Za-z]+Role)`", rows[policy_id]))
        assert named == exempt_roles(document), policy_id
        for action in denied_actions(document):
            assert f"`{action}`" in rows[policy_id] or f"`{action}`/" in rows[policy_id], (policy_id, action)


def test_the_guide_counts_the_log_groups_the_template_creates() -> None:
    groups = [r for r in template()["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    text = guide()
    assert f"| `*LogGroup` ({len(groups)}) |" in text
    assert f"retention of the {len(groups)} log groups" in text
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)


def test_the_iam_table_names_every_action_a_role_is_granted_and_no_other() -> None:
    granted: set[str] = set()
    for view in (stack(), everything()):
        documents = [
            p["PolicyDocument"]
            for r in view.of_type("AWS::IAM::Role").values()
            for p in r["Properties"].get("Policies", [])
        ]
        documents += [
            p["Properties"]["PolicyDocument"] for p in view.of_type("AWS::IAM::ManagedPolicy").values()
        ]
        for document in documents:
            granted |= {
                a for s in statements(document) if s["Effect"] == "Allow" for a in as_list(s["Action"])
            }
    table = section(guide(), "### Who may do what (IAM)", "Resource policies hold the line")
    documented = {
        a for a in re.findall(r"`([a-z0-9-]+:[A-Z][A-Za-z0-9]*)`", table) if not a.startswith("aws:")
    }
    assert granted == documented


# ------------------------------------------------------------------------ the class: what AWS enforces


def enforcement_rows() -> list[tuple[str, str]]:
    table = section(guide(), "| what AWS enforces |", "\n\n")
    rows = re.findall(r"^\| ([^|]+) \| [^|]+ \| ([^|]+) \|$", table, re.MULTILINE)
    return [(rule, tests) for rule, tests in rows if rule.strip("- ") and rule != "what AWS enforces"]


def test_every_test_the_enforcement_table_names_exists() -> None:
    rows = enforcement_rows()
    assert len(rows) >= 15
    for rule, tests in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", tests)
        assert named or "not covered" in tests, rule
        for path, name in named:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, re.MULTILINE), (
                f"{path}::{name} (row {rule.strip()!r})"
            )
