"""At most one remediation per subscriber per UTC day: a marker object that only the first writer creates.

The marker is written with S3's conditional create (``If-None-Match: *``) before the resync starts,
so two executions racing for the same subscriber cannot both start one. A retry of the same
execution's step finds its own marker and goes on (the step must be idempotent); ``force`` overwrites.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from damdrift.errors import RemediationRefused, ReportStorageError
from damdrift.store import key_segment

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = "remediations"


class RemediationLedger:
    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    @staticmethod
    def key(publisher: str, subscriber_id: str, now: datetime) -> str:
        day = now.astimezone(UTC)
        return (
            f"{ROOT}/{key_segment('publisher', publisher)}/{key_segment('subscriberId', subscriber_id)}/"
            f"{day:%Y-%m-%d}.json"
        )

    def today(self, publisher: str, subscriber_id: str, now: datetime) -> dict[str, Any] | None:
        """Today's marker for the subscriber, or None."""
        key = self.key(publisher, subscriber_id, now)
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise ReportStorageError(f"reading s3://{self.bucket}/{key} failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ReportStorageError(f"reading s3://{self.bucket}/{key} failed: {exc}") from exc
        try:
            marker = json.loads(body)
        except ValueError:
            marker = None
        return marker if isinstance(marker, dict) else {"execution": "unknown"}

    def claim(
        self, publisher: str, subscriber_id: str, now: datetime, execution: str, *, force: bool
    ) -> None:
        """Write today's marker; RemediationRefused if another execution wrote it first (unless forced)."""
        key = self.key(publisher, subscriber_id, now)
        body = json.dumps(
            {"execution": execution, "subscriberId": subscriber_id, "at": now.isoformat(), "forced": force}
        ).encode()
        extra: dict[str, Any] = {} if force else {"IfNoneMatch": "*"}
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **extra
            )
        except ClientError as exc:
            if _code(exc) not in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise ReportStorageError(f"storing s3://{self.bucket}/{key} failed: {_code(exc)}") from exc
            marker = self.today(publisher, subscriber_id, now) or {}
            if marker.get("execution") == execution:
                return  # this step, retried: the resync it started is ours
            raise RemediationRefused(already_today(marker)) from None
        except BotoCoreError as exc:
            raise ReportStorageError(f"storing s3://{self.bucket}/{key} failed: {exc}") from exc

    def mark_triggered(self, publisher: str, subscriber_id: str, now: datetime, execution: str) -> None:
        """Record that this execution's resync request reached DX, so a retried step joins it."""
        key = self.key(publisher, subscriber_id, now)
        body = json.dumps(
            {
                "execution": execution,
                "subscriberId": subscriber_id,
                "at": now.isoformat(),
                "triggeredAt": now.isoformat(),
            }
        ).encode()
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        except (BotoCoreError, ClientError) as exc:
            raise ReportStorageError(f"storing s3://{self.bucket}/{key} failed: {exc}") from exc

    def triggered_by(
        self, publisher: str, subscriber_id: str, now: datetime, execution: str
    ) -> datetime | None:
        """When ``execution`` sent today's resync request for the subscriber, or None."""
        marker = self.today(publisher, subscriber_id, now)
        if marker is None or marker.get("execution") != execution or not marker.get("triggeredAt"):
            return None
        return datetime.fromisoformat(str(marker["triggeredAt"]))


def already_today(marker: dict[str, Any]) -> str:
    return (
        f"a remediation already ran for this subscriber today (execution {marker.get('execution', '?')}, "
        f"at {marker.get('at', '?')}); at most one a day unless remediation.force is true"
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
