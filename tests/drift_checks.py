"""A pytest plugin: ``drift_check_started_with``, a drift check execution in moto holding a given input.

Steps read a subscriber's own DAM connection from the drift check's execution input
(damdrift.subscriber_dam); tests that call those steps directly start such an execution first. moto
only records it (its interpreter is off here): nothing runs.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


@pytest.fixture
def drift_check_started_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with mock_aws():
        import boto3

        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="dam-drift-drift-check",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/dam-drift-StateMachineRole",
        )["stateMachineArn"]

        def start(execution_input: dict[str, Any]) -> str:
            started = sfn.start_execution(
                stateMachineArn=machine, name=f"check-{uuid.uuid4()}", input=json.dumps(execution_input)
            )
            arn: str = started["executionArn"]
            return arn

        yield start
