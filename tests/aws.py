"""What tests need of AWS without AWS: moto's S3 with the report bucket, and a recording Step Functions."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "us-east-1"
REPORT_BUCKET = "dam-drift-reports"


def fake_credentials(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """boto3's environment for moto (never a real account), plus ``extra`` variables."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        **extra,
    }.items():
        monkeypatch.setenv(name, value)


def s3_with_report_bucket(monkeypatch: pytest.MonkeyPatch, **extra_env: str) -> Iterator[Any]:
    """moto's S3 (inside ``mock_aws``) holding an empty ``REPORT_BUCKET``: yield from a fixture."""
    fake_credentials(monkeypatch, **extra_env)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=REPORT_BUCKET)
        yield client


@dataclass
class FakeStepFunctions:
    """Records ``send_task_success``/``send_task_failure``; raises ``error`` instead when one is set.

    moto's Step Functions accepts any task token when no execution runs, so tests that need its
    answers for unknown or expired tokens use this.
    """

    error: ClientError | None = None
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def send_task_success(self, *, taskToken: str, output: str) -> Any:
        if self.error is not None:
            raise self.error
        self.successes.append({"taskToken": taskToken, "output": output})
        return {}

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> Any:
        self.failures.append({"taskToken": taskToken, "error": error, "cause": cause})
        return {}


class Recorder:
    """Stands in for the S3 and SNS clients of the doctor function: keeps each call's keyword arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)

    def publish(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
