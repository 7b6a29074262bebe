"""poll-status: one look at the subscriber's resyncStatus; says how long to wait before the next look."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.observability import bind, logger, metrics
from damdrift.settings import PollSettings
from damdrift.state import SubscriberTask
from damdrift.steps.poll import poll_status
from damdrift.validation import parse_input

SETTINGS = PollSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_input(SubscriberTask, event, "poll-status event")
    bind(task.check.execution, task.subscriber.subscriber_id)
    return poll_status(task, SETTINGS, utcnow()).to_wire()
