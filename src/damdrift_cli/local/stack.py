"""Builds dam-drift's AWS resources in moto *from template.yaml itself*, so a local run cannot drift
from what deploys: the same functions (code folders, handlers, environment), the same state machine
files (the drift check and its per-subscriber child) with their names and ``DefinitionSubstitutions``,
read no more leniently than CloudFormation reads them (:mod:`damdrift_cli.local.definitions`), the same
bucket, topics and secret.

Each SNS topic also gets an SQS queue subscribed to it, so a local run can show (and a test can
assert) exactly what was published, message attributes included.

Read strictly, as CloudFormation reads it (:mod:`damdrift_cli.local.template`): parameters are checked
against their constraints and the ``Rules``, ``Conditions`` and resources' ``Condition`` are evaluated (a
resource whose condition is false is not created, one naming an undefined condition is an error), and
every property and output of every resource must resolve. Each role becomes a moto role whose
credentials its function (or state machine) runs with, and moto authorizes its calls against the
role's policies, on resource ARNs too (:mod:`damdrift_cli.local.roles`, ``resource_checks``). The KMS
key and log groups are created (for their ARNs); the function URLs exist (``create_function_url_config``);
each function gets its Runtime, Handler, Timeout (enforced by lambda_adapter), MemorySize,
Architectures and EphemeralStorage. The DX credentials secret is created empty, as on AWS. Schedules
are checked (expression, JSON input) but never fire; a permissions boundary is refused (moto cannot
enforce one). Alarms, dashboards, bucket and topic policies and e-mail subscriptions are not created:
moto does not enforce them.
"""

from __future__ import annotations

