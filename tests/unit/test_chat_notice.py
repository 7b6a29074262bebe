"""The chat notice: AWS Chatbot's custom notification, checked against the event schema AWS documents
(adminguide "Custom notifications": version "1.0", source "custom", content with a description,
optional title/textType/nextSteps/keywords, optional metadata), for DRIFT, IN_SYNC (when the policy
announces it) and ERRORED. The schema is written out here from the documentation, independently of the
model that builds the message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from damdrift.execution_input import NotifyPolicy
from damdrift.models.summary import AgeOf, Changes, CheckStatus, DriftAge, ErrorInfo, Summary
from damdrift.report.rendering.chat import publish_chat
from damdrift.report.rendering.notice import ReportLink, notice_content
from damdrift.report.rendering.notification import render_notice
from damdrift.steps.fetch import should_notify
from tests.aws import REGION, fake_credentials

NOW = datetime(2026, 11, 27, 5, 4, tzinfo=UTC)
HOSTILE_HOST = "[click](https://evil.example) *bold* <!channel>\u202e.example.com"
LOCATION = "s3://bucket/reports/dx.example.com/sub-1/2026/11/27/run-1/"
LINK = ReportLink(
    url="https://v.example/r/1/s/reports/dx.example.com/sub-1/2026/11/27/run-1/report.html",
    overview_url="https://v.example/o/1/s/reports/dx.example.com/overview.html",
    console_url="https://us-east-1.console.aws.amazon.com/s3/buckets/bucket?prefix=reports%2F",
    expires=NOW + timedelta(days=7),
)

#: AWS's documented event schema: field -> (required, type); nested objects spelled out.
STRING_LIST = "list[str]"
SCHEMA: dict[str, Any] = {
    "version": (True, "1.0"),
    "source": (True, "custom"),
    "id": (False, str),
    "content": (
        True,
        {
            "textType": (False, "client-markdown"),
            "title": (False, str),
            "description": (True, str),
            "nextSteps": (False, STRING_LIST),
            "keywords": (False, STRING_LIST),
        },
    ),
    "metadata": (
        False,
        {
            "threadId": (False, str),
            "summary": (False, str),
            "eventType": (False, str),
            "relatedResources": (False, STRING_LIST),
            "additionalContext": (False, "dict[str, str]"),
        },
    ),
}


def problems(document: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    found = []
    if not isinstance(document, dict):
        return [f"{where or 'event'} is not an object"]
    for name in document.keys() - schema.keys():
        found.append(f"{where}{name}: not in the documented schema")
    for name, (required, kind) in schema.items():
        if name not in document:
            if required:
                found.append(f"{where}{name}: required")
            continue
        value = document[name]
        if isinstance(kind, dict):
            found += problems(value, kind, f"{where}{name}.")
        elif kind is str:
            found += [] if isinstance(value, str) and value else [f"{where}{name}: a non-empty string"]
        elif kind == STRING_LIST:
            ok = isinstance(value, list) and all(isinstance(item, str) and item for item in value)
            found += [] if ok else [f"{where}{name}: a list of strings"]
        elif kind == "dict[str, str]":
            ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            found += [] if ok else [f"{where}{name}: an object of strings"]
        elif value != kind:
            found.append(f"{where}{name}: must be {kind!r}")
    return found


def summary(status: CheckStatus, **extra: Any) -> Summary:
    counts = {"MEDIA_ITEM": {"CREATE": 140, "UPDATE": 37}} if status is CheckStatus.DRIFT else {}
    return Summary(
        publisher="dx.example.com",
        subscriber_id="sub-1",
        target_host=HOSTILE_HOST,
        status=status,
        counts=counts,
        total=sum(n for a in counts.values() for n in a.values()),
        execution="run-1",
        started_at=NOW,
        finished_at=NOW,
        error=ErrorInfo(
            type="FindMismatchFailed",
            message="find-staging-mismatch failed",
            diagnosis={"operation": {"status": "FAILED", "retryCounter": 1}},
        )
        if status is CheckStatus.ERRORED
        else None,
        **extra,
    )


def posted(check: Summary) -> dict[str, Any]:
    event = render_notice(notice_content(check, LOCATION, link=LINK), chat=True).chat
    assert event is not None
    document: dict[str, Any] = json.loads(event.message())
    return document


def test_a_drift_notice_fits_the_documented_schema_with_counts_age_links_and_next_steps() -> None:
    check = summary(
        CheckStatus.DRIFT,
        changes=Changes(previous_execution="run-0", new=5, resolved=2, unchanged=172),
        drift_age=DriftAge(
            since=NOW - timedelta(days=20),
            since_execution="run-x",
            checks=21,
            by_type={"MEDIA_ITEM": AgeOf(checks=21)},
        ),
    )
    event = posted(check)
    assert problems(event, SCHEMA) == []
    content = event["content"]
    assert content["title"].startswith("[DRIFT] dx.example.com -> ")
    assert "*177* mismatches" in content["description"] and "+5 new, -2 resolved" in content["description"]
    assert "Drifting since 2026-11-07 05:04 (21 checks)" in content["description"]
    assert LINK.url in content["description"]
    assert any(LINK.overview_url in step for step in content["nextSteps"])
    assert any(
        "damdrift baseline create reports/dx.example.com/sub-1/" in step for step in content["nextSteps"]
    )
    assert event["metadata"]["threadId"] == "dam-drift/dx.example.com/sub-1"


def test_a_drift_notices_remediate_step_is_the_command_with_the_publishers_protocol_and_port() -> None:
    check = summary(CheckStatus.DRIFT).model_copy(
        update={"publisher": "dx.example.com_8085", "dx_protocol": "http"}
    )
    event = posted(check)
    (remediate,) = [step for step in event["content"]["nextSteps"] if step.startswith("Remediate")]
    command = remediate.split(": ", 1)[1]
    assert command == (
        "damdrift check --hostname dx.example.com --dx-protocol http --dx-port 8085 --subscriber-id sub-1 "
        "--remediate ask"
    )


def test_a_chat_title_leaves_out_resolved_when_every_resolved_record_was_ignored() -> None:
    changes = Changes(previous_execution="run-0", new=5, resolved=2, resolved_ignored=2, unchanged=172)
    title = posted(summary(CheckStatus.DRIFT, changes=changes))["content"]["title"]
    assert title.endswith(": 177 mismatches (+5 new)")


def test_an_in_sync_notice_is_sent_when_the_policy_says_so_and_fits_the_schema() -> None:
    check = summary(CheckStatus.IN_SYNC)
    assert not should_notify(NotifyPolicy.ON_DRIFT, check) and should_notify(NotifyPolicy.ALWAYS, check)
    event = posted(check)
    assert problems(event, SCHEMA) == []
    assert (
        event["content"]["title"].startswith("[IN SYNC]")
        and "*0* mismatches" in event["content"]["description"]
    )


def test_an_errored_notice_fits_the_schema_with_dxs_diagnosis_as_the_next_step() -> None:
    event = posted(summary(CheckStatus.ERRORED))
    assert problems(event, SCHEMA) == []
    assert "*FindMismatchFailed*" in event["content"]["description"]
    assert any("retryCounter > 0" in step for step in event["content"]["nextSteps"])


def test_a_hostile_host_name_cannot_format_the_message_or_forge_a_link() -> None:
    description = posted(summary(CheckStatus.DRIFT))["content"]["description"]
    first_line = description.splitlines()[0]
    assert "\\[click\\]\\(https://evil.example\\)" in first_line and "\\*bold\\*" in first_line
    # Slack's control characters as entities (a backslash escapes nothing in Slack: \\<!channel> pings).
    assert "&lt;!channel&gt;" in first_line and "<!channel>" not in description
    assert "\u202e" not in description


def test_the_schema_check_itself_catches_what_the_documentation_forbids() -> None:
    assert problems({"version": "1.0", "source": "custom", "content": {}}, SCHEMA) == [
        "content.description: required"
    ]
    assert "colour: not in the documented schema" in problems(
        {"version": "2", "source": "custom", "content": {"description": "d"}, "colour": "red"}, SCHEMA
    )


def test_publishing_sends_the_event_as_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    fake_credentials(monkeypatch)
    with mock_aws():
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="chat")["TopicArn"]
        queue = sqs.create_queue(QueueName="chat")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        from damdrift.report.rendering import chat

        chat._sns.cache_clear()
        event = render_notice(notice_content(summary(CheckStatus.DRIFT), LOCATION, link=LINK), chat=True).chat
        assert event is not None
        assert publish_chat(topic, event)
        [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
        assert problems(json.loads(message["Body"]), SCHEMA) == []
        assert not publish_chat(topic + "-missing", event)
        chat._sns.cache_clear()
