"""summarise-run: the fleet step after the Map - run.json, the overview once, the run's notices, metrics."""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.observability import bind, logger, metrics
from damdrift.s3_client import s3_client
from damdrift.settings import SummariseRunSettings
from damdrift.state import RunEvent
from damdrift.steps.summarise import summarise_run
from damdrift.store import ReportStore
from damdrift.validation import parse_input

SETTINGS = SummariseRunSettings.from_env()
STORE = ReportStore(s3_client(), SETTINGS.report_bucket)
SNS = boto3.client("sns")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = parse_input(RunEvent, event, "summarise-run event")
    bind(run.check.execution, None)
    return summarise_run(run, SETTINGS, STORE, SNS, utcnow()).to_wire()
