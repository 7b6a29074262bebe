"""trigger-mismatch: clears old mismatch rows and starts find-staging-mismatch (or joins a running one)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.observability import bind, logger, metrics
from damdrift.settings import TriggerSettings
from damdrift.state import SubscriberTask
from damdrift.steps.trigger import trigger_mismatch
from damdrift.validation import parse_input

SETTINGS = TriggerSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_input(SubscriberTask, event, "trigger-mismatch event")
    bind(task.check.execution, task.subscriber.subscriber_id)
    return trigger_mismatch(task, SETTINGS, utcnow()).to_wire()
