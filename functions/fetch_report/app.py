"""fetch-report: streams the whole mismatch report to S3, writes the summary, and prepares the notice."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.observability import bind, logger, metrics
from damdrift.s3_client import s3_client
from damdrift.settings import FetchReportSettings
from damdrift.state import SubscriberTask
from damdrift.steps.fetch import fetch_report
from damdrift.store import ReportStore
from damdrift.validation import parse_input

SETTINGS = FetchReportSettings.from_env()
# SigV4 for the notice's pre-signed link to the HTML report: S3 refuses SigV2 for newer buckets.
STORE = ReportStore(s3_client(), SETTINGS.report_bucket)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_input(SubscriberTask, event, "fetch-report event")
    bind(task.check.execution, task.subscriber.subscriber_id)
    return fetch_report(task, SETTINGS, STORE, utcnow()).model_dump(mode="json", by_alias=True)
