"""Approval of a remediation by a person: a one-time link in the drift notice resumes the waiting state.

The state machine waits in a ``lambda:invoke.waitForTaskToken`` task. Its task token is stored in the
report bucket beside a random approval id, and only that id travels in the e-mail link, so the token
never appears in a notice, a log line or an output. The id is the link's only secret, so the record is
filed under its SHA-256 (``approvals/<sha256 hex>.json``, the request's *handle*), never under the id:
a bucket listing, an S3 error or a CloudTrail data event shows the handle, and the public link takes
only an id. Answering uses the id once: the record is deleted after Step Functions accepted the answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from damdrift.errors import ApprovalError, ReportStorageError
from damdrift.models.remediation import ApprovalAnswer
from damdrift.store import ReportStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = "approvals"
#: 32 url-safe characters: 192 random bits, the link's only secret.
_ID_BYTES = 24
_HANDLE = re.compile(r"[0-9a-f]{64}")


class TaskCallbacks(Protocol):
    """The Step Functions call an answer makes (a boto3 ``stepfunctions`` client has it): a denial is a
    success too, carrying ``approved: false`` (so the approve role needs no SendTaskFailure)."""

    def send_task_success(self, *, taskToken: str, output: str) -> Any: ...


@dataclass(frozen=True)
class PendingApproval:
    """What a person is asked to approve (shown on the approval page and by ``damdrift check``).

    ``approval_id`` is known to whoever created or opened the request; one listed by
    :meth:`ApprovalStore.pending` has only its ``handle`` (the hash its record is filed under).
    """

    approval_id: str | None
    handle: str
    execution: str
    publisher: str
    subscriber_id: str
    target_host: str | None
    mismatches: int
    summary_key: str | None
    expires_at: datetime

    @property
    def reference(self) -> str:
        """The request's short name in the notice, the approve command and damdrift check's prompt: the
        start of its handle (a hash: naming it gives nothing away)."""
        return self.handle[:8]

    @property
    def link_id(self) -> str:
        """The id a link carries (only a request created or opened by its id has one)."""
        if self.approval_id is None:
            raise ApprovalError(f"approval {self.handle[:8]}... was listed: its id is known only to the link")
        return self.approval_id


def handle_of(approval_id: str) -> str:
    """What an approval's record is filed under: the SHA-256 of its id, in hex (the id stays secret)."""
    return hashlib.sha256(approval_id.encode()).hexdigest()


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
        approval_id = secrets.token_urlsafe(_ID_BYTES)
        pending = PendingApproval(
            approval_id=approval_id,
            handle=handle_of(approval_id),
            execution=execution,
            publisher=publisher,
            subscriber_id=subscriber_id,
            target_host=target_host,
            mismatches=mismatches,
            summary_key=summary_key,
            expires_at=now + timedelta(seconds=timeout_seconds),
        )
        document = {**_wire(pending), "taskToken": task_token}
        with _quiet_about(_short(approval_id), "storing"):
            self._store.put_document(_key(pending.handle), document, check_prefix=ROOT + "/")
        return pending

    def pending(self) -> list[PendingApproval]:
        """Every approval still waiting for an answer (``damdrift check`` asks about these), by handle."""
        found = []
        for key in self._store.keys_under(ROOT + "/"):
            handle = key.removeprefix(ROOT + "/").removesuffix(".json")
            if not _HANDLE.fullmatch(handle):
                continue  # not a record this store filed
            document = self._read(handle, _short_handle(handle))
            if document is not None:
                found.append(_pending(None, handle, document))
        return found

    def get(self, approval_id: str, *, now: datetime) -> PendingApproval:
        """The request the link's id names; an expired one is refused like an unknown one."""
        label = _short(approval_id)
        pending = _pending(approval_id, handle_of(approval_id), self._document(approval_id, label))
        if now >= pending.expires_at:
            raise ApprovalError(f"approval {label} expired at {pending.expires_at.isoformat()}")
        return pending

    def answer(
        self, callbacks: TaskCallbacks, approval_id: str, *, approved: bool, decided_by: str, now: datetime
    ) -> PendingApproval:
        """Resume the waiting execution with the answer; the link cannot be used again.

        Takes only the link's id: this is what the public approval URL calls.
        """
        label = _short(approval_id)
        document = self._document(approval_id, label)
        pending = _pending(approval_id, handle_of(approval_id), document)
        return self._answer(
            callbacks, pending, document, label, approved=approved, decided_by=decided_by, now=now
        )

    def answer_listed(
        self, callbacks: TaskCallbacks, reference: str, *, approved: bool, decided_by: str, now: datetime
    ) -> PendingApproval:
        """:meth:`answer` by the link's id or by the handle :meth:`pending` lists.

        Only for callers that may read ``approvals/*`` themselves (``damdrift approve``, the local run):
        whoever can read a record holds its task token anyway. Never wired to the public URL, which
        would turn a handle seen in a listing into a capability.
        """
        if not _HANDLE.fullmatch(reference):
            return self.answer(callbacks, reference, approved=approved, decided_by=decided_by, now=now)
        label = _short_handle(reference)
        document = self._read(reference, label)
        if document is None:
            raise ApprovalError(f"approval {label} is unknown or was already answered")
        pending = _pending(None, reference, document)
        return self._answer(
            callbacks, pending, document, label, approved=approved, decided_by=decided_by, now=now
        )

    def _answer(
        self,
        callbacks: TaskCallbacks,
        pending: PendingApproval,
        document: dict[str, Any],
        label: str,
        *,
        approved: bool,
        decided_by: str,
        now: datetime,
    ) -> PendingApproval:
        if now >= pending.expires_at:
            self._delete(pending.handle, label)
            raise ApprovalError(f"approval {label} expired at {pending.expires_at.isoformat()}")
        answer = ApprovalAnswer(approved=approved, decided_by=decided_by[:200] or "unknown", decided_at=now)
        try:
            callbacks.send_task_success(taskToken=document["taskToken"], output=json.dumps(answer.to_wire()))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code in {"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"}:
                self._delete(pending.handle, label)
                raise ApprovalError(
                    f"approval {label} is no longer awaited ({code}): the execution moved on"
                ) from None
            raise
        self._delete(pending.handle, label)
        return pending

    def _document(self, approval_id: str, label: str) -> dict[str, Any]:
        document = self._read(handle_of(approval_id), label) if _valid_id(approval_id) else None
        if document is None:
            raise ApprovalError(f"approval {label} is unknown or was already answered")
        return document

    def _read(self, handle: str, label: str) -> dict[str, Any] | None:
        with _quiet_about(label, "reading"):
            document = self._store.get_document(_key(handle))
        return document if document is not None and "taskToken" in document else None

    def _delete(self, handle: str, label: str) -> None:
        with _quiet_about(label, "deleting"):
            self._store.delete_objects([_key(handle)])


