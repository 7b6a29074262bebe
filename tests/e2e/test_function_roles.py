"""The local run enforces each function's own role from template.yaml (damdrift_cli.local.roles).

A template whose role lacks one grant (a fixture: template.yaml with one statement removed) makes the
function that needs it fail with AccessDenied, as on AWS; with the real template the same checks pass
(every other e2e test runs under the same enforcement).
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from damdrift.dx.sessions import forget_all
from damdrift_cli.local import roles
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.local.template import PROJECT_ROOT, load_template
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT, check_input, stack_of
from tests.e2e.test_drift_check import DRIFT


def without_statement(resource: str, sid: str) -> Callable[[dict[str, Any]], None]:
    def remove(template: dict[str, Any]) -> None:
        props = template["Resources"][resource]["Properties"]
        documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
        # A conditional policy (!If [..., policy, NoValue]) holds its document one level down.
        for policy in props.get("Policies", []):
            branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
            documents += [b["PolicyDocument"] for b in branches if "PolicyDocument" in b]
        for document in documents:
            kept = [s for s in document["Statement"] if not (isinstance(s, dict) and s.get("Sid") == sid)]
            if len(kept) < len(document["Statement"]):
                document["Statement"] = kept
                return
        raise AssertionError(f"{resource} has no statement {sid}")

    return remove


def template_without(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """template.yaml with ``change`` applied, beside links to the code it names."""
    template = load_template()
    change(template)
    for folder in ("functions", "layers", "statemachine"):
        (tmp_path / folder).symlink_to(PROJECT_ROOT / folder)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def local(publisher: Simulator) -> Iterator[Callable[[Path], LocalAws]]:
    forget_all()
    yield lambda template: LocalAws(
        {"username": publisher.username, "password": publisher.password},
        parameters=stack_of(publisher),
        retry_time_scale=0.01,
        function_env=FAST_CLIENT,
        template_path=template,
    )
    forget_all()


def test_a_function_whose_role_cannot_read_the_secret_fails_with_access_denied(
    publisher: Simulator, local: Callable[[Path], LocalAws], tmp_path: Path
) -> None:
    publisher.add_subscriber("sub.example.com")
    template = template_without(tmp_path, without_statement("FunctionBasePolicy", "ReadDxCredentials"))

    with local(template) as aws:
        run = aws.run_check(check_input(publisher))

    assert (run.status, run.error) == ("FAILED", "CredentialsError")
    assert "could not be read (403)" in (run.cause or "")  # AccessDenied: the role lacks GetSecretValue
    assert publisher.password not in (run.cause or "")


def test_fetch_report_without_its_report_grant_cannot_store_the_report(
    publisher: Simulator, local: Callable[[Path], LocalAws], tmp_path: Path
) -> None:
    publisher.add_subscriber("sub.example.com", drift=DRIFT)
    template = template_without(tmp_path, without_statement("FetchReportRole", "ReportObjects"))

    with local(template) as aws:
        aws.run_check(check_input(publisher))
        stored = aws.client("s3").list_objects_v2(Bucket=aws.deployment.bucket, Prefix="reports/")

    denied = [i for i in aws.deployment.lambdas.invocations if "AccessDenied" in i.payload]
    assert denied and all(i.function.endswith("FetchReportFunction") for i in denied)
    assert stored.get("KeyCount", 0) == 0


def test_the_roles_moto_enforces_are_the_templates_and_what_it_cannot_check_is_known(
    publisher: Simulator, local: Callable[[Path], LocalAws]
) -> None:
    with local(PROJECT_ROOT / "template.yaml") as aws:
        policies = aws.deployment.role_policies

    assert set(policies) == {
        "AuthenticateRole",
        "TriggerMismatchRole",
        "PollStatusRole",
        "FetchReportRole",
        "RemediateRole",
        "RequestApprovalRole",
        "ApproveRole",
        "StateMachineRole",
        "SubscriberCheckRole",
        "DoctorRole",
        "ReportViewerRole",
        "SummariseRunRole",
    }
    template = load_template()
    fetch = template["Resources"]["FetchReportRole"]["Properties"]["Policies"]
    assert any(p["PolicyName"] == "store-reports" for p in fetch)
    s3 = {
        (a, r)
        for d in policies["FetchReportRole"]
        for s in d["Statement"]
        for a in roles._as_list(s["Action"])
        for r in roles._as_list(s["Resource"])
        if a.startswith("s3:")
    }
    # S3 is checked with its object ARNs: only reports/ and the ignore rules
    assert ("s3:PutObject", "arn:aws:s3:::dam-drift-local-reportbucket/reports/*") in s3
    assert ("s3:GetObject", "arn:aws:s3:::dam-drift-local-reportbucket/config/ignore-rules.json") in s3
    assert not any(r.endswith("/approvals/*") for _, r in s3)


def test_each_function_keeps_clients_made_with_its_own_role(
    publisher: Simulator, local: Callable[[Path], LocalAws]
) -> None:
    """boto3's default session caches the first credentials it resolves: shared by the in-process
    functions, the first function's role would serve them all (remediate then read its markers as
    fetch-report and was refused). Each function gets its own, as its own container on AWS."""
    publisher.add_subscriber("sub.example.com", drift=DRIFT)

    with local(PROJECT_ROOT / "template.yaml") as aws:
        run = aws.run_check(check_input(publisher))
        lambdas = aws.deployment.lambdas
        # the credentials each session resolved while its function made a client (botocore caches them)
        resolved = {name: s._session._credentials for name, s in lambdas._sessions.items()}
        keys = {name: c.access_key for name, c in resolved.items() if c is not None}
        own = {name: lambdas.functions[name].environment["AWS_ACCESS_KEY_ID"] for name in keys}

    assert run.status == "SUCCEEDED", run.cause
    assert "dam-drift-local-FetchReportFunction" in keys  # its S3 client comes from the default session
    assert keys == own  # each session holds its own function's role credentials
    assert roles.OPERATOR_KEY[0] not in keys.values()
