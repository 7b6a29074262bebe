"""Every IAM policy a template creates, checked against AWS's action/resource catalogue (parliament).

parliament (pinned in requirements-dev.txt) carries the IAM definition of every service's actions,
their resource types and condition keys, and flags what cfn-lint and checkov do not look at: an action
that does not exist, a resource ARN that no resource type of the action matches (``RESOURCE_MISMATCH``,
e.g. ``states:SendTaskSuccess`` scoped to a state machine: the action has no resource type, so such a
statement never matches and every call is AccessDenied), a condition key the action does not take, a
malformed ARN. Chosen over policy_sentry, whose IAM database answers queries but has no checker: we
would have had to write the matching ourselves.

Checked: identity policies (roles' inline policies, managed policies, ``AWS::IAM::Policy``), the
bucket policy, topic policies, the KMS key policy and ``AWS::Lambda::Permission`` (as
the resource policy Lambda writes for it). ``template.yaml`` itself (``make test``) and its SAM
translation (``scripts/check-template.sh``: adds the roles SAM generates, e.g. the schedule's).

Intrinsics are resolved the way CloudFormation would (the local run's resolver), each resource's
``Ref``/``GetAtt`` answering a realistic ARN of its type, so the catalogue's ARN patterns apply.

A finding that is by design is suppressed on the resource itself, with its reason::

    Metadata:
      parliament:
        ignore:
          - issue: RESOURCE_STAR
            sid: CloudWatchAlarmsPublishToEncryptedTopics   # optional: only this statement
            reason: in a key policy "*" means this key

    python -m tests.deploy.policy_catalogue TEMPLATE [Name=Value ...]   # exit 1 on any finding
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string

from damdrift_cli.local.template import evaluate_conditions, load_template, parameter_values, resolve

REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "dam-drift"
REQUIRED = {"DxHostname": "dx.example.com"}
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1a2b3c4d-5e6f-4a7b",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class PolicyDocument:
    """One policy as AWS will hold it: where it comes from, and its JSON."""

    resource: str  # logical id
    kind: str  # identity, bucket, topic, key, lambda-permission
    document: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    resource: str
    kind: str
    issue: str
    detail: Any
    sid: str | None

    def __str__(self) -> str:
        where = f"{self.resource} ({self.kind}{', ' + self.sid if self.sid else ''})"
        return f"{where}: {self.issue} {json.dumps(self.detail, default=str)}"


def _physical(logical_id: str, resource: Mapping[str, Any], attribute: str | None) -> str:
    """A realistic ``Ref`` or ``GetAtt`` value for a resource of this type."""
    kind = resource["Type"]
    props = resource.get("Properties", {})
    name = f"{STACK}-{logical_id}-ABCDEF123456"
    arn = {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name.lower()}",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{name}:*",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1",
        "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1",
        "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
        "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
        "AWS::Scheduler::Schedule": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}",
    }.get(kind, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:resource/{name}")
    if attribute is None:
        by_name = {"AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::S3::Bucket"}
        if kind == "AWS::KMS::Key":
            return arn.rsplit("/", 1)[1]
        if kind == "AWS::Logs::LogGroup":
            return (
                str(props.get("LogGroupName", name)) if isinstance(props.get("LogGroupName"), str) else name
            )
        return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if kind in by_name else arn
    if attribute == "FunctionUrl":
        return "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"
    if attribute == "Name":
        return name
    return arn


def documents(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> list[PolicyDocument]:
    """Every policy document of ``template`` (SAM or its translation), resolved for ``parameters``."""
    resources: Mapping[str, Any] = template["Resources"]
    # A translated fixture may declare no parameters; CloudFormation refuses a value for an undeclared one.
    required = {k: v for k, v in REQUIRED.items() if k in template.get("Parameters", {})}
    params = parameter_values(template, {**required, **(parameters or {})})

    def lookup(logical_id: str, attribute: str | None) -> Any:
        if attribute is None and logical_id in PSEUDO:
            return PSEUDO[logical_id]
        if attribute is None and logical_id in params:
            return params[logical_id]
        if logical_id not in resources:
            raise KeyError(f"{logical_id} is neither a parameter nor a resource")
        return _physical(logical_id, resources[logical_id], attribute)

    conditions = evaluate_conditions(template, lookup)
    found = []
    for logical_id, raw in resources.items():
        if not conditions.get(raw.get("Condition", ""), True):
            continue
        # Resolved first: a policy may be there only under a condition (!If [..., policy, NoValue]).
        props = resolve(raw.get("Properties", {}), lookup, conditions)
        for kind, document in _policies(raw["Type"], props, logical_id, lookup):
            found.append(PolicyDocument(logical_id, kind, document))
    return found


def _policies(
    kind: str, props: Mapping[str, Any], logical_id: str, lookup: Any
) -> Iterator[tuple[str, dict[str, Any]]]:
    if kind == "AWS::IAM::Role":
        # Not the trust policy: it names no resource, which parliament's checks require
        # (test_template.py pins every trust policy instead).
        for policy in props.get("Policies", []):
            yield "identity", policy["PolicyDocument"]
    elif kind in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
        yield "identity", props["PolicyDocument"]
    elif kind == "AWS::S3::BucketPolicy":
        yield "bucket", props["PolicyDocument"]
    elif kind == "AWS::SNS::TopicPolicy":
        yield "topic", props["PolicyDocument"]
    elif kind == "AWS::KMS::Key":
        yield "key", props["KeyPolicy"]
    elif kind == "AWS::Lambda::Permission":
        yield "lambda-permission", _lambda_permission_policy(props)
    elif kind in {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"} and "Policies" in props:
        raise ValueError(f"{logical_id}: SAM-generated policies; give it an explicit Role (checked here)")


def _lambda_permission_policy(props: Mapping[str, Any]) -> dict[str, Any]:
    """The statement Lambda adds to the function's resource policy for an ``AWS::Lambda::Permission``."""
    principal = props["Principal"]
    if principal == "*":
        who: Any = "*"
    elif isinstance(principal, str) and principal.endswith(".amazonaws.com"):
        who = {"Service": principal}
    else:
        who = {"AWS": principal}
    condition: dict[str, dict[str, str]] = {}
    if "FunctionUrlAuthType" in props:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
    if props.get("InvokedViaFunctionUrl"):
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if "SourceArn" in props:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
    if "SourceAccount" in props:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
    function = props["FunctionName"]
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": who,
        "Action": props["Action"],
        # FunctionName is a name, a partial or a full ARN: the policy names the full ARN
        "Resource": function if str(function).startswith("arn:") else _function_arn(function),
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _function_arn(function: Any) -> Any:
    if isinstance(function, Mapping) and "Ref" in function:
        return {"Fn::GetAtt": [function["Ref"], "Arn"]}
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"


