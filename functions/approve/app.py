"""approve: the approval link's endpoint (a Lambda function URL). GET asks, POST answers and resumes.

The URL is public: a form body larger than the two-field form can be is refused before it is parsed,
and the function's reserved concurrency (template.yaml) bounds what a flood of requests can take.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import boto3
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.errors import ApprovalError
from damdrift.observability import logger, metrics
from damdrift.remediation.approval import ApprovalStore
from damdrift.remediation.approval_page import HEADERS, answered_page, error_page, question_page
from damdrift.s3_client import s3_client
from damdrift.settings import ApproveSettings
from damdrift.steps.approval import answer_approval

SETTINGS = ApproveSettings.from_env()
APPROVALS = ApprovalStore(s3_client(), SETTINGS.report_bucket)
app = LambdaFunctionUrlResolver()
#: The form is ``id`` (32 characters) and ``decision``: 2 KiB is far more than a real answer needs.
MAX_BODY_BYTES = 2048
_MAX_FIELDS = 4


@cache
def step_functions() -> Any:
    """Only an answer (a POST) needs it; opening the link (a GET) does not pay for the client."""
    return boto3.client("stepfunctions")


@app.get("/")
def ask() -> Response[str]:
    approval_id = (app.current_event.query_string_parameters or {}).get("id", "")
    try:
        return _html(200, question_page(APPROVALS.get(approval_id, now=datetime.now(UTC))))
    except ApprovalError as exc:
        return _html(410, error_page(exc.message))


@app.post("/")
def answer() -> Response[str]:
    form = _form()
    if form is None:
        return _html(
            413, error_page(f"the form is larger than {MAX_BODY_BYTES} bytes or has too many fields")
        )
    approval_id, decision = form.get("id", [""])[0], form.get("decision", [""])[0]
    if decision not in {"approve", "deny"}:
        return _html(400, error_page("expected decision=approve or decision=deny"))
    source = app.current_event.request_context.http.source_ip
    try:
        pending = answer_approval(
            APPROVALS,
            step_functions(),
            approval_id,
            approved=decision == "approve",
            decided_by=f"approval link ({source})",
            now=datetime.now(UTC),
        )
    except ApprovalError as exc:
        return _html(410, error_page(exc.message))
    return _html(200, answered_page(pending, decision == "approve"))


def _form() -> dict[str, list[str]] | None:
    """The POSTed form, or None when it is too large to be an answer (checked before parsing)."""
    event = app.current_event
    raw = event.body or ""
    # base64 carries 3 bytes in 4 characters
    limit = (MAX_BODY_BYTES + 2) // 3 * 4 if event.is_base64_encoded else MAX_BODY_BYTES
    if len(raw) > limit:
        return None
    text = event.decoded_body or ""
    if len(text.encode()) > MAX_BODY_BYTES:
        return None
    try:
        return parse_qs(text, max_num_fields=_MAX_FIELDS)
    except ValueError:  # more than _MAX_FIELDS fields
        return None


def _html(status: int, body: str) -> Response[str]:
    return Response(status_code=status, body=body, headers=HEADERS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
