"""The doctor from inside AWS: the read-only probe with the stack's own secret, network and TLS bundle.

Invoked directly (``aws lambda invoke``; it is not a state of the drift check). It stores the report as
``doctor/<publisher>/<UTC time>/doctor.json`` in the report bucket and sends its lines to the ops topic.
A secret that cannot be read is itself a finding (a FAIL line), so the report is stored and sent anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from damdrift.credentials import load_credentials
from damdrift.doctor import Check, DoctorReport, Status, run_doctor
from damdrift.dx.connection import DxConnection
from damdrift.errors import CredentialsError, InvalidInput
from damdrift.model_base import WireModel
from damdrift.notice_text import sns_subject
from damdrift.observability import MetricUnit, logger, metrics
from damdrift.report_layout import key_segment
from damdrift.settings import DoctorSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient


class DoctorRequest(WireModel):
    """The invocation's payload; every field is optional: ``{}`` probes the stack's own publisher."""

    publisher: DxConnection | None = None
    subscriber_ids: list[str] = Field(default_factory=list, max_length=100)
    credentials_secret: str | None = Field(None, min_length=1)


def doctor_key(publisher_id: str, now: datetime) -> str:
    return f"doctor/{key_segment('publisher', publisher_id)}/{now:%Y%m%dT%H%M%SZ}/doctor.json"


def run_doctor_step(
    request: DoctorRequest,
    settings: DoctorSettings,
    s3: S3Client,
    sns: SNSClient,
    now: datetime,
    account_checks: Sequence[Check] = (),
) -> dict[str, Any]:
    publisher = request.publisher or settings.publisher
    if publisher is None:
        raise InvalidInput("invalid doctor event: publisher: required (the function has no DX_PUBLISHER)")
    secret = request.credentials_secret or settings.credentials_secret
    if not secret:
        raise InvalidInput("invalid doctor event: credentialsSecret: required (no CREDENTIALS_SECRET)")
    # Each secret goes only to the DX hosts and ports it is for, as in a drift check.
    settings.permit(publisher, "publisher", secret)
    try:
        credentials = load_credentials(secret)
    except CredentialsError as exc:
        report = DoctorReport(publisher=publisher.publisher_id)
        report.checks.append(Check(id="credentials", status=Status.FAIL, evidence=str(exc)))
    else:
        # One retry per request: the probe makes dozens of them, and a slow DX is a finding, not a wait.
        tuning = replace(settings.client_tuning(), retries=min(1, settings.dx_retries))
        report = run_doctor(publisher, credentials, request.subscriber_ids, tuning=tuning, now=now)
    report.checks.extend(account_checks)  # what the AWS account allows (damdrift.doctor.account)
    key = doctor_key(publisher.publisher_id, now)
    wire = report.to_wire()
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=key,
        Body=json.dumps(wire, indent=2).encode(),
        ContentType="application/json",
    )
    if settings.ops_topic_arn:
        subject = sns_subject(f"dam-drift doctor: {report.status.value} {publisher.publisher_id}")
        message = f"{report.text()}\n\nStored at s3://{settings.report_bucket}/{key}"
        sns.publish(
            TopicArn=settings.ops_topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": "doctor"},
                "status": {"DataType": "String", "StringValue": report.status.value},
                "publisher": {"DataType": "String", "StringValue": publisher.publisher_id},
            },
        )
    else:
        logger.warning("no OPS_TOPIC_ARN: the doctor report is stored but nobody is told")
    metrics.add_metric(name="DoctorRuns", unit=MetricUnit.Count, value=1)
    logger.info("doctor finished", extra={"status": report.status.value, "doctor_key": key})
    return {**wire, "doctorKey": key}
