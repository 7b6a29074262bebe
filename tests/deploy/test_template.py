"""template.yaml, read the way CloudFormation would for a few parameter sets: least-privilege IAM, a
private TLS-only bucket, the functions' environment, the state machine's logging and tracing, the
schedule's input (= events/scheduled-input.json for the defaults), alarms and outputs.

Runs in the project's .venv, in milliseconds, with no SAM CLI (scripts/check-template.sh adds
cfn-lint, statelint, checkov and sam build).
"""

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import damdrift.settings
from damdrift.dx.connection import DxConnection
from damdrift.errors import InvalidInput
from damdrift.execution_input import CheckInput
from damdrift.report.ingest import checkpoint
from damdrift.report_layout import prefix_for, subscriber_prefix
from damdrift.settings import FetchReportSettings, FunctionSettings, RemediationLimits
from tests.deploy.stack_view import StackView, as_list, permissions, stack, statements

ROOT = Path(__file__).resolve().parents[2]
#: What the state machine invokes (the approve function is called through its URL, by a person).
STEP_FUNCTIONS = [
    "AuthenticateFunction",
    "TriggerMismatchFunction",
    "PollStatusFunction",
    "FetchReportFunction",
    "RemediateFunction",
    "RequestApprovalFunction",
    "SummariseRunFunction",
]
#: What the drift check itself invokes (before and after its Map); the subscriber check invokes the rest.
DRIFT_CHECK_FUNCTIONS = ["AuthenticateFunction", "SummariseRunFunction"]
FUNCTIONS = [*STEP_FUNCTIONS, "ApproveFunction", "DoctorFunction"]
ROLES = {f: f.removesuffix("Function") + "Role" for f in FUNCTIONS}
LOG_GROUPS = {f: f.removesuffix("Function") + "LogGroup" for f in FUNCTIONS}
EXISTING_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dx/admin-AbC123"
EXISTING_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: Secrets other than the stack's that an execution input may name (ExtraCredentialsSecretArns).
EXTRA_SECRETS = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:dam-drift/sub1-AbC123,"
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:dam-drift/sub2-XyZ789"
)

#: Every optional feature switched on: existing secret with its own key, VPC, boundary, alarms...
EVERYTHING = {
    "ExistingCredentialsSecretArn": EXISTING_SECRET,
    "ExistingCredentialsSecretKmsKeyArn": EXISTING_KEY,
    "VpcSubnetIds": "subnet-0a,subnet-0b",
    "VpcSecurityGroupIds": "sg-0c",
    "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary",
    "NotificationEmail": "drift@example.com",
    "OpsNotificationEmail": "ops@example.com",
    "LambdaErrorAlarm": "true",
    "CreateDashboard": "true",
    "ExtraCredentialsSecretArns": EXTRA_SECRETS,
    "ExtraCredentialsSecretHosts": "dam-sub1.example.com,dam-sub2.example.com:8443",
}

#: Actions AWS offers no resource-level permission for: the only ones allowed on Resource "*"
#: (Service Authorization Reference: no resource type listed for them).
STAR_RESOURCE_ACTIONS = {
    "states:SendTaskSuccess",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "lambda:GetAccountSettings",
}

TRACES = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
SECRET_READ = {("secretsmanager:GetSecretValue", "<DxCredentialsSecret>"), ("kms:Decrypt", "<DataKey.Arn>")}


def own_logs(function: str) -> set[tuple[str, str]]:
    group = f"<{LOG_GROUPS[function]}.Arn>"
    return {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}


@pytest.fixture(scope="module")
def default() -> StackView:
    return stack()


@pytest.fixture(scope="module", params=["defaults", "everything"])
def any_stack(request: pytest.FixtureRequest) -> StackView:
    return stack() if request.param == "defaults" else stack(**EVERYTHING)


def schedule_input(view: StackView) -> dict[str, Any]:
    event = view.props("DriftCheckStateMachine")["Events"]["Schedule"]
    assert event["Type"] == "ScheduleV2"
    decoded: dict[str, Any] = json.loads(event["Properties"]["Input"])
    return decoded


# ---------------------------------------------------------------------------------------------- IAM


def every_policy_statement(view: StackView) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in view.resources.items():
        props = resource.get("Properties", {})
        documents = [props.get("PolicyDocument"), props.get("KeyPolicy")]
        documents += [policy.get("PolicyDocument") for policy in props.get("Policies", [])]
        for document in filter(None, documents):
            found += [(logical_id, statement) for statement in statements(document)]
    return found


def test_no_policy_allows_a_wildcard_action(any_stack: StackView) -> None:
    for logical_id, statement in every_policy_statement(any_stack):
        assert "NotAction" not in statement and "NotResource" not in statement, logical_id
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            if logical_id == "DataKey" and statement.get("Sid") == "EnableIamPolicies":
                # AWS's default key-policy statement: delegates the key to this account's IAM
                # policies and grants nothing by itself (without it the key cannot be administered).
                assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
                continue
            assert action != "*" and not action.endswith(":*"), f"{logical_id}: {action}"


def test_star_resources_only_for_actions_without_resource_level_permissions(any_stack: StackView) -> None:
    for logical_id, statement in every_policy_statement(any_stack):
        if statement["Effect"] != "Allow" or logical_id == "DataKey":  # in a key policy "*" = this key
            continue
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= STAR_RESOURCE_ACTIONS, logical_id


