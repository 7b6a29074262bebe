"""At most one remediation per subscriber per UTC day: a marker object that only the first writer creates.

The marker is written with S3's conditional create (``If-None-Match: *``) before the resync starts,
so two executions racing for the same subscriber cannot both start one. A retry of the same
execution's step finds its own marker and goes on (the step must be idempotent); ``force`` overwrites.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from damdrift.errors import RemediationRefused
from damdrift.report_layout import key_segment
from damdrift.store import ReportStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = "remediations"


class RemediationLedger:
    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._store = ReportStore(s3_client, bucket)

    @staticmethod
    def key(publisher: str, subscriber_id: str, now: datetime) -> str:
        day = now.astimezone(UTC)
        return (
            f"{ROOT}/{key_segment('publisher', publisher)}/{key_segment('subscriberId', subscriber_id)}/"
            f"{day:%Y-%m-%d}.json"
        )

    def today(self, publisher: str, subscriber_id: str, now: datetime) -> dict[str, Any] | None:
        """Today's marker for the subscriber, or None (one that is not a JSON object: an unknown writer's)."""
        marker, _ = self._store.get_document_version(self.key(publisher, subscriber_id, now))
        return None if marker is None else marker or {"execution": "unknown"}

    def claim(
        self, publisher: str, subscriber_id: str, now: datetime, execution: str, *, force: bool
    ) -> None:
        """Write today's marker; RemediationRefused if another execution wrote it first (unless forced)."""
        document = {
            "execution": execution,
            "subscriberId": subscriber_id,
            "at": now.isoformat(),
            "forced": force,
        }
        if self._put(publisher, subscriber_id, now, document, only_new=not force):
            return
        marker = self.today(publisher, subscriber_id, now) or {}
        if marker.get("execution") == execution:
            return  # this step, retried: the resync it started is ours
        raise RemediationRefused(already_today(marker))

    def mark_triggered(self, publisher: str, subscriber_id: str, now: datetime, execution: str) -> None:
        """Record that this execution's resync request reached DX, so a retried step joins it."""
        at = now.isoformat()
        document = {"execution": execution, "subscriberId": subscriber_id, "at": at, "triggeredAt": at}
        self._put(publisher, subscriber_id, now, document)

    def triggered_by(
        self, publisher: str, subscriber_id: str, now: datetime, execution: str
    ) -> datetime | None:
        """When ``execution`` sent today's resync request for the subscriber, or None."""
        marker = self.today(publisher, subscriber_id, now)
        if marker is None or marker.get("execution") != execution or not marker.get("triggeredAt"):
            return None
        return datetime.fromisoformat(str(marker["triggeredAt"]))

    def _put(
        self,
        publisher: str,
        subscriber_id: str,
        now: datetime,
        document: dict[str, Any],
        *,
        only_new: bool = False,
    ) -> bool:
        key = self.key(publisher, subscriber_id, now)
        return self._store.put_document(key, document, check_prefix=key, only_new=only_new)


def already_today(marker: dict[str, Any]) -> str:
    return (
        f"a remediation already ran for this subscriber today (execution {marker.get('execution', '?')}, "
        f"at {marker.get('at', '?')}); at most one a day unless remediation.force is true"
    )
