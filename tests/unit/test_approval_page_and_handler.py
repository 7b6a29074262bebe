"""The approval link's function (a Lambda function URL) and the request that sends the link.

Both handlers are loaded from their folders as Lambda loads them (``functions/<name>/app.py``, settings
read from the environment at import), inside moto. The approve function's Step Functions client is
replaced by a small fake that records ``SendTaskSuccess``: moto would accept any token.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shlex
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError

from damdrift.remediation.approval import ApprovalStore, PendingApproval, handle_of
from damdrift.remediation.approval_page import HEADERS
from damdrift_cli.local.lambda_adapter import FakeContext
from tests.aws import REGION, REPORT_BUCKET, FakeStepFunctions, s3_with_report_bucket

ROOT = Path(__file__).resolve().parents[2]
BUCKET = REPORT_BUCKET
APPROVAL_URL = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
TOKEN = "AAAAKgAAAAIAAAAAAAAAAf4k3-t4sk-t0k3n-" + "Q" * 60
HOSTILE_HOST = "<script>alert('x')</script>.example.com"
SOURCE_IP = "203.0.113.7"

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@dataclass
class Aws:
    s3: Any
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str

    def approvals(self) -> ApprovalStore:
        return ApprovalStore(self.s3, BUCKET)

    def approval_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="approvals/")
        return [item["Key"] for item in listed.get("Contents", [])]

    def published(self) -> list[dict[str, Any]]:
        """What reached the topic's SQS subscription: SNS's envelope (Subject, Message, MessageAttributes)."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    environment = {
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "dam-drift",
        "POWERTOOLS_METRICS_NAMESPACE": "DamDrift",
        "REPORT_BUCKET": BUCKET,
    }
    for s3 in s3_with_report_bucket(monkeypatch, **environment):
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="dam-drift-DriftTopic")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="drift-capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield Aws(s3, sns, sqs, topic_arn, queue_url)


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/app.py`` as Lambda's runtime loads it: a cold start reading the environment."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"damdrift_test_{name}_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context(function: str) -> FakeContext:
    return FakeContext(function, 256, f"arn:aws:lambda:{REGION}:123456789012:function:{function}")


@pytest.fixture
def step_functions() -> Iterator[FakeStepFunctions]:
    fake = FakeStepFunctions()
    yield fake
    assert fake.failures == [], "an answer is always SendTaskSuccess"