def test_no_function_or_state_machine_uses_sam_generated_roles(default: StackView) -> None:
    """Explicit roles: SAM's generated ones attach AWSLambdaBasicExecutionRole (logs on "*")."""
    machine_roles = {
        "DriftCheckStateMachine": "StateMachineRole",
        "SubscriberCheckStateMachine": "SubscriberCheckRole",
    }
    for logical_id in [*FUNCTIONS, *machine_roles]:
        props = default.props(logical_id)
        assert "Policies" not in props, logical_id
        assert props["Role"] == f"<{ROLES.get(logical_id) or machine_roles[logical_id]}.Arn>"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_holds_exactly_its_permissions(default: StackView, function: str) -> None:
    # The approval functions never log in to DX: no secret for them.
    no_dx = {"RequestApprovalFunction", "ApproveFunction", "SummariseRunFunction"}
    expected = (set() if function in no_dx else SECRET_READ) | TRACES | own_logs(function)
    if function == "FetchReportFunction":
        objects = "<ReportBucket.Arn>/reports/*"
        expected |= {
            ("s3:PutObject", objects),
            ("s3:GetObject", objects),
            ("s3:GetObject", "<ReportBucket.Arn>/config/ignore-rules.json"),
            ("s3:AbortMultipartUpload", objects),
            ("s3:ListMultipartUploadParts", objects),
            ("s3:ListBucket", "<ReportBucket.Arn>"),
            ("s3:PutObject", "<ReportBucket.Arn>/runs/*"),  # the run record (damdrift.fleet.records)
            ("s3:DeleteObject", "<ReportBucket.Arn>/reports/*/_parts/*"),
            ("s3:DeleteObject", "<ReportBucket.Arn>/reports/*/_checkpoint.json"),
            # signs the notices' report links
            ("secretsmanager:GetSecretValue", "<ReportLinkKey>"),
            ("lambda:GetFunctionUrlConfig", "<ReportViewerFunction.Arn>"),
        }
    if function == "SummariseRunFunction":
        expected |= {
            ("s3:GetObject", "<ReportBucket.Arn>/runs/*"),  # the run records
            ("s3:PutObject", "<ReportBucket.Arn>/runs/*"),  # run.json
            ("s3:GetObject", "<ReportBucket.Arn>/reports/*/overview.json"),  # every subscriber's row
            ("s3:PutObject", "<ReportBucket.Arn>/reports/*/overview.html"),  # the page, once per run
            ("s3:ListBucket", "<ReportBucket.Arn>"),
            ("sns:Publish", "<DriftTopic>"),
            ("sns:Publish", "<OpsTopic>"),
            ("kms:GenerateDataKey", "<DataKey.Arn>"),
            ("kms:Decrypt", "<DataKey.Arn>"),
            # signs the run notice's links (the overview, each listed report)
            ("secretsmanager:GetSecretValue", "<ReportLinkKey>"),
            ("lambda:GetFunctionUrlConfig", "<ReportViewerFunction.Arn>"),
        }
    if function in {"TriggerMismatchFunction", "RemediateFunction"}:
        # a subscriber's own DAM connection is read from the drift check's input (damdrift.subscriber_dam)
        expected |= {("states:DescribeExecution", DRIFT_CHECK_EXECUTIONS)}
    if function == "RemediateFunction":
        expected |= {
            ("s3:GetObject", "<ReportBucket.Arn>/remediations/*"),
            ("s3:PutObject", "<ReportBucket.Arn>/remediations/*"),
            ("s3:ListBucket", "<ReportBucket.Arn>"),  # a missing marker is a 404, not a 403
        }
    if function == "RequestApprovalFunction":
        expected |= {
            ("s3:PutObject", "<ReportBucket.Arn>/approvals/*"),
            ("sns:Publish", "<DriftTopic>"),
            ("kms:GenerateDataKey", "<DataKey.Arn>"),
            ("kms:Decrypt", "<DataKey.Arn>"),
        }
    if function == "DoctorFunction":
        expected |= {
            ("lambda:GetAccountSettings", "*"),  # can the account take reserved concurrency?
            ("s3:PutObject", "<ReportBucket.Arn>/doctor/*"),
            ("sns:Publish", "<OpsTopic>"),
            ("kms:GenerateDataKey", "<DataKey.Arn>"),
            ("kms:Decrypt", "<DataKey.Arn>"),
        }
    if function == "ApproveFunction":
        expected |= {
            ("s3:GetObject", "<ReportBucket.Arn>/approvals/*"),
            ("s3:DeleteObject", "<ReportBucket.Arn>/approvals/*"),
            ("s3:ListBucket", "<ReportBucket.Arn>"),  # an unknown link is a 404, not a 403
            ("states:SendTaskSuccess", "*"),  # no resource-level permissions; no SendTaskFailure
        }
    assert permissions(default, ROLES[function]) == expected


def test_fetch_report_reads_the_ignore_rules_where_the_settings_look_and_cannot_write_them(
    default: StackView,
) -> None:
    granted = permissions(default, "FetchReportRole")
    rules = f"<ReportBucket.Arn>/{FetchReportSettings.model_fields['ignore_rules_key'].default}"
    assert ("s3:GetObject", rules) in granted
    assert {r for a, r in granted if a == "s3:PutObject"} == {
        "<ReportBucket.Arn>/reports/*",
        "<ReportBucket.Arn>/runs/*",  # its run record, for the fleet step
    }
    assert "IGNORE_RULES_KEY" not in default.function("FetchReportFunction")["Environment"]["Variables"]


def test_the_public_approval_function_has_reserved_concurrency_once_hardened(default: StackView) -> None:
    # None by default, so a new account can create it (tests/deploy/test_first_deploy.py).
    assert "ReservedConcurrentExecutions" not in default.function("ApproveFunction")
    assert stack(ApproveConcurrency="2").function("ApproveFunction")["ReservedConcurrentExecutions"] == "2"
    assert stack(ApproveConcurrency="5").function("ApproveFunction")["ReservedConcurrentExecutions"] == "5"


def test_fetch_report_may_delete_checkpoint_parts_but_no_report(default: StackView) -> None:
    """The DeleteObject patterns, checked against keys the library itself builds."""
    deletable = [
        re.compile(re.escape(resource.removeprefix("<ReportBucket.Arn>/")).replace(r"\*", ".*"))
        for action, resource in permissions(default, "FetchReportRole")
        if action == "s3:DeleteObject"
    ]
    prefix = prefix_for("dx.example.com", "8c72ef60", datetime(2026, 11, 27, tzinfo=UTC), "run-1")
    part = f"{prefix}{checkpoint.PARTS_DIRNAME}/00001/records.jsonl.gz"
    for key in (part, checkpoint.checkpoint_key(prefix)):
        assert any(p.fullmatch(key) for p in deletable), key
    kept = [prefix + "records.jsonl.gz", prefix + "report.csv", prefix + "summary.json"]
    kept.append(subscriber_prefix("dx.example.com", "8c72ef60") + "latest.json")
    for key in kept:
        assert not any(p.fullmatch(key) for p in deletable), key


#: What both state machines hold: logs, traces, SNS encryption, and starting/following subscriber
#: checks (startExecution.sync:2 needs the EventBridge managed rule, per AWS's Step Functions docs).
SUBSCRIBER_CHECK = "arn:aws:states:us-east-1:123456789012:stateMachine:dam-drift-1a2b3c4d-subscriber-check"
SUBSCRIBER_CHECK_EXECUTIONS = (
    "arn:aws:states:us-east-1:123456789012:execution:dam-drift-1a2b3c4d-subscriber-check:*"
)
DRIFT_CHECK_EXECUTIONS = "arn:aws:states:us-east-1:123456789012:execution:dam-drift-1a2b3c4d-drift-check:*"
SYNC_RULE = "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
STATE_MACHINE_BASE = (
    {("kms:GenerateDataKey", "<DataKey.Arn>"), ("kms:Decrypt", "<DataKey.Arn>")}
    | {
        (action, "*")
        for action in STAR_RESOURCE_ACTIONS - {"states:SendTaskSuccess", "lambda:GetAccountSettings"}
    }
    | {("states:StartExecution", SUBSCRIBER_CHECK)}
    | {
        ("states:DescribeExecution", SUBSCRIBER_CHECK_EXECUTIONS),
        ("states:StopExecution", SUBSCRIBER_CHECK_EXECUTIONS),
    }
    | {("events:PutTargets", SYNC_RULE), ("events:PutRule", SYNC_RULE), ("events:DescribeRule", SYNC_RULE)}
)


