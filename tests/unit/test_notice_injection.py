"""DX text cannot write markup into a notice: in chat (AWS Chatbot client-markdown, shown as Slack mrkdwn
or Teams markdown) a target host like ``<https://evil.example|Approve the resync>`` stays text, and in
the e-mail no DX value starts a line of its own (no forged "approve here" block)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from damdrift.execution_input import RemediateMode
from damdrift.models.remediation import RemediationPhase
from damdrift.models.summary import CheckStatus, ErrorInfo, Summary
from damdrift.remediation.notice import with_remediation_note
from damdrift.report.rendering.notice import notice_content
from damdrift.report.rendering.notification import render_notice
from damdrift.state import OutboundNotice
from tests.report_samples import build_notification

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
LOCATION = "s3://bucket/reports/dx.example.com/sub-1/2026/12/05/run-1/"
SLACK_LINK = "<https://evil.example|Approve the resync>"
FORGED_BLOCK = (
    "query failed\n\nReview and approve or deny (one use):\n  https://evil.example/approve\n\nStatus: IN_SYNC"
)


def check(status: CheckStatus = CheckStatus.DRIFT, **extra: Any) -> Summary:
    counts = {"MEDIA_ITEM": {"CREATE": 3}} if status is CheckStatus.DRIFT else {}
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "target_host": SLACK_LINK,
        "status": status,
        "counts": counts,
        "total": sum(n for a in counts.values() for n in a.values()),
        "execution": "run-1",
        "started_at": NOW,
        "finished_at": NOW,
    }
    fields.update(extra)
    return Summary(**fields)


def chat(summary: Summary) -> dict[str, Any]:
    rendered = render_notice(notice_content(summary, LOCATION), chat=True).chat
    assert rendered is not None
    event: dict[str, Any] = json.loads(rendered.message())
    return event


def rendered_text(event: dict[str, Any]) -> list[str]:
    """Every field Chatbot renders as markdown (title, description, next steps, keywords)."""
    content = event["content"]
    return [content["title"], content["description"], *content.get("nextSteps", []), *content["keywords"]]


def test_a_target_host_written_as_a_slack_link_is_shown_as_text_in_the_chat_title_and_body() -> None:
    event = chat(check())

    for text in rendered_text(event):
        assert "<" not in text, text  # every Slack link, mention and command starts with "<"
    assert "&lt;https://evil.example" in event["content"]["title"]
    assert "&lt;https://evil.example\\|Approve the resync&gt;" in event["content"]["description"]


def test_slack_mentions_and_entities_in_dx_text_stay_text_in_chat() -> None:
    error = ErrorInfo(type="DxError<!here>", message="<!channel> & <@U123> &lt;b&gt;")
    event = chat(check(CheckStatus.ERRORED, error=error, counts={}, total=0))

    description = event["content"]["description"]
    assert "<!channel>" not in description and "<@U123>" not in description
    assert "&lt;\\!channel&gt;" in description or "&lt;!channel&gt;" in description
    assert "&amp;lt;b&amp;gt;" in description  # DX's own entity is shown as DX wrote it, not decoded


def test_dx_newlines_in_the_chat_error_cannot_start_a_line() -> None:
    event = chat(check(CheckStatus.ERRORED, error=ErrorInfo(type="E", message=FORGED_BLOCK), counts={}))

    lines = event["content"]["description"].splitlines()
    assert not any(line.startswith(("Review", "Status", "  https")) for line in lines)


def test_the_e_mail_error_message_is_one_line_so_dx_cannot_forge_an_approval_block() -> None:
    summary = check(CheckStatus.ERRORED, error=ErrorInfo(type="E", message=FORGED_BLOCK), counts={})

    lines = build_notification(summary, LOCATION).message.splitlines()

    assert "Review and approve or deny (one use):" not in [line.strip() for line in lines]
    assert not any(line.strip() == "https://evil.example/approve" for line in lines)
    assert not any(line.strip().startswith("Status: IN_SYNC") for line in lines)
    message_lines = [line for line in lines if "query failed" in line]
    assert len(message_lines) == 1 and "https://evil.example/approve" in message_lines[0]


def test_the_remediation_paragraph_keeps_dx_text_on_one_line() -> None:
    notice = OutboundNotice(
        TopicArn="arn:aws:sns:eu-west-1:123456789012:t", Subject="s", Message="m\n", MessageAttributes={}
    )
    reason = "1 staging operation(s) FAILED on the subscriber (syncStaging\n\nApprove here:\n  https://evil.example)"

    amended = with_remediation_note(
        notice, RemediationPhase.REFUSED, f"Remediation (remediate: {RemediateMode.AUTO}) REFUSED: {reason}."
    )

    added = amended.Message.split("m\n\n", 1)[1].splitlines()
    assert len(added) == 1 and added[0].startswith("Remediation (remediate: auto) REFUSED: 1 staging")
    assert amended.MessageAttributes["remediation"]["StringValue"] == RemediationPhase.REFUSED.value


def test_the_approval_request_keeps_its_own_layout() -> None:
    notice = OutboundNotice(
        TopicArn="arn:aws:sns:eu-west-1:123456789012:t", Subject="s", Message="m", MessageAttributes={}
    )
    ours = [
        "Remediation (remediate: ask): ...",
        "",
        "Review and approve or deny (one use):",
        "  https://v.example/a/1",
    ]

    amended = with_remediation_note(notice, RemediationPhase.AWAITING_APPROVAL, ours)

    assert amended.Message == "m\n\n" + "\n".join(ours) + "\n"
