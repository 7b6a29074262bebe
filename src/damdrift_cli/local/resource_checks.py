"""moto authorizes Secrets Manager, SNS, Step Functions and Lambda requests against the resource they
name, and the state machines' tasks run with their own roles, as on AWS.

moto 5.2 authorizes every service but S3/SQS/IAM/STS against the resource ``*`` (so a role allowed
``secretsmanager:GetSecretValue`` on one secret could read any), names Lambda's ``Invoke`` action
``lambda:Invoke`` (IAM's is ``lambda:InvokeFunction``), matches ``Resource`` patterns as regular
expressions, and signs its Step Functions interpreter's calls with one fixed key allowed everything.
While :func:`installed`:

* :func:`request_resource` reads the request's resource ARN (``SecretId``, ``TopicArn``/``TargetArn``,
  ``stateMachineArn``/``executionArn``, the function in the path) and its IAM action name, and moto's
  own authorizer (signature, the caller's role, explicit denies) evaluates the caller's statements
  against that ARN, with IAM's wildcards (``*`` any run of characters, ``?`` one; case-sensitive ARNs,
  case-insensitive actions) in place of moto's regular expressions;
* each state machine's tasks (Lambda, SNS, ``startExecution.sync:2``) sign with the credentials of
  the state machine's role (``state_machine_roles``), so its statements are enforced like a function's;
* a request without a body (Lambda's GETs) is re-signed by moto without its URL parameters as a
  form body, which made every such call fail with SignatureDoesNotMatch.

Actions the Service Authorization Reference lists without a resource type (``states:SendTaskSuccess``)
are authorized against ``*``, where a statement naming an ARN does not match, as on AWS.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.core.responses import BaseResponse
from moto.iam.access_control import IAMPolicyStatement
from moto.secretsmanager.models import secretsmanager_backends
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client

#: Services whose requests are authorized against the ARN they name (moto's signing name -> reader).
RESOURCE_SERVICES = ("secretsmanager", "sns", "states", "lambda")
#: Lambda's operation names that differ from IAM's action names.
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}
#: Step Functions actions with no resource type (Service Authorization Reference): authorized on "*".
_NO_RESOURCE = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines"}


def request_resource(response: Any) -> tuple[str, str] | None:
    """(IAM action name, resource ARN) of a request to one of :data:`RESOURCE_SERVICES`, else None."""
    service = _signing_service(response)
    action = str(response._get_action())
    region, account = response.region, response.current_account
    if service == "secretsmanager":
        secret = str(_json_body(response).get("SecretId") or "")
        return action, _secret_arn(secret, region, account) if secret else "*"
    if service == "sns":
        arn = _query(response, "TopicArn") or _query(response, "TargetArn")
        if action == "CreateTopic":
            arn = f"arn:aws:sns:{region}:{account}:{_query(response, 'Name')}"
        return action, arn or "*"
    if service == "states":
        body = _json_body(response)
        named = body.get("executionArn") or body.get("stateMachineArn")
        return action, "*" if action in _NO_RESOURCE or not named else str(named)
    if service == "lambda":
        found = re.search(r"/functions/([^/]+)", str(response.path))
        if not found:
            return _LAMBDA_ACTIONS.get(action, action), "*"
        name = unquote(found.group(1))
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        return _LAMBDA_ACTIONS.get(action, action), _unqualified(arn)
    return None


def iam_match(pattern: str, value: str) -> bool:
    """IAM's matching of a policy's Action or Resource element: ``*`` and ``?`` are wildcards,
    everything else literal; ARNs are case-sensitive, action names are not."""
    expression = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in str(pattern)
    )
    flags = 0 if str(value).startswith("arn:") else re.IGNORECASE
    return re.fullmatch(expression, str(value), flags | re.DOTALL) is not None


@contextlib.contextmanager
def installed(state_machine_roles: dict[str, dict[str, str]]) -> Iterator[None]:
    """Resource-level authorization and the state machines' own roles, until this ends.

    ``state_machine_roles`` maps a role ARN to its credentials (``AWS_ACCESS_KEY_ID``, ...)."""
    original_authorize = BaseResponse._authenticate_and_authorize_normal_action
    original_match = IAMPolicyStatement._match
    original_client_for = sfn_boto_client.boto_client_for

    def authorize(self: Any, resource: str = "*") -> None:
        found = request_resource(self) if _signing_service(self) in RESOURCE_SERVICES else None
        if found is None:
            original_authorize(self, resource)
            return
        action, arn = found
        self._get_action = lambda: action  # what moto's authorizer names the action (instance only)
        data = self.data
        if self.method in ("GET", "HEAD", "DELETE") and not self.raw_body:
            # moto re-signs ``body or data``: a bodiless GET (Lambda's GetFunctionUrlConfig) would be
            # signed with its URL parameters as a form body, and never match botocore's signature.
            self.data = {}
        try:
            original_authorize(self, arn)
        finally:
            self.data = data
            del self._get_action

    def match(pattern: str, string: str) -> Any:
        return True if iam_match(pattern, string) else None

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        credentials = state_machine_roles.get(getattr(state_credentials, "role_arn", ""))
        if credentials is None:
            return original_client_for(region=region, service=service, state_credentials=state_credentials)
        endpoint = (
            {} if botocore_stubber.enabled else {"endpoint_url": f"http://localhost:{moto_server_port()}"}
        )
        make_client: Any = boto3.client
        client = make_client(
            service_name=service,
            region_name=region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
            config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
            **endpoint,
        )
        client.meta.events.register("after-call", _with_request_id)
        return client

    modules = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
        and getattr(module, "boto_client_for", None) is original_client_for
    ]
    BaseResponse._authenticate_and_authorize_normal_action = authorize  # type: ignore[method-assign]
    IAMPolicyStatement._match = staticmethod(match)  # type: ignore[method-assign]
    for module in modules:
        setattr(module, "boto_client_for", client_for)  # noqa: B010
    try:
        yield
    finally:
        for module in modules:
            setattr(module, "boto_client_for", original_client_for)  # noqa: B010
        IAMPolicyStatement._match = original_match  # type: ignore[method-assign]
        BaseResponse._authenticate_and_authorize_normal_action = original_authorize  # type: ignore[method-assign]


def _with_request_id(parsed: dict[str, Any], **_: Any) -> None:
    """moto's AccessDenied answer carries no request id, which every AWS answer has and moto's
    interpreter reads to word a task's failure (a KeyError there became ``States.Runtime``)."""
    metadata = parsed.setdefault("ResponseMetadata", {})
    metadata.setdefault("RequestId", str(uuid.uuid4()))


def _signing_service(response: Any) -> str:
    """The service name of the request's SigV4 credential scope (what moto's authorizer prefixes)."""
    authorization = str(response.headers.get("Authorization") or "")
    found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    return found.group(1) if found else ""


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _query(response: Any, name: str) -> str:
    value = response.querystring.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value or "")


def _secret_arn(secret_id: str, region: str, account: str) -> str:
    """The ARN of the secret ``secret_id`` names (by name or ARN); a secret that does not exist keeps
    the ARN its name would have without the random suffix, which no grant of a real secret matches."""
    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    return (
        secret_id
        if secret_id.startswith("arn:")
        else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"
    )


def _unqualified(function_arn: str) -> str:
    """A function ARN without its version or alias (a grant on the function covers ``$LATEST``)."""
    parts = function_arn.split(":")
    return ":".join(parts[:7])
