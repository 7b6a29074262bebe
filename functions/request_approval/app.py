"""request-approval: files the waiting state's task token and sends the drift notice with an approval link.

Invoked by ``lambda:invoke.waitForTaskToken``: what it returns is not the state's output; the answer
(``SendTaskSuccess`` from the approve function or the CLI) is.
"""

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from damdrift.model_base import WireModel
from damdrift.observability import bind, logger, metrics
from damdrift.remediation.approval import ApprovalStore
from damdrift.s3_client import s3_client
from damdrift.settings import RequestApprovalSettings
from damdrift.state import SubscriberTask
from damdrift.steps.approval import request_approval
from damdrift.validation import parse_input

SETTINGS = RequestApprovalSettings.from_env()
APPROVALS = ApprovalStore(s3_client(), SETTINGS.report_bucket)
SNS = boto3.client("sns")


class ApprovalRequestEvent(WireModel):
    task_token: str = Field(repr=False)  # it resumes the execution: never in a log line
    #: The approve function's URL (empty where nothing serves it: the notice then names the CLI).
    approval_url: str = Field("", pattern=r"^(https://\S+)?$")
    task: SubscriberTask


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_input(ApprovalRequestEvent, event, "request-approval event")
    bind(request.task.check.execution, request.task.subscriber.subscriber_id)
    pending = request_approval(
        request.task, request.task_token, request.approval_url or None, APPROVALS, SNS, datetime.now(UTC)
    )
    return {"expiresAt": pending.expires_at.isoformat()}