def test_the_drift_check_holds_exactly_its_permissions(default: StackView) -> None:
    expected = STATE_MACHINE_BASE | {
        ("lambda:InvokeFunction", "<AuthenticateFunction.Arn>"),
        ("lambda:InvokeFunction", "<SummariseRunFunction.Arn>"),
        ("sns:Publish", "<OpsTopic>"),
    }
    assert permissions(default, "StateMachineRole") == expected


def test_a_subscriber_check_holds_exactly_its_permissions(default: StackView) -> None:
    steps = [f for f in STEP_FUNCTIONS if f not in DRIFT_CHECK_FUNCTIONS]
    expected = STATE_MACHINE_BASE | {("lambda:InvokeFunction", f"<{f}.Arn>") for f in steps}
    expected |= {("sns:Publish", "<DriftTopic>"), ("sns:Publish", "<OpsTopic>")}
    assert permissions(default, "SubscriberCheckRole") == expected


def test_the_roles_name_the_subscriber_check_as_it_is_named(default: StackView) -> None:
    assert default.props("SubscriberCheckStateMachine")["Name"] == "dam-drift-1a2b3c4d-subscriber-check"
    assert (
        default.props("DriftCheckStateMachine")["DefinitionSubstitutions"]["SubscriberCheckStateMachineArn"]
        == "<SubscriberCheckStateMachine>"
    )


def test_key_grants_are_conditioned_on_the_service_that_uses_them(default: StackView) -> None:
    for role in [*ROLES.values(), "StateMachineRole", "SubscriberCheckRole"]:
        for document in [p["PolicyDocument"] for p in default.props(role).get("Policies", [])] + [
            default.props("FunctionBasePolicy")["PolicyDocument"],
            default.props("StateMachineBasePolicy")["PolicyDocument"],
        ]:
            for statement in statements(document):
                if any(a.startswith("kms:") for a in as_list(statement["Action"])):
                    via = statement["Condition"]["StringEquals"]["kms:ViaService"]
                    assert via in {"secretsmanager.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com"}
    secret_grant = next(
        s
        for s in statements(default.props("FunctionBasePolicy")["PolicyDocument"])
        if s.get("Sid") == "DecryptDxCredentialsViaSecretsManager"
    )
    assert (
        secret_grant["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"]
        == "<DxCredentialsSecret>"
    )


def test_an_existing_secret_is_read_instead_and_its_own_key_is_granted() -> None:
    view = stack(
        ExistingCredentialsSecretArn=EXISTING_SECRET, ExistingCredentialsSecretKmsKeyArn=EXISTING_KEY
    )
    assert "DxCredentialsSecret" not in view.resources
    assert permissions(view, "AuthenticateRole") == (
        {("secretsmanager:GetSecretValue", EXISTING_SECRET), ("kms:Decrypt", EXISTING_KEY)}
        | TRACES
        | own_logs("AuthenticateFunction")
    )
    assert view.outputs["CredentialsSecretArn"]["Value"] == EXISTING_SECRET
    # a key ARN given without an existing secret grants nothing: the stack's own key is used then
    assert permissions(stack(ExistingCredentialsSecretKmsKeyArn=EXISTING_KEY), "AuthenticateRole") == (
        SECRET_READ | TRACES | own_logs("AuthenticateFunction")
    )
    for function in FUNCTIONS:
        assert view.function(function)["Environment"]["Variables"]["CREDENTIALS_SECRET"] == EXISTING_SECRET


def test_only_fetch_report_touches_reports_and_the_remediation_functions_only_their_prefixes(
    any_stack: StackView,
) -> None:
    """And the fleet step: the run records and run.json, and of reports/ only the overview (rows read,
    the page written)."""
    own_prefix = {
        "RemediateFunction": "remediations/",
        "RequestApprovalFunction": "approvals/",
        "ApproveFunction": "approvals/",
        "DoctorFunction": "doctor/",
    }
    for function, role in ROLES.items():
        s3 = {(a, r) for a, r in permissions(any_stack, role) if a.startswith("s3:")}
        if function == "FetchReportFunction":
            continue
        if function == "SummariseRunFunction":
            assert {r for a, r in s3 if a != "s3:ListBucket"} == {
                "<ReportBucket.Arn>/runs/*",
                "<ReportBucket.Arn>/reports/*/overview.json",
                "<ReportBucket.Arn>/reports/*/overview.html",
            }
            assert ("s3:PutObject", "<ReportBucket.Arn>/reports/*/overview.json") not in s3
            continue
        if function not in own_prefix:
            assert not s3, function
            continue
        objects = {r for a, r in s3 if a != "s3:ListBucket"}
        assert objects == {f"<ReportBucket.Arn>/{own_prefix[function]}*"}, function


def statements_of(view: StackView, role: str) -> list[dict[str, Any]]:
    return [s for p in view.props(role).get("Policies", []) for s in statements(p["PolicyDocument"])]


def test_roles_trust_only_their_service_and_take_the_permissions_boundary() -> None:
    boundary = EVERYTHING["PermissionsBoundaryArn"]
    view = stack(PermissionsBoundaryArn=boundary, VpcSubnetIds="subnet-0a", VpcSecurityGroupIds="sg-0c")
    for logical_id, role in view.of_type("AWS::IAM::Role").items():
        trust = statements(role["Properties"]["AssumeRolePolicyDocument"])
        assert len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRole", logical_id
        service = "states" if logical_id in {"StateMachineRole", "SubscriberCheckRole"} else "lambda"
        assert trust[0]["Principal"] == {"Service": f"{service}.amazonaws.com"}, logical_id
        assert role["Properties"]["PermissionsBoundary"] == boundary, logical_id
    schedule = view.props("DriftCheckStateMachine")["Events"]["Schedule"]["Properties"]
    assert schedule["PermissionsBoundary"] == boundary
    assert "PermissionsBoundary" not in stack().props("AuthenticateRole")


def test_functions_join_the_vpc_only_when_subnets_are_given() -> None:
    eni = "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
    outside = stack()
    assert "VpcConfig" not in outside.function("AuthenticateFunction")
    assert eni not in outside.props("AuthenticateRole")["ManagedPolicyArns"]
    inside = stack(VpcSubnetIds="subnet-0a,subnet-0b", VpcSecurityGroupIds="sg-0c")
    for function in FUNCTIONS:
        assert inside.function(function)["VpcConfig"] == {
            "SubnetIds": ["subnet-0a", "subnet-0b"],
            "SecurityGroupIds": ["sg-0c"],
        }
        assert eni in inside.props(ROLES[function])["ManagedPolicyArns"]


# ------------------------------------------------------------------------------------------ storage


