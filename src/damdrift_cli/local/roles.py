"""Each function's and each state machine's AWS calls in the local run carry exactly its role's
policies from template.yaml, and moto authorizes every request against them.

How: each role of the template becomes a moto IAM role with the role's permissions policies (inline,
and the stack's managed policies it attaches), assumed through moto's STS; a function runs with those
temporary credentials (lambda_adapter), a state machine's tasks sign with them (resource_checks). Once
the stack is built, moto's request authorization is switched on for everything
(``settings.INITIAL_NO_AUTH_ACTION_COUNT = 0``), so a call the role does not grant fails with
AccessDenied exactly where it would on AWS.

Everyone else is the *local operator*, an IAM user allowed everything: the runner and the tests (their
clients carry its key), and moto's Step Functions interpreter for a state machine the template did
not create (it signs with the fixed key ``ak``).

What moto 5.2 enforces, read from its source (``moto/iam/access_control.py``, ``moto/core``), with
:mod:`damdrift_cli.local.resource_checks` installed:

* identity policies of the caller only: no bucket, topic, key or function resource policies, no
  permissions boundary (a template that sets one is refused locally, see ``stack``);
* action names for every service; resource ARNs for S3 (bucket and object ARNs), SQS, IAM and STS
  (moto) and for Secrets Manager, SNS, Step Functions and Lambda (resource_checks), with IAM's
  wildcards. Every other service (KMS, CloudWatch Logs, X-Ray, EventBridge) is authorized against the
  resource ``*``, so a statement naming an ARN would never match there;
* the state machines' roles: their tasks sign with their own role's credentials (resource_checks);
* of condition keys only ``sts:ExternalId``; a statement with any other condition counts as an
  explicit Deny when its action matches;
* ``DeleteObjects`` against the bucket ARN (AWS checks ``s3:DeleteObject`` per key);
* no presigned URL (query-string signature): :func:`suspended` lets a test open one.

:func:`for_moto` therefore gives moto what it can check and leaves the rest to the unit tests on the
policy documents (tests/deploy/test_template.py, tests/deploy/test_policy_catalogue.py):
statements of the services checked against ``*`` get ``Resource: "*"`` (their actions are still
enforced), statements with conditions are left out (so an action granted only under a condition, like
``kms:Decrypt`` via Secrets Manager, is denied locally, which no function calls directly), and an
``s3:DeleteObject`` grant also names the bucket. :func:`unenforced` lists what moto cannot see, for a
test to pin.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from moto import settings
from moto.iam.models import iam_backends

#: Keys of the local operator (the runner and the tests: theirs, the environment moto sets, and
#: the one moto's Step Functions interpreter signs with). Not secrets: moto's in-process fakes.
OPERATOR = "damdrift-local-operator"
OPERATOR_KEY = ("AKIALOCALOPERATOR000", "local-operator-secret")
_OTHER_OPERATOR_KEYS = [("FOOBARKEY", "FOOBARSECRET"), ("testing", "testing"), ("ak", "sk")]
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
#: Services whose requests are authorized against the resource's ARN (moto's own, then
#: resource_checks'); the others against "*".
_RESOURCE_AWARE = ("s3:", "sqs:", "iam:", "sts:", "secretsmanager:", "sns:", "states:", "lambda:")


@dataclass(frozen=True)
class Unenforced:
    """A statement (or part of one) moto cannot evaluate, and why."""

    role: str
    sid: str
    why: str


def operator_client(service: str, region: str) -> Any:
    """A client of the local operator (allowed everything), whatever the environment holds."""
    make_client: Any = boto3.client
    key, secret = OPERATOR_KEY
    return make_client(service, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret)


def create_operator(account: str) -> None:
    backend = iam_backends[account]["aws"]
    backend.create_user(region_name="us-east-1", user_name=OPERATOR)
    backend.put_user_policy(OPERATOR, "everything", json.dumps(_ALLOW_ALL))
    user = backend.get_user(OPERATOR)
    for key, secret in [OPERATOR_KEY, *_OTHER_OPERATOR_KEYS]:
        access_key = user.create_access_key(prefix="AKIA")
        access_key.access_key_id, access_key.secret_access_key = key, secret


def role_credentials(role: str, documents: list[dict[str, Any]], region: str) -> dict[str, str]:
    """Create ``role`` in moto with ``documents`` (as :func:`for_moto` makes them) and assume it:
    the environment variables a function with this role runs with."""
    return create_role(role, documents, region)[1]


def create_role(role: str, documents: list[dict[str, Any]], region: str) -> tuple[str, dict[str, str]]:
    """:func:`role_credentials`, and the role's ARN (a state machine names it)."""
    iam = operator_client("iam", region)
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(_TRUST_LAMBDA))["Role"]["Arn"]
    for index, document in enumerate(documents):
        iam.put_role_policy(RoleName=role, PolicyName=f"policy-{index}", PolicyDocument=json.dumps(document))
    credentials = operator_client("sts", region).assume_role(RoleArn=arn, RoleSessionName=role)["Credentials"]
    return arn, {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def for_moto(document: Mapping[str, Any], bucket_arns: list[str]) -> dict[str, Any]:
    """``document`` as moto can evaluate it (see the module's docstring for each change)."""
    kept = []
    for statement in _statements(document):
        if "Condition" in statement:
            continue
        moto_statement = copy.deepcopy(statement)
        actions = _as_list(statement["Action"])
        if not _resource_aware(actions):
            moto_statement["Resource"] = "*"
        elif "s3:DeleteObject" in actions:
            moto_statement["Resource"] = [*_as_list(statement["Resource"]), *bucket_arns]
        kept.append(moto_statement)
    return {"Version": "2012-10-17", "Statement": kept}


def unenforced(role: str, documents: list[dict[str, Any]]) -> list[Unenforced]:
    """What of ``role``'s policies moto cannot evaluate (left to the unit tests on the documents)."""
    found = []
    for document in documents:
        for statement in _statements(document):
            sid = str(statement.get("Sid", "-"))
            actions = _as_list(statement["Action"])
            if "Condition" in statement:
                found.append(Unenforced(role, sid, "condition " + ",".join(_condition_keys(statement))))
            elif not _resource_aware(actions) and _as_list(statement["Resource"]) != ["*"]:
                found.append(Unenforced(role, sid, "resource ARN of a service moto checks against *"))
            elif "s3:DeleteObject" in actions:
                found.append(Unenforced(role, sid, "DeleteObjects is checked against the bucket"))
    return found


@contextlib.contextmanager
def enforcing() -> Iterator[None]:
    """moto authorizes every request from here on (and stops when this ends)."""
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """moto authorizes nothing meanwhile: for a presigned (query-string signed) URL, which moto's
    authorizer cannot read (it wants an Authorization header); AWS checks the signer's role."""
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def _resource_aware(actions: list[str]) -> bool:
    return all(action.startswith(_RESOURCE_AWARE) for action in actions)


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [dict(found)] if isinstance(found, Mapping) else list(found)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_keys(statement: Mapping[str, Any]) -> list[str]:
    return sorted({key for operator in statement["Condition"].values() for key in operator})
