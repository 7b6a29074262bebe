"""The one moto internal the local run replaces still exists and behaves as we rely on.

If a moto upgrade moves ``LambdaFunction._invoke_lambda`` or changes how an error's type reaches Step
Functions, these fail first, with a message that says where to look.
"""

import inspect
import json
import re

import pytest
from moto.awslambda.models import LambdaFunction

from damdrift_cli.local.lambda_adapter import HOOK_NAME
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import stack_of

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
    with LocalAws(
        {"username": publisher.username, "password": publisher.password}, parameters=stack_of(publisher)
    ) as aws:
        lambda_client = aws.client("lambda")
        name = "dam-drift-local-AuthenticateFunction"
        response = lambda_client.invoke(
            FunctionName=name,
            Payload=json.dumps(
                {
                    "input": {},
                    "execution": "x",
                    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:x",
                }
            ),
        )
        payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "InvalidInput"
    assert "publisher: required field is missing" in payload["errorMessage"]


def test_the_retry_sleeps_the_local_run_scales_are_the_only_use_of_time_in_their_modules() -> None:
    # LocalAws(retry_time_scale=...) swaps the ``time`` module of moto's retrier and of botocore's
    # endpoint for one whose sleep is scaled; anything else those modules did with ``time`` would break.
    from botocore import endpoint
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    for module in (endpoint, retrier_decl):
        source = inspect.getsource(module)
        uses = set(re.findall(r"\btime\.(\w+)", source))
        assert uses == {"sleep"}, f"{module.__name__} uses time.{uses}: review runner._scaled_retry_sleep"


def test_a_lambda_timed_out_after_its_handler_ran_reports_lambdas_timeout_error(publisher: Simulator) -> None:
    with LocalAws(
        {"username": publisher.username, "password": publisher.password}, parameters=stack_of(publisher)
    ) as aws:
        lambdas = aws._deployed.lambdas
        timeout = lambdas.time_out_after_run("AuthenticateFunction", after=1)
        for _ in range(2):
            response = aws.client("lambda").invoke(
                FunctionName="dam-drift-local-AuthenticateFunction",
                Payload=json.dumps({"input": {}, "execution": "x"}),
            )
        payload = json.loads(response["Payload"].read())
    assert (timeout.seen, timeout.applied) == (2, 1)
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after" in payload["errorMessage"]
    assert len(lambdas.invocations) == 2  # the handler ran both times: only the result was lost