def _key(handle: str) -> str:
    return f"{ROOT}/{handle}.json"


def approval_links(base_url: str, approval_id: str) -> dict[str, str]:
    """The page that asks (a GET only shows it: mail scanners follow links; the answer is a POST)."""
    return {"review": f"{base_url.rstrip('/')}/?{urlencode({'id': approval_id})}"}


@contextmanager
def _quiet_about(label: str, doing: str) -> Iterator[None]:
    """Say which approval (by ``label``) a storage error is about; the cause says why (its S3 key holds
    only the id's hash, so nothing in it can be used as a link)."""
    try:
        yield
    except ReportStorageError as exc:
        raise type(exc)(f"{doing} approval {label} failed: {exc.message}") from exc


def _valid_id(approval_id: str) -> bool:
    return 20 <= len(approval_id) <= 64 and all(c.isalnum() or c in "-_" for c in approval_id)


def _short(approval_id: str) -> str:
    """Enough of the id to tell approvals apart in a message, not enough to use it."""
    return (approval_id[:6] + "...") if _valid_id(approval_id) else "(malformed id)"


def _short_handle(handle: str) -> str:
    return f"{handle[:8]}... (listed)"


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


def _pending(approval_id: str | None, handle: str, document: dict[str, Any]) -> PendingApproval:
    expires = datetime.fromisoformat(document["expiresAt"])
    return PendingApproval(
        approval_id=approval_id,
        handle=handle,
        execution=str(document.get("execution", "")),
        publisher=str(document.get("publisher", "")),
        subscriber_id=str(document.get("subscriberId", "")),
        target_host=document.get("targetHost"),
        mismatches=int(document.get("mismatches", 0)),
        summary_key=document.get("summaryKey"),
        expires_at=expires if expires.tzinfo else expires.replace(tzinfo=UTC),
    )