def check(template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> list[Finding]:
    """parliament's findings for every policy, less the ones the template suppresses with a reason.

    Each statement is analysed on its own, so a finding names the statement (its Sid) it is about.
    """
    resources: Mapping[str, Any] = template["Resources"]
    findings = []
    for policy in documents(template, parameters):
        for statement in _statements(policy.document):
            single = {"Version": policy.document.get("Version", "2012-10-17"), "Statement": [statement]}
            analysed = analyze_policy_string(json.dumps(single), ignore_private_auditors=True)
            for raw in analysed.findings:
                finding = Finding(policy.resource, policy.kind, raw.issue, raw.detail, statement.get("Sid"))
                if not _suppressed(resources[policy.resource], finding):
                    findings.append(finding)
    return findings


def suppressions(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(resource, suppression) for every ``Metadata.parliament.ignore`` entry."""
    return [
        (logical_id, entry)
        for logical_id, resource in template["Resources"].items()
        for entry in resource.get("Metadata", {}).get("parliament", {}).get("ignore", [])
    ]


def _suppressed(resource: Mapping[str, Any], finding: Finding) -> bool:
    for entry in resource.get("Metadata", {}).get("parliament", {}).get("ignore", []):
        if entry["issue"] == finding.issue and entry.get("sid") in (None, finding.sid):
            return True
    return False


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    path, *overrides = argv
    template = load_template(Path(path))
    findings = check(template, dict(item.split("=", 1) for item in overrides))
    checked = documents(template, dict(item.split("=", 1) for item in overrides))
    for finding in findings:
        print(f"   {finding}")
    print(f"   {len(checked)} policies checked against AWS's catalogue: {len(findings) or 'no'} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