@pytest.fixture
def approve(aws: Aws, step_functions: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_handler("approve")
    monkeypatch.setattr(module, "step_functions", lambda: step_functions)
    return module


def url_event(
    method: str, *, query: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Lambda function URL request (payload format 2.0), as a browser sends it from the page."""
    headers = {"host": "abcdefghij.lambda-url.us-east-1.on.aws", "user-agent": "Mozilla/5.0"}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "Mozilla/5.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Nov/2026:05:10:00 +0000",
            "timeEpoch": 1793509800000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if form is not None:
        # Function URLs base64-encode a form post's body (its content type is not a text type).
        headers["content-type"] = "application/x-www-form-urlencoded"
        event["body"] = base64.b64encode(urlencode(form).encode()).decode()
        event["isBase64Encoded"] = True
    return event


def call(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = module.lambda_handler(event, context("dam-drift-ApproveFunction"))
    return response


def ask_for(
    aws: Aws, *, target_host: str | None = "sub-1.example.com", timeout_seconds: int = 3600, **fields: Any
) -> PendingApproval:
    values: dict[str, Any] = {
        "execution": "exec-1",
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "mismatches": 9,
        "summary_key": "reports/dx.example.com/sub-1/2026/11/01/exec-1/summary.json",
    }
    values.update(fields)
    return aws.approvals().create(
        TOKEN, target_host=target_host, now=datetime.now(UTC), timeout_seconds=timeout_seconds, **values
    )


def assert_safe_headers(response: dict[str, Any]) -> None:
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["content-security-policy"] == HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] == "text/html; charset=utf-8"


# -- GET: the question, never an answer ------------------------------------------------------------------


def test_get_shows_the_question_with_both_buttons_and_answers_nothing(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)

    response = call(approve, url_event("GET", query={"id": pending.approval_id}))

    assert response["statusCode"] == 200
    body = response["body"]
    assert "Start a staging resync?" in body
    assert "<b>9</b> mismatches" in body
    assert "dx.example.com" in body and "sub-1.example.com" in body and "exec-1" in body
    assert '<form method="post">' in body
    assert f'<input type="hidden" name="id" value="{pending.approval_id}">' in body
    assert 'value="approve"' in body and 'value="deny"' in body
    assert step_functions.successes == []
    assert aws.approval_keys() == [f"approvals/{pending.handle}.json"], "still usable"


def test_opening_the_link_twice_still_answers_nothing(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    for _ in range(2):
        assert call(approve, url_event("GET", query={"id": pending.approval_id}))["statusCode"] == 200
    assert step_functions.successes == []


def test_get_html_escapes_every_value_from_dx_and_the_input(aws: Aws, approve: ModuleType) -> None:
    pending = ask_for(
        aws, target_host=HOSTILE_HOST, publisher="dx<img src=x>.example.com", execution='exec"><b>1'
    )

    body = call(approve, url_event("GET", query={"id": pending.approval_id}))["body"]

    assert "<script>" not in body and "<img" not in body and '"><b>1' not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;.example.com" in body
    assert "dx&lt;img src=x&gt;.example.com" in body
    assert "exec&quot;&gt;&lt;b&gt;1" in body


def test_get_without_a_target_host_names_the_subscriber_id(aws: Aws, approve: ModuleType) -> None:
    pending = ask_for(aws, target_host=None)
    body = call(approve, url_event("GET", query={"id": pending.approval_id}))["body"]
    assert "subscriber <b>sub-1</b>" in body


def test_get_of_an_unknown_id_is_gone(aws: Aws, approve: ModuleType) -> None:
    response = call(approve, url_event("GET", query={"id": "N" * 32}))
    assert response["statusCode"] == 410
    assert "This approval link cannot be used" in response["body"]
    assert "unknown or was already answered" in response["body"]
    assert_safe_headers(response)


def test_get_without_an_id_is_gone_and_names_no_id(aws: Aws, approve: ModuleType) -> None:
    response = call(approve, url_event("GET"))
    assert response["statusCode"] == 410
    assert "(malformed id)" in response["body"]


def test_a_malformed_id_is_not_reflected_into_the_page(aws: Aws, approve: ModuleType) -> None:
    response = call(approve, url_event("GET", query={"id": "<script>alert(1)</script>"}))
    assert response["statusCode"] == 410
    assert "script" not in response["body"]


def test_every_page_carries_the_csp_and_no_store_headers(aws: Aws, approve: ModuleType) -> None:
    pending = ask_for(aws)
    responses = [
        call(approve, url_event("GET", query={"id": pending.approval_id})),
        call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "maybe"})),
        call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "deny"})),
        call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "deny"})),
    ]
    assert [r["statusCode"] for r in responses] == [200, 400, 200, 410]
    for response in responses:
        assert_safe_headers(response)
        assert "<script" not in response["body"]


# -- POST: the answer, once -------------------------------------------------------------------------------


def test_approving_resumes_the_execution_once_and_uses_the_link_up(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws, target_host=HOSTILE_HOST)

    response = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "approve"}))

    assert response["statusCode"] == 200
    assert "Resync approved" in response["body"]
    assert "&lt;script&gt;" in response["body"] and "<script>" not in response["body"]
    (call_made,) = step_functions.successes
    assert call_made["taskToken"] == TOKEN
    answer = json.loads(call_made["output"])
    assert answer["approved"] is True
    assert answer["decidedBy"] == f"approval link ({SOURCE_IP})"
    assert set(answer) == {"approved", "decidedBy", "decidedAt"}
    assert aws.approval_keys() == []


def test_denying_resumes_the_execution_with_a_denial(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)

    response = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "deny"}))

    assert response["statusCode"] == 200
    assert (
        "Resync denied" in response["body"]
        and "Nothing will be changed on sub-1.example.com" in response["body"]
    )
    (call_made,) = step_functions.successes
    assert json.loads(call_made["output"])["approved"] is False


def test_a_second_answer_is_gone_and_does_not_resume_anything(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "approve"}))

    again = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "deny"}))

    assert again["statusCode"] == 410
    assert "already answered" in again["body"]
    assert len(step_functions.successes) == 1


@pytest.mark.parametrize("decision", ["", "yes", "APPROVE", "approve "])
def test_a_bad_decision_is_a_bad_request_and_keeps_the_link_usable(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions, decision: str
) -> None:
    pending = ask_for(aws)

    response = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": decision}))

    assert response["statusCode"] == 400
    assert "expected decision=approve or decision=deny" in response["body"]
    assert step_functions.successes == []
    assert aws.approval_keys() == [f"approvals/{pending.handle}.json"]


def test_posting_to_an_unknown_id_is_gone(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    response = call(approve, url_event("POST", form={"id": "U" * 32, "decision": "approve"}))
    assert response["statusCode"] == 410
    assert step_functions.successes == []


def test_an_expired_request_is_gone_and_deleted(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    store = aws.approvals()
    s3_document = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key=f"approvals/{pending.handle}.json")["Body"].read()
    )
    s3_document["expiresAt"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    aws.s3.put_object(Bucket=BUCKET, Key=f"approvals/{pending.handle}.json", Body=json.dumps(s3_document))

    response = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "approve"}))

    assert response["statusCode"] == 410
    assert "expired at" in response["body"]
    assert step_functions.successes == []
    assert store.pending() == []


def test_get_of_an_expired_request_is_gone_and_shows_nothing_of_it(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws, timeout_seconds=0)

    response = call(approve, url_event("GET", query={"id": pending.approval_id}))

    assert response["statusCode"] == 410
    assert "expired at" in response["body"]
    assert "Start a staging resync?" not in response["body"] and "<form" not in response["body"]
    assert "sub-1.example.com" not in response["body"]
    assert step_functions.successes == []


# -- the public URL: bounded input ---------------------------------------------------------------------


def test_a_body_over_2_kib_is_refused_before_it_is_parsed(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = ask_for(aws)
    parsed: list[str] = []
    monkeypatch.setattr(approve, "parse_qs", lambda *a, **k: parsed.append("parsed") or {})
    padding = "x" * (approve.MAX_BODY_BYTES - len("id=&decision=approve&pad=") - len(pending.approval_id) + 1)
    form = {"id": pending.approval_id, "decision": "approve", "pad": padding}

    base64_body = call(approve, url_event("POST", form=form))
    plain = url_event("POST", form={})
    plain["body"], plain["isBase64Encoded"] = urlencode(form), False
    plain_body = call(approve, plain)

    assert len(urlencode(form)) == approve.MAX_BODY_BYTES + 1
    assert base64_body["statusCode"] == plain_body["statusCode"] == 413
    assert "larger than 2048 bytes" in base64_body["body"]
    assert_safe_headers(base64_body)
    assert parsed == [] and step_functions.successes == []
    assert aws.approval_keys() == [f"approvals/{pending.handle}.json"], "the link stays usable"


def test_a_body_of_exactly_2_kib_is_still_an_answer(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    padding = "x" * (approve.MAX_BODY_BYTES - len("id=&decision=approve&pad=") - len(pending.approval_id))
    form = {"id": pending.approval_id, "decision": "approve", "pad": padding}

    response = call(approve, url_event("POST", form=form))

    assert len(urlencode(form)) == approve.MAX_BODY_BYTES
    assert response["statusCode"] == 200
    assert len(step_functions.successes) == 1


def test_a_form_with_many_fields_is_refused(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    event = url_event("POST", form={})
    event["body"] = f"id={pending.approval_id}&decision=approve&" + "&".join(f"f{i}=" for i in range(200))
    event["body"], event["isBase64Encoded"] = event["body"][: approve.MAX_BODY_BYTES], False

    response = call(approve, event)

    assert response["statusCode"] == 413
    assert "too many fields" in response["body"]
    assert step_functions.successes == []


def test_the_page_may_not_be_framed(aws: Aws, approve: ModuleType) -> None:
    response = call(approve, url_event("GET", query={"id": ask_for(aws).approval_id}))
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_an_execution_that_no_longer_waits_is_gone(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    step_functions.error = ClientError(
        {"Error": {"Code": "TaskDoesNotExist", "Message": f"Task Token {TOKEN} does not exist"}},
        "SendTaskSuccess",
    )

    response = call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "approve"}))

    assert response["statusCode"] == 410
    assert "no longer awaited (TaskDoesNotExist)" in response["body"]
    assert TOKEN not in response["body"]
    assert aws.approval_keys() == []


def test_a_plain_text_form_body_is_read_too(
    aws: Aws, approve: ModuleType, step_functions: FakeStepFunctions
) -> None:
    pending = ask_for(aws)
    event = url_event("POST", form={})
    event["body"], event["isBase64Encoded"] = (
        urlencode({"id": pending.approval_id, "decision": "approve"}),
        False,
    )

    assert call(approve, event)["statusCode"] == 200
    assert len(step_functions.successes) == 1


def test_no_page_ever_shows_the_task_token(aws: Aws, approve: ModuleType) -> None:
    pending = ask_for(aws)
    bodies = [
        call(approve, url_event("GET", query={"id": pending.approval_id}))["body"],
        call(approve, url_event("POST", form={"id": pending.approval_id, "decision": "approve"}))["body"],
        call(approve, url_event("GET", query={"id": pending.approval_id}))["body"],
    ]
    assert all(TOKEN not in body for body in bodies)


# -- request_approval: the notice with the link ------------------------------------------------------------


def awaiting_task(aws: Aws, *, notification: bool = True) -> dict[str, Any]:
    """What the AskApproval state hands over: the task as the plan left it (AWAITING_APPROVAL)."""
    result: dict[str, Any] = {
        "outcome": {
            "subscriberId": "sub-1",
            "status": "DRIFT",
            "total": 9,
            "counts": {"KEYWORD": {"CREATE": 9}},
            "effectiveTotal": 9,
            "summaryKey": "reports/dx.example.com/sub-1/2026/11/01/exec-1/summary.json",
        },
        "notify": True,
    }
    if notification:
        result["notification"] = {
            "TopicArn": aws.topic_arn,
            "Subject": "[DRIFT] dx.example.com -> sub-1.example.com: 9 mismatches",
            "Message": "dam-drift check: DRIFT\n\nMismatches:     9\n",
            "MessageAttributes": {"status": {"DataType": "String", "StringValue": "DRIFT"}},
        }
    return {
        "check": {
            "execution": "exec-1",
            "executionArn": "arn:aws:states:eu-central-1:123456789012:execution:dam-drift-drift-check:exec-1",
            "publisher": {"hostname": "dx.example.com"},
            "publisherId": "dx.example.com",
            "credentialsSecret": "dam-drift/dx-credentials",
            "poll": {},
            "busyPolicy": "wait",
            "notifyPolicy": "on-drift",
            "maxConcurrency": 2,
            "startedAt": "2026-11-01T05:00:00Z",
            "remediation": {"approvalTimeoutSeconds": 7200},
        },
        "subscriber": {
            "subscriberId": "sub-1",
            "targetHost": "sub-1.example.com",
            "remediate": "ask",
            "ownDam": True,
        },
        "result": result,
        "remediation": {
            "mode": "ask",
            "phase": "AWAITING_APPROVAL",
            "initialTotal": 9,
            "initialEffectiveTotal": 9,
            "initialSummaryKey": "reports/dx.example.com/sub-1/2026/11/01/exec-1/summary.json",
        },
    }


def request(aws: Aws, task: dict[str, Any]) -> dict[str, Any]:
    module = load_handler("request_approval")
    response: dict[str, Any] = module.lambda_handler(
        {"taskToken": TOKEN, "approvalUrl": APPROVAL_URL, "task": task},
        context("dam-drift-RequestApprovalFunction"),
    )
    return response


def test_the_request_files_the_token_and_sends_the_notice_with_the_link_and_the_cli_line(aws: Aws) -> None:
    before = datetime.now(UTC)

    response = request(aws, awaiting_task(aws))

    (pending,) = aws.approvals().pending()
    assert pending.subscriber_id == "sub-1" and pending.mismatches == 9 and pending.execution == "exec-1"
    expires = datetime.fromisoformat(response["expiresAt"])
    assert expires == pending.expires_at
    assert before + timedelta(seconds=7200) <= expires <= datetime.now(UTC) + timedelta(seconds=7200)
    (notice,) = aws.published()
    assert notice["Subject"] == "[DRIFT] dx.example.com -> sub-1.example.com: 9 mismatches"
    message = notice["Message"]
    assert message.startswith("dam-drift check: DRIFT\n\nMismatches:     9\n")
    assert "Remediation (remediate: ask)" in message
    assert "Review and approve or deny (one use):" in message
    (approval_id,) = re.findall(r"\?id=([\w-]+)$", message, re.MULTILINE)
    assert handle_of(approval_id) == pending.handle  # listed by its handle; the link carries the id
    assert f"  {APPROVAL_URL.rstrip('/')}/?id={approval_id}" in message.splitlines()
    link = shlex.quote(f"{APPROVAL_URL.rstrip('/')}/?id={approval_id}")
    assert f"  damdrift approve {link}" in message.splitlines()  # the same URL, from a shell
    assert f"  damdrift approve {link} --deny" in message.splitlines()
    assert f"request {pending.handle[:8]}" in message  # as damdrift check's prompt names it
    assert notice["MessageAttributes"]["remediation"] == {"Type": "String", "Value": "AWAITING_APPROVAL"}
    assert notice["MessageAttributes"]["status"] == {"Type": "String", "Value": "DRIFT"}


def test_the_task_token_is_never_in_the_notice_nor_the_response(aws: Aws) -> None:
    response = request(aws, awaiting_task(aws))
    (notice,) = aws.published()
    assert TOKEN not in json.dumps(notice)
    assert TOKEN not in json.dumps(response)


def test_without_a_drift_topic_the_request_is_still_filed(aws: Aws) -> None:
    request(aws, awaiting_task(aws, notification=False))
    assert len(aws.approvals().pending()) == 1
    assert aws.published() == []


def test_the_request_needs_a_remediation_awaiting_approval(aws: Aws) -> None:
    task = awaiting_task(aws)
    task["remediation"]["phase"] = "READY"
    with pytest.raises(ValueError, match="AWAITING_APPROVAL"):
        request(aws, task)
    assert aws.approvals().pending() == []


def test_the_approval_request_event_never_shows_its_task_token(aws: Aws) -> None:
    module = load_handler("request_approval")
    sample = json.loads((ROOT / "events" / "request-approval.json").read_text())

    event = module.ApprovalRequestEvent.model_validate(sample)

    assert sample["taskToken"] not in repr(event) and sample["taskToken"] not in str(event)
    assert event.task_token == sample["taskToken"]
