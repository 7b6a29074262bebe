"""doctor: probes the publisher read-only from inside the stack, stores doctor.json, tells the ops topic.

Invoked directly: ``aws lambda invoke --function-name <DoctorFunctionName> --payload '{}' doctor.json``
(docs/deploy.md). Not part of the drift check's state machine.
"""

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.doctor.account import concurrency_check
from damdrift.observability import logger, metrics
from damdrift.s3_client import s3_client
from damdrift.settings import DoctorSettings
from damdrift.steps.doctor import DoctorRequest, run_doctor_step
from damdrift.validation import parse_input

SETTINGS = DoctorSettings.from_env()
S3 = s3_client()
SNS = boto3.client("sns")
LAMBDA = boto3.client("lambda")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_input(DoctorRequest, event or {}, "doctor event")
    account = [concurrency_check(LAMBDA)]
    return run_doctor_step(request, SETTINGS, S3, SNS, datetime.now(UTC), account_checks=account)
