"""When not even the ERRORED summary can be stored, the ops notice and the subscriber check's output
tell both failures by their error and message, whatever their Cause is: a Lambda's error envelope
(JSON with a stack trace: only errorMessage is quoted), a text (Lambda's service errors), or nothing.
The real definition's states run in moto's interpreter from DescribeUnrecordedError on; the drift
check's could-not-start notice, from DescribeCheckFailure on, reads its Cause the same way."""

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from damdrift_cli.local.template import PROJECT_ROOT

DEFINITION = PROJECT_ROOT / "statemachine" / "subscriber_check.asl.json"
SUBSCRIBER = "sub-1"
ENVELOPE = json.dumps(
    {
        "errorMessage": "S3 refused the ERRORED summary (InternalError)",
        "errorType": "ReportStorageError",
        "requestId": "7a0c1b5e-0000-4000-8000-000000000000",
        "stackTrace": [
            '  File "/var/task/damdrift/store.py", line 75, in storing\n    raise ReportStorageError(\n'
        ],
    }
)

TIMEOUT = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 900.00 seconds"})


def machine(definition: Path, start_at: str) -> dict[str, Any]:
    """The real definition's states in moto's interpreter from ``start_at``, the ops topic read through
    a queue."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="ops")["TopicArn"]
    queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    text = re.sub(r"\$\{OpsTopicArn\}", topic, definition.read_text())
    text = re.sub(r"\$\{\w+\}", "arn:aws:lambda:us-east-1:123456789012:function:unused", text)
    states = {**json.loads(text), "StartAt": start_at}
    arn = boto3.client("stepfunctions").create_state_machine(
        name=start_at,
        definition=json.dumps(states),
        roleArn="arn:aws:iam::123456789012:role/dam-drift-StateMachineRole",
    )["stateMachineArn"]
    return {"machine": arn, "queue": queue}


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def aws(moto_aws: None) -> dict[str, Any]:
    return machine(DEFINITION, "DescribeUnrecordedError")


def run(
    aws: dict[str, Any], error: dict[str, str], record_error: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The notice's message and the execution's output, from DescribeUnrecordedError on."""
    sfn = boto3.client("stepfunctions")
    execution_input = {
        "check": {"execution": "exec-1"},
        "subscriber": {"subscriberId": SUBSCRIBER},
        "error": error,
        "recordError": record_error,
    }
    running = set(threading.enumerate())
    arn = sfn.start_execution(stateMachineArn=aws["machine"], input=json.dumps(execution_input))[
        "executionArn"
    ]
    for worker in set(threading.enumerate()) - running:  # moto's interpreter runs it on a thread of its own
        worker.join(timeout=30)
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "SUCCEEDED", described
    [message] = boto3.client("sqs").receive_message(QueueUrl=aws["queue"]).get("Messages", [])
    return json.loads(message["Body"])["Message"], json.loads(described["output"])


@pytest.mark.parametrize(
    ("error", "told"),
    [
        pytest.param(
            {"Error": "ReportStorageError", "Cause": ENVELOPE},
            "ReportStorageError: S3 refused the ERRORED summary (InternalError)",
            id="lambda-envelope",
        ),
        pytest.param(
            {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate Exceeded. (Service: AWSLambda)"},
            "Lambda.TooManyRequestsException: Rate Exceeded. (Service: AWSLambda)",
            id="text",
        ),
        pytest.param({"Error": "{not JSON", "Cause": "{not JSON"}, "{not JSON: {not JSON", id="brace-text"),
        pytest.param({"Error": "States.Timeout"}, "States.Timeout: (no message)", id="no-cause"),
        # A text that is a brace pair but no JSON is quoted as it is, never parsed (a failed parse in a
        # Pass would fail the execution and lose this very notice); a timeout's envelope, errorType
        # first, is an envelope all the same.
        pytest.param({"Error": "Broken", "Cause": "{x}"}, "Broken: {x}", id="brace-pair-text"),
        pytest.param(
            {"Error": "Sandbox.Timedout", "Cause": TIMEOUT},
            "Sandbox.Timedout: Task timed out after 900.00 seconds",
            id="timeout-envelope",
        ),
    ],
)
def test_the_could_not_store_notice_tells_each_failure_by_its_error_and_message_never_its_stack_trace(
    aws: dict[str, Any], error: dict[str, str], told: str
) -> None:
    first = {
        "Error": "DxUnavailable",
        "Cause": json.dumps({"errorMessage": "DX answered 503", "stackTrace": []}),
    }

    message, output = run(aws, first, error)

    assert "What happened: DxUnavailable: DX answered 503 " in message
    assert message.endswith(f"Storing the ERRORED summary failed: {told}")
    assert "stackTrace" not in message and ".py" not in message
    assert output["error"] == {"Error": "DxUnavailable", "Cause": "DX answered 503"}
    assert output["recordError"] == {"Error": error["Error"], "Cause": told.split(": ", 1)[1]}
    assert output["status"] == "ERRORED" and output["notified"]["status"] == "SENT"


def executed(aws: dict[str, Any], execution_input: dict[str, Any]) -> tuple[list[str], str]:
    """The messages the ops topic got and the execution's status."""
    sfn = boto3.client("stepfunctions")
    running = set(threading.enumerate())
    arn = sfn.start_execution(stateMachineArn=aws["machine"], input=json.dumps(execution_input))[
        "executionArn"
    ]
    for worker in set(threading.enumerate()) - running:
        worker.join(timeout=30)
    received = boto3.client("sqs").receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)
    messages = [json.loads(m["Body"])["Message"] for m in received.get("Messages", [])]
    return messages, sfn.describe_execution(executionArn=arn)["status"]


@pytest.mark.parametrize(
    ("error", "told"),
    [
        pytest.param(
            {"Error": "CredentialsError", "Cause": ENVELOPE}, "CredentialsError: S3 refused", id="envelope"
        ),
        pytest.param({"Error": "Broken", "Cause": "{x}"}, "Broken: {x}", id="brace-pair-text"),
        pytest.param({"Error": "States.Timeout"}, "States.Timeout: States.Timeout", id="no-cause"),
    ],
)
def test_the_could_not_start_notice_is_sent_whatever_the_cause_looks_like(
    moto_aws: None, error: dict[str, str], told: str
) -> None:
    aws = machine(DEFINITION.with_name("drift_check.asl.json"), "DescribeCheckFailure")

    messages, status = executed(aws, {"error": error})

    [message] = messages
    assert message.startswith("dam-drift could not check the publisher. Execution: ")
    assert f"Error: {told}" in message and "stackTrace" not in message
    assert status == "FAILED"  # CheckFailed: the run failed, and said why
