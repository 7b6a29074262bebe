"""Builds dam-drift's AWS resources in moto *from template.yaml itself*, so a local run cannot drift
from what deploys: the same functions (code folders, handlers, environment), the same state machine
files (the drift check and its per-subscriber child) with their names and ``DefinitionSubstitutions``,
read no more leniently than CloudFormation reads them (:mod:`damdrift_cli.local.definitions`), the same
bucket, topics and secret.

Each SNS topic also gets an SQS queue subscribed to it, so a local run can show (and a test can
assert) exactly what was published, message attributes included.

Parameters, ``Conditions`` and resources' ``Condition`` are evaluated as CloudFormation would (a
resource whose condition is false is not created). Each function's role becomes a moto role whose
credentials the function runs with, and moto authorizes its calls against the role's policies
(:mod:`damdrift_cli.local.roles`: what moto can and cannot check). Other resource types a local run
does not need (KMS keys, log groups, alarms, dashboards, bucket and topic policies, email
subscriptions) are skipped: moto does not enforce them.
"""

from __future__ import annotations

import io
import json
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
    check_rules,
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
    #: Each function's role (logical id) and the policy documents moto enforces for it.
    role_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
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
    secret_value: dict[str, str],
    *,
    template_path: Path = TEMPLATE_PATH,
    parameters: dict[str, str] | None = None,
    function_env: dict[str, str] | None = None,
) -> LocalDeployment:
    """Creates every resource of the template in the (already active) moto backends."""
    template = load_template(template_path)
    root = template_path.parent
    params = parameter_values(template, parameters)
    physical: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}

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
            return physical[logical_id]
        return attributes[(logical_id, attribute)]

    check_rules(template, lookup)  # the template's Rules refuse a deploy before any resource
    conditions = evaluate_conditions(template, lookup)
    resources: dict[str, Any] = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }

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
        if kind == "AWS::S3::Bucket":
            name = f"{STACK}-{logical_id.lower()}"
            s3.create_bucket(Bucket=name)
            physical[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        elif kind == "AWS::SNS::Topic":
            name = f"{STACK}-{logical_id}"
            arn = sns.create_topic(Name=name)["TopicArn"]
            physical[logical_id] = topics[logical_id] = arn
            attributes[(logical_id, "TopicName")] = name
            attributes[(logical_id, "TopicArn")] = arn
            queue_url = sqs.create_queue(QueueName=f"{name}-capture")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            queues[logical_id] = queue_url
        elif kind == "AWS::SecretsManager::Secret":
            generated = "GenerateSecretString" in resource.get("Properties", {})
            # A generated secret (the report link key) gets a random value, never the DX credentials.
            value = secrets_module.token_urlsafe(48) if generated else json.dumps(secret_value)
            arn = secrets.create_secret(Name=f"{STACK}/{logical_id}", SecretString=value)["ARN"]
            physical[logical_id] = arn
            if not generated:
                secret_arn = arn
        elif kind == "AWS::Serverless::LayerVersion":
            physical[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{STACK}-{logical_id}:1"

    role_arn = _lambda_role()
    globals_fn = template.get("Globals", {}).get("Function", {})
    lambda_client = roles.operator_client("lambda", REGION)
    role_policies = {
        logical_id: _role_documents(resources, resource, lookup, conditions, physical)
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    local_functions: dict[str, LocalFunction] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Url":
            # Nothing serves a function URL here: empty, so notices point at the CLI (damdrift check asks).
            attributes[(logical_id, "FunctionUrl")] = ""
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **resource["Properties"]}
        props = {
            key: resolve(props[key], lookup, conditions)
            for key in ("Runtime", "Handler", "CodeUri", "Timeout", "MemorySize")
            if key in props
        }
        env = dict(resolve(globals_fn.get("Environment", {}).get("Variables", {}), lookup, conditions))
        env.update(
            resolve(resource["Properties"].get("Environment", {}).get("Variables", {}), lookup, conditions)
        )
        env.update(function_env or {})
        role = _role_of(resource)
        if role in role_policies:
            env.update(roles.role_credentials(f"{STACK}-{role}", role_policies[role], REGION))
        name = f"{STACK}-{logical_id}"
        created = lambda_client.create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=role_arn,
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": env},
        )
        physical[logical_id] = name
        attributes[(logical_id, "Arn")] = created["FunctionArn"]
        local_functions[name] = LocalFunction(
            name=name,
            code_dir=(root / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            environment=env,
            timeout=int(props.get("Timeout", 3)),
            memory_size=int(props.get("MemorySize", 128)),
        )

    sfn = roles.operator_client("stepfunctions", REGION)
    machines = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}
    for logical_id in _in_dependency_order(machines):
        props = machines[logical_id]["Properties"]
        name = resolve(props.get("Name"), lookup, conditions) or f"{STACK}-{logical_id}"
        physical[logical_id] = sfn.create_state_machine(
            name=name,
            definition=definitions.load_json(
                root / props["DefinitionUri"],
                resolve(props.get("DefinitionSubstitutions", {}), lookup, conditions),
            ),
            roleArn=role_arn,
            type=resolve(props.get("Type", "STANDARD"), lookup, conditions),
        )["stateMachineArn"]

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
        architecture=str(params.get("Architecture", "arm64")),
    )


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

    def anything(logical_id: str, attribute: str | None) -> Any:
        try:
            return lookup(logical_id, attribute)
        except KeyError:  # not created locally (log groups, the key): only ever in non-S3 statements
            return f"arn:aws:local:{REGION}:{ACCOUNT}:{logical_id}"

    props = role["Properties"]
    # Resolved first: a policy may be there only under a condition (!If [..., policy, NoValue]).
    policies = resolve(props.get("Policies", []), anything, conditions)
    documents = [policy["PolicyDocument"] for policy in policies]
    for arn in props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources:
            managed = resources[arn["Ref"]]["Properties"]["PolicyDocument"]
            documents.append(resolve(managed, anything, conditions))
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


def _lambda_role() -> str:
    iam = roles.operator_client("iam", REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{STACK}-role", AssumeRolePolicyDocument=json.dumps(trust))
    arn: str = role["Role"]["Arn"]
    return arn


def _placeholder_zip() -> bytes:
    """moto wants a code package; the real code runs from the project folder (see lambda_adapter)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", f"dam-drift local run: code runs in-process from {PROJECT_ROOT}\n")
    return buffer.getvalue()
