"""remediate: plan a remediation after DRIFT, start the resync, watch it (the ASL names the action)."""

from functools import cache
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.model_base import WireModel
from damdrift.observability import bind, logger, metrics
from damdrift.remediation.ledger import RemediationLedger
from damdrift.s3_client import s3_client
from damdrift.settings import RemediateSettings
from damdrift.state import SubscriberTask
from damdrift.steps.remediate import plan_remediation, poll_remediation, start_remediation
from damdrift.validation import parse_input

SETTINGS = RemediateSettings.from_env()


@cache
def ledger() -> RemediationLedger:
    """plan and start read or write today's marker; poll, the most frequent call, never does."""
    return RemediationLedger(s3_client(), SETTINGS.report_bucket)


class RemediateEvent(WireModel):
    action: Literal["plan", "start", "poll"]
    task: SubscriberTask


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_input(RemediateEvent, event, "remediate event")
    task, now = request.task, utcnow()
    bind(task.check.execution, task.subscriber.subscriber_id)
    if request.action == "plan":  # the whole task: its drift notice now says what happens next
        return plan_remediation(task, SETTINGS, ledger(), now).to_wire()
    if request.action == "start":
        return start_remediation(task, SETTINGS, ledger(), now).to_wire()
    return poll_remediation(task, SETTINGS, now).to_wire()
