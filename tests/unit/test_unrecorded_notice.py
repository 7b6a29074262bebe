"""When not even the ERRORED summary can be stored, the ops notice and the subscriber check's output
tell both failures by their error and message, whatever their Cause is: a Lambda's error envelope
(JSON with a stack trace: only errorMessage is quoted), a text (Lambda's service errors), or nothing.
The real definition's states run in moto's interpreter from DescribeUnrecordedError on."""

import json
import re
import threading
from collections.abc import Iterator
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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="ops")["TopicArn"]
        queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        text = re.sub(r"\$\{OpsTopicArn\}", topic, DEFINITION.read_text())
        text = re.sub(r"\$\{\w+\}", "arn:aws:lambda:us-east-1:123456789012:function:unused", text)
        definition = {**json.loads(text), "StartAt": "DescribeUnrecordedError"}
        machine = boto3.client("stepfunctions").create_state_machine(
            name="unrecorded",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/dam-drift-StateMachineRole",
        )["stateMachineArn"]
        yield {"machine": machine, "queue": queue}


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
