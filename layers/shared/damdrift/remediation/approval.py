"""Approval of a remediation by a person: a one-time link in the drift notice resumes the waiting state.

The state machine waits in a ``lambda:invoke.waitForTaskToken`` task. Its task token is stored in the
report bucket under a random approval id (``approvals/<id>.json``, encrypted like the reports) and only
that id travels in the e-mail link, so the token never appears in a notice, a log line or an output.
Answering uses the id once: the record is deleted after Step Functions accepted the answer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from damdrift.errors import ApprovalError, ReportStorageError
from damdrift.remediation.models import ApprovalAnswer
from damdrift.store import ReportStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = "approvals"
#: 32 url-safe characters: 192 random bits, the link's only secret.
_ID_BYTES = 24


class TaskCallbacks(Protocol):
    """The two Step Functions calls an answer makes (a boto3 ``stepfunctions`` client has them)."""

    def send_task_success(self, *, taskToken: str, output: str) -> Any: ...

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> Any: ...


@dataclass(frozen=True)
class PendingApproval:
    """What a person is asked to approve (shown on the approval page and by ``damdrift check``)."""

    approval_id: str
    execution: str
    publisher: str
    subscriber_id: str
    target_host: str | None
    mismatches: int
    summary_key: str | None
    expires_at: datetime


class ApprovalStore:
    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._store = ReportStore(s3_client, bucket)

    def create(
        self,
        task_token: str,
        *,
        execution: str,
        publisher: str,
        subscriber_id: str,
        target_host: str | None,
        mismatches: int,
        summary_key: str | None,
        now: datetime,
        timeout_seconds: int,
    ) -> PendingApproval:
        pending = PendingApproval(
            approval_id=secrets.token_urlsafe(_ID_BYTES),
            execution=execution,
            publisher=publisher,
            subscriber_id=subscriber_id,
            target_host=target_host,
            mismatches=mismatches,
            summary_key=summary_key,
            expires_at=now + timedelta(seconds=timeout_seconds),
        )
        document = {**_wire(pending), "taskToken": task_token}
        with _quiet_about(pending.approval_id, "storing"):
            self._store.put_document(self._key(pending.approval_id), document, check_prefix=ROOT + "/")
        return pending

    def pending(self) -> list[PendingApproval]:
        """Every approval still waiting for an answer (``damdrift check`` asks about these)."""
        found = []
        for key in self._store.keys_under(ROOT + "/"):
            approval_id = key.removeprefix(ROOT + "/").removesuffix(".json")
            document = self._read(approval_id)
            if document is not None:
                found.append(_pending(approval_id, document))
        return found

    def get(self, approval_id: str) -> PendingApproval:
        document = self._document(approval_id)
        return _pending(approval_id, document)

    def answer(
        self, callbacks: TaskCallbacks, approval_id: str, *, approved: bool, decided_by: str, now: datetime
    ) -> PendingApproval:
        """Resume the waiting execution with the answer; the link cannot be used again."""
        document = self._document(approval_id)
        pending = _pending(approval_id, document)
        if now >= pending.expires_at:
            self._delete(approval_id)
            raise ApprovalError(f"approval {_short(approval_id)} expired at {pending.expires_at.isoformat()}")
        answer = ApprovalAnswer(approved=approved, decided_by=decided_by[:200] or "unknown", decided_at=now)
        try:
            callbacks.send_task_success(taskToken=document["taskToken"], output=json.dumps(answer.to_wire()))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code in {"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"}:
                self._delete(approval_id)
                raise ApprovalError(
                    f"approval {_short(approval_id)} is no longer awaited ({code}): the execution moved on"
                ) from None
            raise
        self._delete(approval_id)
        return pending

    def _document(self, approval_id: str) -> dict[str, Any]:
        document = self._read(approval_id)
        if document is None:
            raise ApprovalError(f"approval {_short(approval_id)} is unknown or was already answered")
        return document

    def _read(self, approval_id: str) -> dict[str, Any] | None:
        if not _valid_id(approval_id):
            return None
        with _quiet_about(approval_id, "reading"):
            document = self._store.get_document(self._key(approval_id))
        return document if document is not None and "taskToken" in document else None

    def _delete(self, approval_id: str) -> None:
        with _quiet_about(approval_id, "deleting"):
            self._store.delete_objects([self._key(approval_id)])

    @staticmethod
    def _key(approval_id: str) -> str:
        return f"{ROOT}/{approval_id}.json"


def approval_links(base_url: str, approval_id: str) -> dict[str, str]:
    """The page that asks (a GET only shows it: mail scanners follow links; the answer is a POST)."""
    return {"review": f"{base_url.rstrip('/')}/?{urlencode({'id': approval_id})}"}


@contextmanager
def _quiet_about(approval_id: str, doing: str) -> Iterator[None]:
    """Storage errors name the object's key, and an approval's key holds its id, the link's only secret:
    say which approval (its first characters) and drop the detailed cause."""
    try:
        yield
    except ReportStorageError:
        raise ReportStorageError(f"{doing} approval {_short(approval_id)} failed") from None


def _valid_id(approval_id: str) -> bool:
    return 20 <= len(approval_id) <= 64 and all(c.isalnum() or c in "-_" for c in approval_id)


def _short(approval_id: str) -> str:
    """Enough of the id to tell approvals apart in a message, not enough to use it."""
    return (approval_id[:6] + "...") if _valid_id(approval_id) else "(malformed id)"


def _wire(pending: PendingApproval) -> dict[str, Any]:
    return {
        "execution": pending.execution,
        "publisher": pending.publisher,
        "subscriberId": pending.subscriber_id,
        "targetHost": pending.target_host,
        "mismatches": pending.mismatches,
        "summaryKey": pending.summary_key,
        "expiresAt": pending.expires_at.isoformat(),
    }


def _pending(approval_id: str, document: dict[str, Any]) -> PendingApproval:
    expires = datetime.fromisoformat(document["expiresAt"])
    return PendingApproval(
        approval_id=approval_id,
        execution=str(document.get("execution", "")),
        publisher=str(document.get("publisher", "")),
        subscriber_id=str(document.get("subscriberId", "")),
        target_host=document.get("targetHost"),
        mismatches=int(document.get("mismatches", 0)),
        summary_key=document.get("summaryKey"),
        expires_at=expires if expires.tzinfo else expires.replace(tzinfo=UTC),
    )
