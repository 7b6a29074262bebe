"""The one moto internal the local run replaces still exists and behaves as we rely on.

If a moto upgrade moves ``LambdaFunction._invoke_lambda`` or changes how an error's type reaches Step
Functions, these fail first, with a message that says where to look.
"""

import inspect
import json

import pytest
from moto.awslambda.models import LambdaFunction

from damdrift_cli.local.lambda_adapter import HOOK_NAME
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator

pytestmark = pytest.mark.e2e


def test_moto_still_has_the_invoke_hook_with_the_expected_signature() -> None:
    hook = getattr(LambdaFunction, HOOK_NAME, None)
    assert hook is not None, (
        "moto moved LambdaFunction._invoke_lambda: update damdrift_cli/local/lambda_adapter.py"
    )
    assert list(inspect.signature(hook).parameters) == ["self", "event"]


def test_invoking_a_function_runs_our_handler_and_maps_errors_to_the_exception_name(
    publisher: Simulator,
) -> None:
    with LocalAws({"username": publisher.username, "password": publisher.password}) as aws:
        lambda_client = aws.client("lambda")
        name = "dam-drift-local-AuthenticateFunction"
        response = lambda_client.invoke(
            FunctionName=name, Payload=json.dumps({"input": {}, "execution": "x"})
        )
        payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "InvalidInput"
    assert "publisher: required field is missing" in payload["errorMessage"]
