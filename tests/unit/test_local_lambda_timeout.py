"""The local stack enforces each function's Timeout from template.yaml (damdrift_cli.local.lambda_adapter):
a handler that runs past it loses its result to Lambda's timeout error, as on AWS."""

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from damdrift_cli.local.lambda_adapter import InProcessLambdas, LocalFunction

HANDLER = """
def lambda_handler(event, context):
    return {"remainingMillis": context.get_remaining_time_in_millis()}
"""


def lambdas_with_clock(tmp_path: Path, readings: list[float], timeout: int = 30) -> InProcessLambdas:
    (tmp_path / "app.py").write_text(HANDLER, encoding="utf-8")
    function = LocalFunction("approve", tmp_path, "app.lambda_handler", {}, timeout=timeout)
    lambdas = InProcessLambdas({"approve": function})
    clock: Iterator[float] = iter(readings)
    lambdas.clock = lambda: next(clock)
    return lambdas


FN = SimpleNamespace(
    region="us-east-1", function_arn="arn:aws:lambda:us-east-1:123456789012:function:approve"
)


def test_a_handler_running_past_its_timeout_fails_as_lambdas_task_timed_out(tmp_path: Path) -> None:
    # started at 0 s; the handler reads the remaining time at 12 s; it ends at 31 s, past 30 s
    lambdas = lambdas_with_clock(tmp_path, [0.0, 12.0, 31.0])

    payload, errored, logs = lambdas._call(lambdas.functions["approve"], FN, {})

    assert errored
    envelope = json.loads(payload)
    assert envelope["errorType"] == "Sandbox.Timedout"
    assert envelope["errorMessage"].endswith("Task timed out after 30.00 seconds")
    assert "Task timed out after 30.00 seconds" in logs


def test_a_handler_within_its_timeout_answers_and_sees_its_remaining_time(tmp_path: Path) -> None:
    lambdas = lambdas_with_clock(tmp_path, [0.0, 12.0, 29.5])

    payload, errored, _ = lambdas._call(lambdas.functions["approve"], FN, {})

    assert not errored
    assert json.loads(payload) == {"remainingMillis": 18_000}