import io
import json
import re
import secrets as secrets_module
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from damdrift_cli.local import definitions, roles
from damdrift_cli.local.lambda_adapter import InProcessLambdas, LocalFunction
from damdrift_cli.local.template import (
    PROJECT_ROOT,
    TEMPLATE_PATH,
    TemplateError,
    check_rules,
    condition_holds,
    evaluate_conditions,
    load_template,
    parameter_values,
    resolve,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "dam-drift-local"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#: The state machine a check starts (the others are its children).
ENTRY_STATE_MACHINE = "DriftCheckStateMachine"


@dataclass
class LocalDeployment:
    region: str
    bucket: str
    topics: dict[str, str]  # logical id -> ARN
    queues: dict[str, str]  # topic logical id -> SQS queue URL capturing what was published
    secret_arn: str
    state_machine_arn: str  # the drift check; the subscriber checks are its child executions
    lambdas: InProcessLambdas
    physical: dict[str, str] = field(default_factory=dict)
    #: Each role (logical id) and the policy documents moto enforces for it.
    role_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Each state machine's role ARN -> the credentials its tasks sign with (resource_checks).
    machine_roles: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The stack's parameters as CloudFormation accepted them.
    parameters: dict[str, str | list[str]] = field(default_factory=dict)
    #: The functions' Lambda architecture (template parameter Architecture): it sets the GB-second price.
    architecture: str = "arm64"

    @property
    def state_machines(self) -> dict[str, str]:
        """Logical id -> ARN of every state machine of the template."""
        return {k: v for k, v in self.physical.items() if v.startswith("arn:aws:states:")}

    @property
    def drift_topic_arn(self) -> str:
        return self.topics["DriftTopic"]

    @property
    def ops_topic_arn(self) -> str:
        return self.topics["OpsTopic"]


def deploy(
    secret_value: dict[str, str] | None,
    *,
    template_path: Path = TEMPLATE_PATH,
    parameters: dict[str, str] | None = None,
    function_env: dict[str, str] | None = None,
    function_urls: bool = True,
) -> LocalDeployment:
    """Creates every resource of the template in the (already active) moto backends.

    ``function_urls=False`` leaves the function URLs out (their ``FunctionUrl`` is empty), for a run
    whose notices a person reads: a moto URL answers nobody, so a notice must not print it (the CLI
    answers an approval at its own prompt, as the notice then says).

    ``parameters`` are checked as CloudFormation checks them (then the template's ``Rules``); a missing
    or invalid one raises :class:`TemplateError`, in one sentence, before anything is created. The
    stack's DX credentials secret starts empty, as on AWS; ``secret_value``, when given, is then put
    in as the deploy guide's ``put-secret-value`` step does.
    """
    template = load_template(template_path)
    root = template_path.parent
    params = parameter_values(template, parameters)
    physical: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}
    declared = template.get("Resources", {})

    def lookup(logical_id: str, attribute: str | None) -> str | list[str]:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::StackId": STACK_ID,
            "AWS::Partition": "aws",
        }
        if attribute is None:
            if logical_id in pseudo:
                return pseudo[logical_id]
            if logical_id in params:
                return params[logical_id]
            if logical_id in physical:
                return physical[logical_id]
        elif (logical_id, attribute) in attributes:
            return attributes[(logical_id, attribute)]
        named = logical_id + (f".{attribute}" if attribute else "")
        if logical_id not in declared and logical_id not in params:
            raise TemplateError(
                f"Template format error: unresolved dependency {named}: no such parameter or resource"
            )
        raise TemplateError(
            f"{named} cannot be resolved: the local stack has not created it (or it has no such attribute)"
        )

    check_rules(template, lookup)  # the template's Rules refuse a deploy before any resource
    conditions = evaluate_conditions(template, lookup)
    resources: dict[str, Any] = {
        logical_id: resource
        for logical_id, resource in declared.items()
        if condition_holds(conditions, f"resource {logical_id}", resource)
    }
    for logical_id, output in template.get("Outputs", {}).items():
        condition_holds(conditions, f"output {logical_id}", output)

    roles.create_operator(ACCOUNT)
    s3 = roles.operator_client("s3", REGION)
    sns = roles.operator_client("sns", REGION)
    sqs = roles.operator_client("sqs", REGION)
    secrets = roles.operator_client("secretsmanager", REGION)
    topics: dict[str, str] = {}
    queues: dict[str, str] = {}
    secret_arn = ""  # an ARN, set below  # nosec B105

    for logical_id, resource in resources.items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::KMS::Key":
            key = roles.operator_client("kms", REGION).create_key(Description=logical_id)["KeyMetadata"]
            physical[logical_id] = key["KeyId"]
            attributes[(logical_id, "Arn")] = key["Arn"]
            attributes[(logical_id, "KeyId")] = key["KeyId"]
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            name = f"{STACK}-{logical_id.lower()}"
            s3.create_bucket(Bucket=name)
            physical[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        elif kind == "AWS::Logs::LogGroup":
            name = resolve(props.get("LogGroupName"), lookup, conditions) or f"{STACK}-{logical_id}"
            roles.operator_client("logs", REGION).create_log_group(logGroupName=name)
            physical[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        elif kind == "AWS::SNS::Topic":
            name = f"{STACK}-{logical_id}"
            arn = sns.create_topic(Name=name)["TopicArn"]
            physical[logical_id] = topics[logical_id] = arn
            attributes[(logical_id, "TopicName")] = name
            attributes[(logical_id, "TopicArn")] = arn
            if logical_id == "ChatTopic":  # Chatbot's messages, not notices: local.viewer reads them
                continue
            queue_url = sqs.create_queue(QueueName=f"{name}-capture")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            queues[logical_id] = queue_url
        elif kind == "AWS::SecretsManager::Secret":
            name = resolve(props.get("Name"), lookup, conditions) or f"{STACK}/{logical_id}"
            if "GenerateSecretString" in props:
                # A generated secret (the report link key) gets a random value, never the DX credentials.
                value = secrets_module.token_urlsafe(48)
                arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
            else:  # created empty, as CloudFormation creates it without a SecretString
                arn = secrets.create_secret(Name=name)["ARN"]
                secret_arn = arn
            physical[logical_id] = arn
        elif kind == "AWS::Serverless::LayerVersion":
            physical[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{STACK}-{logical_id}:1"
    if not secret_arn:  # an existing secret (ExistingCredentialsSecretArn): the functions name it
        secret_arn = str(params.get("ExistingCredentialsSecretArn", ""))
    elif secret_value is not None:
        secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(secret_value))

    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for logical_id in functions:  # known before the roles that name them (as CloudFormation resolves)
        physical[logical_id] = f"{STACK}-{logical_id}"
        attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical_id}"
    machines = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}
    for logical_id, resource in machines.items():
        name = resolve(resource["Properties"].get("Name"), lookup, conditions) or f"{STACK}-{logical_id}"
        physical[logical_id] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        attributes[(logical_id, "Name")] = name

    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":  # Ref: its ARN (its document goes into each role)
            physical[logical_id] = f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-{logical_id}"
    role_policies: dict[str, list[dict[str, Any]]] = {}
    role_arns: dict[str, str] = {}
    credentials: dict[str, dict[str, str]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        _refuse_permissions_boundary(logical_id, resource, lookup, conditions)
        role_policies[logical_id] = _role_documents(resources, resource, lookup, conditions, physical)
        arn, credentials[logical_id] = roles.create_role(
            f"{STACK}-{logical_id}", role_policies[logical_id], REGION
        )
        physical[logical_id] = f"{STACK}-{logical_id}"
        role_arns[logical_id] = attributes[(logical_id, "Arn")] = arn

    globals_fn = template.get("Globals", {}).get("Function", {})
    lambda_client = roles.operator_client("lambda", REGION)
    local_functions: dict[str, LocalFunction] = {}
    for logical_id, resource in functions.items():
        props = resolve({**globals_fn, **resource["Properties"]}, lookup, conditions)
        env = dict(resolve(globals_fn.get("Environment", {}).get("Variables", {}), lookup, conditions))
        env.update(props.get("Environment", {}).get("Variables", {}))
        env.update(function_env or {})
        role = _role_of(resource)
        if role is None or role not in role_arns:
            raise TemplateError(f"{logical_id}: Role must name a role of this template (!GetAtt <Role>.Arn)")
        env.update(credentials[role])
        name = physical[logical_id]
        timeout = int(props.get("Timeout", 3))
        memory = int(props.get("MemorySize", 128))
        created = lambda_client.create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=role_arns[role],
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=timeout,
            MemorySize=memory,
            Architectures=props.get("Architectures", ["x86_64"]),
            EphemeralStorage=props.get("EphemeralStorage", {"Size": 512}),
            Environment={"Variables": env},
        )
        if created["FunctionArn"] != attributes[(logical_id, "Arn")]:
            raise TemplateError(f"{logical_id}: moto named it {created['FunctionArn']}")
        local_functions[name] = LocalFunction(
            name=name,
            code_dir=(root / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            environment=env,
            timeout=timeout,
            memory_size=memory,
        )
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Url":
            props = resolve(resource["Properties"], lookup, conditions)
            url = (
                lambda_client.create_function_url_config(
                    FunctionName=props["TargetFunctionArn"], AuthType=props["AuthType"]
                )["FunctionUrl"]
                if function_urls
                else ""
            )
            attributes[(logical_id, "FunctionUrl")] = url
            attributes[(logical_id, "FunctionArn")] = props["TargetFunctionArn"]

    sfn = roles.operator_client("stepfunctions", REGION)
    machine_roles: dict[str, dict[str, str]] = {}
    for logical_id in _in_dependency_order(machines):
        props = machines[logical_id]["Properties"]
        role = _role_of(machines[logical_id])
        if role is None or role not in role_arns:
            raise TemplateError(f"{logical_id}: Role must name a role of this template (!GetAtt <Role>.Arn)")
        machine_roles[role_arns[role]] = credentials[role]
        created_arn = sfn.create_state_machine(
            name=attributes[(logical_id, "Name")],
            definition=definitions.load_json(
                root / props["DefinitionUri"],
                resolve(props.get("DefinitionSubstitutions", {}), lookup, conditions),
            ),
            roleArn=role_arns[role],
            type=resolve(props.get("Type", "STANDARD"), lookup, conditions),
        )["stateMachineArn"]
        if created_arn != physical[logical_id]:
            raise TemplateError(f"{logical_id}: moto named it {created_arn}")
        _schedules(logical_id, machines[logical_id], lookup, conditions)

    # Every property and output resolves, created locally or not, as CloudFormation resolves them all;
    # a resource moto does not model (alarms, policies, permissions) answers Ref with a name, no attribute.
    for logical_id in resources:
        physical.setdefault(logical_id, f"{STACK}-{logical_id}")
    for resource in resources.values():
        resolve(resource.get("Properties", {}), lookup, conditions)
    for logical_id, output in template.get("Outputs", {}).items():
        if condition_holds(conditions, f"output {logical_id}", output):
            resolve(output.get("Value"), lookup, conditions)

    return LocalDeployment(
        region=REGION,
        bucket=physical["ReportBucket"],
        topics=topics,
        queues=queues,
        secret_arn=secret_arn,
        state_machine_arn=physical[ENTRY_STATE_MACHINE],
        lambdas=InProcessLambdas(local_functions),
        physical=physical,
        role_policies=role_policies,
        machine_roles=machine_roles,
        parameters=params,
        architecture=str(params.get("Architecture", "arm64")),
    )


def _refuse_permissions_boundary(
    logical_id: str, role: dict[str, Any], lookup: Any, conditions: dict[str, bool]
) -> None:
    """A permissions boundary names a managed policy outside the stack: moto cannot enforce one, so a
    local run with one would grant more than AWS; refused (CloudFormation too refuses a boundary that
    does not exist, and none exists in a fresh local account)."""
    boundary = resolve({"b": role["Properties"].get("PermissionsBoundary")}, lookup, conditions).get("b")
    if boundary:
        raise TemplateError(
            f"{logical_id}: permissions boundary {boundary} does not exist in the local account and moto "
            "cannot enforce one; leave PermissionsBoundaryArn empty for local runs"
        )


def _schedules(logical_id: str, machine: dict[str, Any], lookup: Any, conditions: dict[str, bool]) -> None:
    """A state machine's ``ScheduleV2`` events, checked as EventBridge Scheduler and Step Functions
    would take them (nothing fires locally: a local run starts its execution itself): the expression
    must be a cron(), rate() or at() expression and ``Input`` JSON (an execution input must be)."""
    for name, event in machine["Properties"].get("Events", {}).items():
        if event.get("Type") != "ScheduleV2":
            raise TemplateError(
                f"{logical_id}: event {name} of type {event.get('Type')} is not supported locally"
            )
        props = resolve(event.get("Properties", {}), lookup, conditions)
        expression = str(props.get("ScheduleExpression", ""))
        if not re.fullmatch(
            r"cron\((\S+ ){5}\S+\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|at\(\S+\)",
            expression,
        ):
            raise TemplateError(
                f"{logical_id}: event {name}: {expression!r} is not a Scheduler cron(), rate() or at() "
                "expression"
            )
        try:
            json.loads(str(props.get("Input", "{}")))
        except ValueError as exc:
            raise TemplateError(f"{logical_id}: event {name}: Input is not JSON ({exc})") from None
        if props.get("State", "ENABLED") not in ("ENABLED", "DISABLED"):
            raise TemplateError(f"{logical_id}: event {name}: State must be ENABLED or DISABLED")


def _role_of(function: dict[str, Any]) -> str | None:
    """The logical id of the role a function names (``Role: !GetAtt XRole.Arn``)."""
    role = function["Properties"].get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        return str(role["Fn::GetAtt"][0])
    return None


def _role_documents(
    resources: dict[str, Any],
    role: dict[str, Any],
    lookup: Any,
    conditions: dict[str, bool],
    physical: dict[str, str],
) -> list[dict[str, Any]]:
    """The role's permissions policies (inline and the stack's managed ones), as moto can enforce them."""

    props = role["Properties"]
    # Resolved first: a policy may be there only under a condition (!If [..., policy, NoValue]).
    policies = resolve(props.get("Policies", []), lookup, conditions)
    documents = [policy["PolicyDocument"] for policy in policies]
    for arn in props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources:
            managed = resources[arn["Ref"]]["Properties"]["PolicyDocument"]
            documents.append(resolve(managed, lookup, conditions))
        elif resolve({"arn": arn}, lookup, conditions):
            raise TemplateError(f"a role names managed policy {arn!r}, which the local stack cannot create")
    buckets = [f"arn:aws:s3:::{physical[k]}" for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    return [roles.for_moto(d, buckets) for d in documents]


def _in_dependency_order(machines: dict[str, Any]) -> list[str]:
    """State machines whose substitutions name another (a parent naming its child) come after it."""
    ordered: list[str] = []
    pending = dict(machines)
    while pending:
        ready = [
            logical_id
            for logical_id, resource in pending.items()
            if not any(
                f'"{other}"' in json.dumps(resource["Properties"].get("DefinitionSubstitutions", {}))
                for other in pending
                if other != logical_id
            )
        ]
        if not ready:
            raise ValueError(f"state machines refer to each other: {sorted(pending)}")
        ordered += ready
        for logical_id in ready:
            del pending[logical_id]
    return ordered


def _placeholder_zip() -> bytes:
    """moto wants a code package; the real code runs from the project folder (see lambda_adapter)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", f"dam-drift local run: code runs in-process from {PROJECT_ROOT}\n")
    return buffer.getvalue()
