"""report-viewer: the notices' links (a Lambda function URL). A signed, expiring link opens one
check's report or one publisher's overview, and nothing else (damdrift.viewer)."""

import base64
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.observability import logger
from damdrift.s3_client import s3_client
from damdrift.settings import ReportViewerSettings
from damdrift.viewer.keys import link_key
from damdrift.viewer.serve import S3Reports, respond

SETTINGS = ReportViewerSettings.from_env()
REPORTS = S3Reports(s3_client(), SETTINGS.report_bucket)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = LambdaFunctionUrlEvent(event)
    method, path = request.request_context.http.method, request.raw_path
    answer = respond(method, path, link_key(SETTINGS.report_viewer_key_secret), datetime.now(UTC), REPORTS)
    # The path is the capability: only the outcome is logged, never the link.
    logger.info("report viewer", extra={"status": answer.status, "method": method})
    return {
        "statusCode": answer.status,
        "headers": answer.headers,
        "body": base64.b64encode(answer.body).decode(),
        "isBase64Encoded": True,
    }
