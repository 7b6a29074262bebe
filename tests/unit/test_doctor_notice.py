"""The doctor function's ops notice: a subject SNS accepts whatever the publisher id (SNS Publish: fewer
than 100 characters, no line breaks or control characters), sent after doctor.json is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from damdrift.doctor import Status
from damdrift.dx.connection import DxConnection
from damdrift.errors import CredentialsError
from damdrift.settings import DoctorSettings
from damdrift.steps import doctor as step
from tests.aws import Recorder

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops"


def run(hostname: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    def unreadable(secret: str) -> None:
        raise CredentialsError(f"secret {secret!r} could not be read (ResourceNotFoundException)")

    monkeypatch.setattr(step, "load_credentials", unreadable)  # a FAIL line, and no request to DX
    settings = DoctorSettings.model_validate(
        {
            "REPORT_BUCKET": "reports",
            "OPS_TOPIC_ARN": TOPIC,
            "ALLOWED_DX_HOSTS": "*",
            "CREDENTIALS_SECRET": "dx",
        }
    )
    publisher = DxConnection.model_validate({"hostname": hostname, "dxPort": 10443})
    s3, sns = Recorder(), Recorder()
    step.run_doctor_step(step.DoctorRequest(publisher=publisher), settings, s3, sns, NOW)  # type: ignore[arg-type]
    assert len(s3.calls) == 1 and len(sns.calls) == 1  # stored, then sent
    return sns.calls[0]


def test_a_long_publisher_id_still_gives_a_subject_of_fewer_than_100_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostname = "dx-publisher-" + "a" * 40 + ".staging-" + "b" * 40 + ".example.com"

    sent = run(hostname, monkeypatch)

    assert len(sent["Subject"]) < 100
    assert sent["Subject"].startswith(f"dam-drift doctor: {Status.FAIL.value} dx-publisher-aaa")
    assert sent["Subject"].isascii() and sent["Subject"].isprintable()


def test_a_short_publisher_id_is_named_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = run("dx.example.com", monkeypatch)

    assert sent["Subject"] == "dam-drift doctor: FAIL dx.example.com_10443"