def test_report_bucket_denies_every_request_without_tls(default: StackView) -> None:
    policy = default.props("ReportBucketPolicy")
    assert policy["Bucket"] == "<ReportBucket>"
    (deny,) = [s for s in statements(policy["PolicyDocument"]) if s["Sid"] == "DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert set(deny["Resource"]) == {"<ReportBucket.Arn>", "<ReportBucket.Arn>/*"}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_approval_roles_read_file_or_list_approval_requests(default: StackView) -> None:
    """Whatever identity policies elsewhere allow (ReadOnlyAccess...): the bucket policy denies the rest."""
    by_sid = {s["Sid"]: s for s in statements(default.props("ReportBucketPolicy")["PolicyDocument"])}
    approvals = "<ReportBucket.Arn>/approvals/*"
    expected = {
        "OnlyApproveReadsApprovalRequests": (["s3:GetObject", "s3:GetObjectVersion"], approvals),
        "OnlyRequestApprovalFilesApprovalRequests": ("s3:PutObject", approvals),
        "OnlyTheApprovalRolesListApprovalRequests": ("s3:ListBucket", "<ReportBucket.Arn>"),
    }
    for sid, (action, resource) in expected.items():
        deny = by_sid[sid]
        assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"]) == (
            "Deny",
            "*",
            action,
            resource,
        ), sid
    exempt = {sid: as_list(by_sid[sid]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) for sid in expected}
    assert exempt == {
        "OnlyApproveReadsApprovalRequests": ["<ApproveRole.Arn>"],
        "OnlyRequestApprovalFilesApprovalRequests": ["<RequestApprovalRole.Arn>"],
        "OnlyTheApprovalRolesListApprovalRequests": ["<ApproveRole.Arn>", "<RequestApprovalRole.Arn>"],
    }
    listing = by_sid["OnlyTheApprovalRolesListApprovalRequests"]["Condition"]["StringLike"]
    assert listing == {"s3:prefix": "approvals*"}
    # the exempt roles are the ones whose identity policies grant exactly that
    assert ("s3:GetObject", approvals) in permissions(default, "ApproveRole")
    assert ("s3:PutObject", approvals) in permissions(default, "RequestApprovalRole")
    for role in set(ROLES.values()) - {"ApproveRole"}:
        assert ("s3:GetObject", approvals) not in permissions(default, role), role


def test_only_this_stack_publishes_to_its_topics_and_only_this_account_subscribes(default: StackView) -> None:
    publishers = {
        "DriftTopicPolicy": [
            "<SubscriberCheckRole.Arn>",
            "<RequestApprovalRole.Arn>",
            "<SummariseRunRole.Arn>",
        ],
        "OpsTopicPolicy": [
            "<StateMachineRole.Arn>",
            "<SubscriberCheckRole.Arn>",
            "<DoctorRole.Arn>",
            "<SummariseRunRole.Arn>",
        ],
    }
    for logical_id, exempt in publishers.items():
        topic = logical_id.removesuffix("Policy")
        props = default.props(logical_id)
        assert props["Topics"] == [f"<{topic}>"]
        by_sid = {s["Sid"]: s for s in statements(props["PolicyDocument"])}
        publish = by_sid["OnlyThisStackPublishes"]
        assert (publish["Effect"], publish["Principal"], publish["Action"]) == ("Deny", "*", "sns:Publish")
        assert as_list(publish["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == exempt
        subscribe = by_sid["OnlyThisAccountSubscribes"]
        assert (subscribe["Effect"], subscribe["Action"]) == ("Deny", "sns:Subscribe")
        assert subscribe["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}
        allowed = [s for s in by_sid.values() if s["Effect"] == "Allow"]
        for statement in allowed:
            principal = statement["Principal"]
            assert principal in (
                {"AWS": "arn:aws:iam::123456789012:root"},
                {"Service": "cloudwatch.amazonaws.com"},
            ), logical_id
            if principal == {"Service": "cloudwatch.amazonaws.com"}:
                assert topic == "OpsTopic" and statement["Action"] == "sns:Publish"
                assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    ops_publish = {s["Sid"]: s for s in statements(default.props("OpsTopicPolicy")["PolicyDocument"])}
    # the alarms carry no principal ARN: exempt by service name, or they could never publish
    assert ops_publish["OnlyThisStackPublishes"]["Condition"]["StringNotEquals"] == {
        "aws:PrincipalServiceName": "cloudwatch.amazonaws.com"
    }
    # every alarm publishes to the ops topic, which lets CloudWatch in
    for logical_id, alarm in default.of_type("AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == ["<OpsTopic>"], logical_id


def test_only_fetch_report_publishes_to_the_chat_topic_and_only_this_account_subscribes() -> None:
    """The chat topic posts to Slack or Teams: without its own policy anyone in the account allowed
    sns:Publish could forge a notice there (issue 23 item 10). The fleet step posts the run's notices."""
    view = stack(ChatNotifications="true")
    props = view.props("ChatTopicPolicy")
    assert props["Topics"] == ["<ChatTopic>"]
    by_sid = {s["Sid"]: s for s in statements(props["PolicyDocument"])}
    publish = by_sid["OnlyThisStackPublishes"]
    assert (publish["Effect"], publish["Principal"], publish["Action"]) == ("Deny", "*", "sns:Publish")
    assert publish["Resource"] == "<ChatTopic>"
    assert publish["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": ["<FetchReportRole.Arn>", "<SummariseRunRole.Arn>"]}
    }
    subscribe = by_sid["OnlyThisAccountSubscribes"]
    assert (subscribe["Effect"], subscribe["Action"]) == ("Deny", "sns:Subscribe")
    assert subscribe["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}
    allowed = [s for s in by_sid.values() if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allowed] == [{"AWS": "arn:aws:iam::123456789012:root"}]
    assert "ChatTopicPolicy" not in stack().resources  # no chat, no topic, no policy


@pytest.mark.parametrize("chat", ["false", "true"])
def test_every_role_granted_a_topic_publish_is_let_through_by_that_topics_policy(chat: str) -> None:
    """A role's Allow is not enough: the topic policy's Deny wins, and the notices would never arrive."""
    default = stack(ChatNotifications=chat)
    for role_id in default.of_type("AWS::IAM::Role"):
        for action, resource in permissions(default, role_id):
            if action != "sns:Publish" or not resource.startswith("<"):
                continue
            topic = resource.strip("<>")
            deny = {s["Sid"]: s for s in statements(default.props(f"{topic}Policy")["PolicyDocument"])}
            exempt = as_list(deny["OnlyThisStackPublishes"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
            assert f"<{role_id}.Arn>" in exempt, (role_id, topic)


def test_report_bucket_is_versioned_private_and_encrypted(default: StackView) -> None:
    bucket = default.props("ReportBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_reports_outlive_the_stack(default: StackView) -> None:
    bucket = default.resources["ReportBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"


def test_the_secret_has_the_name_the_samples_use(default: StackView) -> None:
    sample = json.loads((ROOT / "events" / "manual-input.json").read_text(encoding="utf-8"))
    assert default.props("DxCredentialsSecret")["Name"] == "dam-drift/dx-credentials"
    assert sample.get("credentialsSecret", "dam-drift/dx-credentials") == "dam-drift/dx-credentials"


def test_report_lifecycle_follows_its_parameters() -> None:
    rules = {r["Id"]: r for r in stack().props("ReportBucket")["LifecycleConfiguration"]["Rules"]}
    assert set(rules) == {"reports", "approval-requests", "remediation-markers"}
    assert rules["approval-requests"]["Prefix"] == "approvals/"
    assert rules["approval-requests"]["ExpirationInDays"] > 7  # the longest approvalTimeoutSeconds
    rule = rules["reports"]
    assert rule["ExpirationInDays"] == "400"
    assert rule["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": "90"}]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": "30"}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    kept, *_ = stack(ReportRetentionDays="0", ReportTransitionDays="0").props("ReportBucket")[
        "LifecycleConfiguration"
    ]["Rules"]
    assert "ExpirationInDays" not in kept and "Transitions" not in kept


def test_topics_secret_and_log_groups_use_the_stack_key(default: StackView) -> None:
    for topic in ("DriftTopic", "OpsTopic"):
        assert default.props(topic)["KmsMasterKeyId"] == "<DataKey>"
    assert default.props("DxCredentialsSecret")["KmsKeyId"] == "<DataKey>"
    assert "SecretString" not in default.props("DxCredentialsSecret")  # created empty
    for logical_id, group in default.of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == "<DataKey.Arn>", logical_id
        assert group["Properties"]["RetentionInDays"] == "365", logical_id
    assert default.props("DataKey")["EnableKeyRotation"] is True


def test_key_policy_lets_cloudwatch_alarms_publish_and_logs_encrypt_only_this_stack(
    default: StackView,
) -> None:
    by_sid = {s["Sid"]: s for s in statements(default.props("DataKey")["KeyPolicy"])}
    alarms = by_sid["CloudWatchAlarmsPublishToEncryptedTopics"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}  # not another's
    logs = by_sid["CloudWatchLogsEncryptsThisStacksLogGroups"]
    scoped = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    for logical_id, group in default.of_type("AWS::Logs::LogGroup").items():
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group['Properties']['LogGroupName']}"
        assert any(re.fullmatch(p.replace("*", ".*"), arn) for p in scoped), logical_id


def test_email_subscriptions_exist_only_when_addresses_are_given(default: StackView) -> None:
    assert not default.of_type("AWS::SNS::Subscription")
    view = stack(NotificationEmail="drift@example.com", OpsNotificationEmail="ops@example.com")
    subscriptions = {
        (s["Properties"]["TopicArn"], s["Properties"]["Endpoint"])
        for s in view.of_type("AWS::SNS::Subscription").values()
    }
    assert subscriptions == {("<DriftTopic>", "drift@example.com"), ("<OpsTopic>", "ops@example.com")}


# ---------------------------------------------------------------------------------------- functions


def settings_model(view: StackView, function: str) -> type[FunctionSettings]:
    """The settings model the function's handler validates at its cold start (``XSettings.from_env()``)."""
    app = (ROOT / view.props(function)["CodeUri"] / "app.py").read_text()
    names = re.findall(r"^SETTINGS = (\w+)\.from_env\(\)$", app, re.M)
    assert len(names) == 1, f"{function}: expected one 'SETTINGS = <Model>.from_env()' in its app.py"
    model: type[FunctionSettings] = getattr(damdrift.settings, names[0])
    return model


@pytest.mark.parametrize("function", [*FUNCTIONS, "ReportViewerFunction"])
@pytest.mark.parametrize("parameters", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_every_function_gets_every_variable_its_settings_model_requires(
    function: str, parameters: dict[str, str]
) -> None:
    view = stack(**parameters)
    model = settings_model(view, function)
    env = {k: str(v) for k, v in view.function(function)["Environment"]["Variables"].items()}
    required = {field.alias for field in model.model_fields.values() if field.is_required()}
    assert "REPORT_BUCKET" in required
    assert {name for name in required if env.get(name, "") == ""} == set()  # blank is unset
    model.from_env(env)  # what the cold start runs: no ConfigurationError


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_gets_the_stacks_bucket_and_the_dx_ones_its_credentials(
    default: StackView, function: str
) -> None:
    env = {k: str(v) for k, v in default.function(function)["Environment"]["Variables"].items()}
    settings = settings_model(default, function).from_env(env)
    assert settings.report_bucket == "<ReportBucket>"
    if isinstance(settings, damdrift.settings.DxAccessSettings):
        assert settings.credentials_secret == "<DxCredentialsSecret>"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_runs_python313_with_the_layer_its_role_and_its_log_group(
    default: StackView, function: str
) -> None:
    props = default.function(function)
    assert props["Runtime"] == "python3.13"  # Amazon Linux 2023; the local venv and CI run 3.13 too
    assert props["Architectures"] == ["arm64"]
    assert props["Layers"] == ["<SharedLayer>"]
    assert props["Tracing"] == "Active"
    assert props["LoggingConfig"] == {"LogGroup": f"<{LOG_GROUPS[function]}>"}
    module, _, handler = props["Handler"].partition(".")
    source = (ROOT / props["CodeUri"] / f"{module}.py").read_text(encoding="utf-8")
    assert f"def {handler}(" in source


def test_fetch_report_is_sized_for_large_reports_and_the_others_stay_small(default: StackView) -> None:
    fetch = default.function("FetchReportFunction")
    assert int(fetch["MemorySize"]) >= 512
    assert fetch["Timeout"] == 900
    assert fetch["EphemeralStorage"]["Size"] >= 1024
    for function in FUNCTIONS[:3]:
        props = default.function(function)
        assert int(props["MemorySize"]) <= 256
        assert props["Timeout"] < fetch["Timeout"]


def test_layer_is_built_by_sam_from_its_requirements_for_the_functions_architecture() -> None:
    layer = stack(Architecture="x86_64").resources["SharedLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "x86_64"}
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    content = ROOT / layer["Properties"]["ContentUri"]
    # sam build copies ContentUri into python/: the package must sit directly in it (not in python/).
    assert (content / "damdrift" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()
    assert not (content / "python").exists()


# ------------------------------------------------------------------------------------ state machine


def test_state_machine_is_standard_logs_errors_without_execution_data_and_traces(default: StackView) -> None:
    machine = default.props("DriftCheckStateMachine")
    assert machine["Type"] == "STANDARD"
    assert (ROOT / machine["DefinitionUri"]).is_file()
    assert machine["Logging"] == {
        "Level": "ERROR",
        "IncludeExecutionData": False,
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": "<StateMachineLogGroup.Arn>"}}],
    }
    assert machine["Tracing"] == {"Enabled": True}
    name = default.props("StateMachineLogGroup")["LogGroupName"]
    assert name.startswith("/aws/vendedlogs/states/")


def test_schedule_input_for_the_default_parameters_is_the_sample_event(default: StackView) -> None:
    sample = json.loads((ROOT / "events" / "scheduled-input.json").read_text(encoding="utf-8"))
    assert schedule_input(default) == sample


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {}),
        ({"DxPort": "10039"}, {"publisher.dxPort": 10039}),
        (
            {"DxProtocol": "http", "RingApiPort": "10039", "DamApiPort": "3000", "DamApiVersion": "v2"},
            {"publisher.ringAPIPort": 10039, "publisher.damAPIPort": 3000, "publisher.damAPIVersion": "v2"},
        ),
        (
            {"SubscriberIds": "8c72ef60-e8d4-425d-903a-232bb8726222, sub.two"},
            {"subscriberIds": ["8c72ef60-e8d4-425d-903a-232bb8726222", "sub.two"]},
        ),
        (
            {"PollMaxDurationSeconds": "600", "MaxConcurrency": "5", "NotifyPolicy": "always"},
            {"poll.maxDurationSeconds": 600, "maxConcurrency": 5, "notifyPolicy": "always"},
        ),
        (
            {"BusyPolicy": "report", "DxHostname": "10.0.0.7"},
            {"busyPolicy": "report", "publisher.hostname": "10.0.0.7"},
        ),
    ],
)
def test_schedule_input_is_a_valid_execution_input_for_the_parameters(
    overrides: dict[str, str], expected: dict[str, Any]
) -> None:
    document = schedule_input(stack(**overrides))
    CheckInput.model_validate(document)  # unknown fields and non-integer ports are rejected
    for path, value in expected.items():
        node: Any = document
        for part in path.split("."):
            node = node[part]
        assert node == value and type(node) is type(value), path
    for port in ("dxPort", "ringAPIPort", "damAPIPort"):
        assert port in document["publisher"] or f"publisher.{port}" not in expected


def schedule_state(**overrides: str) -> str:
    schedule = stack(**overrides).props("DriftCheckStateMachine")["Events"]["Schedule"]
    state: str = schedule["Properties"]["State"]
    return state


EXISTING_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dx-AbC123"


def test_schedule_is_daily_and_has_a_generated_name() -> None:
    schedule = stack().props("DriftCheckStateMachine")["Events"]["Schedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert schedule["OmitName"] is True


def test_a_new_stack_starts_with_its_schedule_disabled_while_its_own_secret_is_empty() -> None:
    """The stack creates its secret empty: a first run at 05:00 would only fail for want of credentials."""
    assert stack().raw["Parameters"]["ScheduleEnabled"]["Default"] == "auto"
    assert schedule_state() == "DISABLED"
    assert schedule_state(ScheduleEnabled="true") == "ENABLED"  # after the credentials are put in


def test_the_schedule_runs_from_the_start_with_an_existing_secret_unless_disabled() -> None:
    assert schedule_state(ExistingCredentialsSecretArn=EXISTING_SECRET) == "ENABLED"
    assert schedule_state(ExistingCredentialsSecretArn=EXISTING_SECRET, ScheduleEnabled="false") == "DISABLED"
    assert schedule_state(ScheduleEnabled="false") == "DISABLED"


def test_parameters_keep_quotes_out_of_the_schedule_json() -> None:
    """Each value the input embeds is constrained so it cannot end a JSON string or number early."""
    parameters = stack().raw["Parameters"]

    def allowed(name: str, value: str) -> bool:
        spec = parameters[name]
        if "AllowedValues" in spec:
            return value in [str(v) for v in spec["AllowedValues"]]
        return re.fullmatch(spec["AllowedPattern"], value) is not None

    for name in (
        "DxHostname",
        "DxProtocol",
        "RingApiVersion",
        "DamApiVersion",
        "SubscriberIds",
        "NotifyPolicy",
    ):
        assert not allowed(name, 'x", "evil": "1'), name
    for name in ("DxPort", "RingApiPort", "DamApiPort"):
        assert allowed(name, "") and allowed(name, "443") and allowed(name, "10039"), name
        assert not allowed(name, "0443") and not allowed(name, "443,") and not allowed(name, "4 3"), name
    for name in ("PollMaxDurationSeconds", "MaxConcurrency"):
        assert parameters[name]["Type"] == "Number"


def test_parameter_defaults_satisfy_their_own_constraints() -> None:
    for name, spec in stack().raw["Parameters"].items():
        if "Default" not in spec:
            assert name == "DxHostname"  # required: a deploy must name the publisher
            continue
        default = str(spec["Default"])
        values = default.split(",") if spec["Type"] == "CommaDelimitedList" else [default]
        for value in values:
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), name
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], name
            if "MinValue" in spec:
                assert float(value) >= spec["MinValue"], name
            if "MaxValue" in spec:
                assert float(value) <= spec["MaxValue"], name


# --------------------------------------------------------------------------- alarms, outputs, config


def test_failed_timed_out_and_aborted_executions_alarm_the_ops_topic(default: StackView) -> None:
    alarms = default.of_type("AWS::CloudWatch::Alarm")
    watched = {
        (a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]) for a in alarms.values()
    }
    # A subscriber check that fails as a whole is caught by the drift check (the others go on), so
    # it has an alarm of its own.
    assert watched == {
        ("ExecutionsFailed", "<DriftCheckStateMachine>"),
        ("ExecutionsTimedOut", "<DriftCheckStateMachine>"),
        ("ExecutionsAborted", "<DriftCheckStateMachine>"),
        ("ExecutionsFailed", "<SubscriberCheckStateMachine>"),
    }
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["Namespace"] == "AWS/States"
        assert props["Dimensions"][0]["Name"] == "StateMachineArn" and len(props["Dimensions"]) == 1
        assert props["AlarmActions"] == ["<OpsTopic>"]
        assert props["TreatMissingData"] == "notBreaching"
    everything = stack(**EVERYTHING)
    assert "FunctionErrorsAlarm" in everything.resources and "Dashboard" in everything.resources
    json.loads(everything.props("Dashboard")["DashboardBody"])


def test_the_function_errors_alarm_watches_every_function_a_state_machine_invokes() -> None:
    """A step that raises (the fleet step, the approval request) reaches ops through the alarm too."""
    everything = stack(**EVERYTHING)
    invoked = {
        value.strip("<>").removesuffix(".Arn")
        for machine in ("DriftCheckStateMachine", "SubscriberCheckStateMachine")
        for value in everything.props(machine)["DefinitionSubstitutions"].values()
        if isinstance(value, str) and value.endswith("Function.Arn>")
    }
    watched = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"].strip("<>")
        for query in everything.props("FunctionErrorsAlarm")["Metrics"]
        if "MetricStat" in query
    }
    assert invoked and invoked <= watched, invoked - watched


def test_outputs_name_the_state_machine_bucket_topics_and_secret(default: StackView) -> None:
    values = {name: output["Value"] for name, output in default.outputs.items()}
    assert values["StateMachineArn"] == "<DriftCheckStateMachine>"
    assert values["ReportBucketName"] == "<ReportBucket>"
    assert values["DriftTopicArn"] == "<DriftTopic>"
    assert values["OpsTopicArn"] == "<OpsTopic>"
    assert values["CredentialsSecretArn"] == "<DxCredentialsSecret>"


def test_every_checkov_suppression_says_why() -> None:
    for logical_id, resource in stack(**EVERYTHING).raw["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical_id
            assert len(skip.get("comment", "").strip()) > 40, f"{logical_id} {skip['id']}"


def test_the_deploy_guide_documents_every_parameter_and_output(default: StackView) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    table = re.split(r"## \d+\. Parameters", guide, maxsplit=1)[1].split("\n## ", 1)[0]
    for name in default.raw["Parameters"]:
        assert f"`{name}`" in table, f"{name} is missing from docs/deploy.md's parameter table"
    for name in default.outputs:
        assert name in guide, f"output {name} is not mentioned in docs/deploy.md"


def test_samconfig_has_guided_deploy_defaults() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert config["default"]["global"]["parameters"]["stack_name"] == "dam-drift"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True


def test_remediation_roles_reach_only_their_own_prefixes_and_the_approver_only_answers(
    default: StackView,
) -> None:
    assert permissions(default, "RemediateRole") >= {
        ("s3:GetObject", "<ReportBucket.Arn>/remediations/*"),
        ("s3:PutObject", "<ReportBucket.Arn>/remediations/*"),
    }
    assert not any(
        resource.endswith("/*") and "remediations/" not in resource
        for _, resource in permissions(default, "RemediateRole")
        if resource.startswith("<ReportBucket.Arn>")
    )
    approver = permissions(default, "ApproveRole")
    assert ("s3:DeleteObject", "<ReportBucket.Arn>/approvals/*") in approver
    assert {a for a, _ in approver if a.startswith("states:")} == {"states:SendTaskSuccess"}
    requester = permissions(default, "RequestApprovalRole")
    assert ("sns:Publish", "<DriftTopic>") in requester
    assert ("s3:PutObject", "<ReportBucket.Arn>/approvals/*") in requester


def test_the_approval_link_is_a_function_url_the_request_function_knows(default: StackView) -> None:
    url = default.props("ApproveFunctionUrl")
    assert url == {"TargetFunctionArn": "<ApproveFunction>", "AuthType": "NONE"}
    public = [p["Properties"] for p in default.of_type("AWS::Lambda::Permission").values()]
    assert {
        "Action": "lambda:InvokeFunctionUrl",
        "FunctionName": "<ApproveFunction>",
        "FunctionUrlAuthType": "NONE",
        "Principal": "*",
    } in public
    direct = [p for p in public if p["Action"] == "lambda:InvokeFunction" and "Approve" in p["FunctionName"]]
    assert direct == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": "<ApproveFunction>",
            "InvokedViaFunctionUrl": True,
            "Principal": "*",
        }
    ]  # never a direct Invoke
    substitutions = default.props("SubscriberCheckStateMachine")["DefinitionSubstitutions"]
    assert substitutions["ApprovalUrl"] == "<ApproveFunctionUrl.FunctionUrl>"
    assert default.outputs["ApprovalUrl"]["Value"] == "<ApproveFunctionUrl.FunctionUrl>"


def test_the_doctor_function_probes_the_publisher_the_schedule_checks() -> None:
    from damdrift.settings import DoctorSettings

    view = stack(DxHostname="dx.example.com", DxPort="8443", DamApiPort="3000")
    env = view.function("DoctorFunction")["Environment"]["Variables"]

    publisher = DoctorSettings.from_env({k: str(v) for k, v in env.items()}).publisher
    assert publisher is not None
    assert publisher.model_dump(by_alias=True, exclude_none=True) == {
        **schedule_input(view)["publisher"],
        "verifyTls": True,
    }
    assert view.props("DoctorFunction")["Timeout"] == 900
    assert "DoctorFunction" not in json.dumps(view.props("DriftCheckStateMachine"))


#: What a first deploy must be told (docs/deploy.md "First deploy: four questions"); nothing else.
FIRST_DEPLOY_QUESTIONS = [
    "DxHostname",
    "DxPort",
    "SubscriberIds",
    "NotificationEmail",
    "OpsNotificationEmail",
]


def deploy_guide_parameter_defaults() -> dict[str, str]:
    """``parameter -> default`` from the guide's parameter table (``empty`` is the empty string)."""
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    table = guide[guide.index("## 7. Parameters") :].split("\n## ")[0]
    defaults = {}
    for row in re.findall(r"^\| (`[A-Za-z]+`(?:, `[A-Za-z]+`)*) \| ([^|]+) \|", table, re.MULTILINE):
        names, default = row
        cell = default.strip()
        if cell.startswith("empty"):
            cell = ""
        value = cell.strip("`") if re.fullmatch(r"`[^`]*`", cell) else cell
        for name in re.findall(r"`([A-Za-z]+)`", names):
            defaults[name] = value
    return defaults


def test_every_parameter_but_the_publisher_has_a_safe_default(default: StackView) -> None:
    parameters = default.raw["Parameters"]
    assert [name for name, spec in parameters.items() if "Default" not in spec] == ["DxHostname"]


def test_the_deploy_guide_leads_with_the_first_deploy_questions(default: StackView) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    first_section = guide.split("\n## ")[1]
    assert first_section.startswith("First deploy")
    for name in FIRST_DEPLOY_QUESTIONS:
        assert f"`{name}`" in first_section, name
        assert name in default.raw["Parameters"], name
    assert "ScheduleEnabled=true" in first_section  # how the schedule is turned on once credentials exist


def test_the_deploy_guide_lists_every_parameter_with_the_templates_default(default: StackView) -> None:
    documented = deploy_guide_parameter_defaults()
    parameters = default.raw["Parameters"]
    assert documented.keys() == parameters.keys()
    for name, spec in parameters.items():
        if "Default" in spec:
            assert documented[name] == str(spec["Default"]), name


# ------------------------------------------------------------- what the stack allows the input to ask


def test_the_stack_caps_remediation_at_ask_unless_deployed_with_another_ceiling() -> None:
    """MaxRemediation bounds what an execution input may order (issue 23 item 3); only the two functions
    that act on it read it."""
    spec = stack().raw["Parameters"]["MaxRemediation"]
    assert (spec["Default"], spec["AllowedValues"]) == ("ask", ["never", "ask", "auto"])
    for overrides, expected in (({}, "ask"), ({"MaxRemediation": "auto"}, "auto")):
        view = stack(**overrides)
        for function in ("AuthenticateFunction", "RemediateFunction"):
            variables = view.function(function)["Environment"]["Variables"]
            assert variables["MAX_REMEDIATION"] == expected, function
            settings = settings_model(view, function).from_env({k: str(v) for k, v in variables.items()})
            assert isinstance(settings, RemediationLimits) and settings.max_remediation == expected


def test_two_way_staging_subscribers_are_a_stack_parameter_the_remediation_functions_read() -> None:
    spec = stack().raw["Parameters"]["TwoWaySubscribers"]
    assert spec["Type"] == "CommaDelimitedList" and spec["Default"] == ""
    assert not re.fullmatch(spec["AllowedPattern"], 'x", "evil": "1')
    view = stack(TwoWaySubscribers="sub-1,8c72ef60-e8d4-425d-903a-232bb8726222")
    for function in ("AuthenticateFunction", "RemediateFunction"):
        variables = view.function(function)["Environment"]["Variables"]
        assert variables["TWO_WAY_SUBSCRIBERS"] == "sub-1,8c72ef60-e8d4-425d-903a-232bb8726222"
        settings = settings_model(view, function).from_env({k: str(v) for k, v in variables.items()})
        assert isinstance(settings, RemediationLimits)
        assert settings.two_way_subscribers == {"sub-1", "8c72ef60-e8d4-425d-903a-232bb8726222"}


def dx_settings(view: StackView, function: str = "AuthenticateFunction") -> Any:
    variables = view.function(function)["Environment"]["Variables"]
    return settings_model(view, function).from_env({k: str(v) for k, v in variables.items()})


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"DxPort": "10039"},
        {"RingApiPort": "10039", "DamApiPort": "3000"},
        {"DxProtocol": "http", "DxPort": "8080", "AllowInsecureDx": "true"},
    ],
)
def test_the_stacks_secret_goes_to_the_publishers_host_and_ports_and_nowhere_else(
    overrides: dict[str, str],
) -> None:
    """Issue 23 item 11: the schedule's publisher passes; the same host on another port does not."""
    view = stack(DxHostname="dx.example.com", **overrides)
    settings = dx_settings(view)
    publisher = DxConnection.model_validate(schedule_input(view)["publisher"])
    settings.permit(publisher, "publisher", settings.credentials_secret)
    for port_field in ("ringAPIPort", "damAPIPort"):
        moved = publisher.model_copy(update={port_field.replace("API", "_api_").lower(): 8443})
        with pytest.raises(InvalidInput, match=rf"publisher\.{port_field}: port 8443"):
            settings.permit(moved, "publisher", settings.credentials_secret)


def test_allowed_dx_hosts_take_a_port_and_refuse_anything_else() -> None:
    pattern = stack().raw["Parameters"]["AllowedDxHosts"]["AllowedPattern"]
    for good in ("", "dam-sub.example.com", "dam-sub.example.com:8443"):
        assert re.fullmatch(pattern, good), good
    for bad in ("dam-sub.example.com:0", "https://dam-sub.example.com", "*", "dam:80:81", 'x", "a'):
        assert not re.fullmatch(pattern, bad), bad
    view = stack(DxHostname="dx.example.com", AllowedDxHosts="dam-sub.example.com:8443")
    dam = DxConnection.model_validate({"hostname": "dam-sub.example.com", "dxPort": 8443})
    settings = dx_settings(view, "RemediateFunction")
    settings.permit(dam, "subscriberOptions.s.dam", settings.credentials_secret)


def test_extra_secrets_are_read_by_the_dx_functions_only_and_each_goes_only_to_its_hosts() -> None:
    """Issue 25 item 9, issue 22 item 10: a subscriber DAM's own secret is a parameter, not a role edit."""
    assert "ReadExtraDxCredentials" not in json.dumps(stack().props("FunctionBasePolicy"))
    view = stack(
        DxHostname="dx.example.com",
        ExtraCredentialsSecretArns=EXTRA_SECRETS,
        ExtraCredentialsSecretHosts="dam-sub1.example.com,dam-sub2.example.com:8443+dam-sub2b.example.com",
    )
    arns = EXTRA_SECRETS.split(",")
    for function in FUNCTIONS:
        granted = {r for a, r in permissions(view, ROLES[function]) if a == "secretsmanager:GetSecretValue"}
        if function in {"RequestApprovalFunction", "ApproveFunction", "SummariseRunFunction"}:
            assert not granted & set(arns), function
        else:
            assert granted >= set(arns), function
    settings = dx_settings(view, "RemediateFunction")
    sub2 = DxConnection.model_validate({"hostname": "dam-sub2.example.com", "dxPort": 8443})
    settings.permit(sub2, "subscriberOptions.s.dam", "dam-drift/sub2")
    with pytest.raises(InvalidInput, match=r"dam-sub2\.example\.com"):
        settings.permit(sub2, "subscriberOptions.s.dam", "dam-drift/sub1")
    for name in ("ExtraCredentialsSecretArns", "ExtraCredentialsSecretHosts"):
        assert stack().raw["Parameters"][name]["Default"] == ""


def test_an_input_may_name_only_the_ca_bundles_shipped_in_the_layer() -> None:
    view = stack(DxHostname="dx.example.com")
    settings = dx_settings(view)
    assert settings.dx_ca_bundles == ("/opt/python/ca-bundles",)  # layers/shared/ca-bundles/ after sam build
    for path in ("/proc/self/environ", "/opt/python/ca-bundles/../damdrift/__init__.py", "/var/task/app.py"):
        publisher = DxConnection.model_validate({"hostname": "dx.example.com", "caBundle": path})
        with pytest.raises(InvalidInput, match=r"publisher\.caBundle"):
            settings.permit(publisher, "publisher", settings.credentials_secret)


def test_the_security_guides_guardrail_covers_the_history_that_holds_the_approval_token() -> None:
    """Issue 23 item 9: the task token is in the TaskScheduled event of the subscriber check's history;
    the documented guardrail must deny reading exactly those executions (and be a valid policy)."""
    from parliament import analyze_policy_string

    definition = (ROOT / "statemachine" / "subscriber_check.asl.json").read_text(encoding="utf-8")
    assert "lambda:invoke.waitForTaskToken" in definition and '"taskToken.$": "$$.Task.Token"' in definition
    guide = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    policy = json.loads(guide.split("```json\n", 1)[1].split("```", 1)[0])
    assert not analyze_policy_string(json.dumps(policy)).findings
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    history = by_sid["DamDriftApprovalTokensStayInTheHistory"]
    assert (history["Effect"], history["Action"]) == ("Deny", ["states:GetExecutionHistory"])
    name = stack().props("SubscriberCheckStateMachine")["Name"]  # the stack named dam-drift, as the guide's
    account_region = "eu-central-1:111122223333"
    assert history["Resource"] == f"arn:aws:states:{account_region}:execution:{name}:*"
    for where in (guide, (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")):
        assert "GetExecutionHistory" in where and "SendTaskSuccess" in where
