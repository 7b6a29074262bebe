"""Named domain errors.

The class names are part of the state machine's contract: Lambda reports a raised exception's class
name as the error type, and the ASL's Retry/Catch clauses name these classes. Rename one and the
failure policy in ``statemachine/src/*.asl.yaml`` must change with it (a test checks both agree).

Messages say what was called and what came back, never a password or a session cookie (DX's text is
redacted where it is read, by the DX client, which knows the secrets). Every message is one line and
bounded, made so here, where every domain error is made: a task's error message becomes the ``Cause`` of a
Catch, and from there the text of the ops notice, the execution's failure and ``summary.json``; DX text
with line breaks in it (``\\r\\nSubject: ...``) would otherwise start lines of its own in an e-mail.
"""

from __future__ import annotations

import json
from typing import Any

from damdrift.notice_text import one_line

_DIAGNOSIS = " | diagnosis="
_NOT_A_DIAGNOSIS = " | diagnosis:"  # as long as the marker, so the message keeps its bound
#: The most characters of an error's message (the diagnosis follows it). Step Functions keeps at most
#: 32,768 characters of a Lambda error's cause, which is the message JSON-encoded (up to 6 characters
#: each as ``\uXXXX``) plus the stack trace: 4,000 leaves room for both.
MESSAGE_MAX = 4000


class DamDriftError(Exception):
    """Base of every error dam-drift raises on purpose.

    A ``diagnosis`` (small JSON-able facts, e.g. the failed DX operation's retryCounter) travels inside
    the message, because a Lambda error reaches the next state only as its type and message.
    """

    def __init__(self, message: str, diagnosis: dict[str, Any] | None = None) -> None:
        # The marker that starts the diagnosis comes only from __str__: DX's text ending in
        # " | diagnosis={...}" would otherwise pass for one (a FAILED operation, HCL's volume hint).
        message = one_line(message, MESSAGE_MAX).replace(_DIAGNOSIS, _NOT_A_DIAGNOSIS)
        super().__init__(message)
        self.message = message
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        if not self.diagnosis:
            return self.message
        return self.message + _DIAGNOSIS + json.dumps(self.diagnosis, sort_keys=True, default=str)


def split_diagnosis(text: str) -> tuple[str, dict[str, Any] | None]:
    """Inverse of ``DamDriftError.__str__``: the message and the diagnosis, if one was attached."""
    message, sep, tail = text.partition(_DIAGNOSIS)
    if not sep:
        return text, None
    try:
        diagnosis = json.loads(tail)
    except ValueError:
        return text, None
    return message, diagnosis if isinstance(diagnosis, dict) else None


class InvalidInput(DamDriftError):
    """The execution input or an event does not have the expected shape; the message names the field."""


class ConfigurationError(DamDriftError):
    """A function's environment (settings) is wrong; found at cold start."""


class CredentialsError(DamDriftError):
    """The credentials secret is missing or has the wrong shape. Names the secret, never its value."""


class DxError(DamDriftError):
    """Anything that went wrong talking to DX."""


class AuthenticationError(DxError):
    """DX refused the credentials (or a fresh session): names host and user, never the password."""


class PermissionDenied(DxError):
    """DX answered 403: the user is authenticated but not a DAM administrator."""


class NotFound(DxError):
    """DX answered 404 for something other than a subscriber."""


class SubscriberNotFound(NotFound):
    """The subscriber id is not registered on the publisher."""


class Conflict(DxError):
    """DX answered 409, e.g. a find-mismatch is already running."""


class DxUnavailable(DxError):
    """DX could not be reached or answered 5xx/429 after the client's own retries: worth retrying later."""


class UnexpectedResponse(DxError):
    """DX answered something we cannot read: wrong content type, malformed JSON, a page that repeats."""


class FindMismatchFailed(DamDriftError):
    """The publisher reported FIND_MISMATCH_FAILED; the message carries the operation's diagnosis."""


class FindMismatchTimedOut(DamDriftError):
    """The find did not finish within the configured cap."""


class PublisherBusy(DamDriftError):
    """Staging operations are in progress and the busy policy says not to wait (or the wait ran out)."""


class ReportStorageError(DamDriftError):
    """Writing the report to S3 failed; the message lists what was already stored."""

    def stored_so_far(self, described: str) -> ReportStorageError:
        """This error followed by what is stored and where a retry starts: S3's part is cut first, so
        the message's cap never cuts off the part an operator acts on."""
        room = MESSAGE_MAX - len(described) - 2
        return ReportStorageError(f"{one_line(self.message, max(room, 0))}; {described}")


class StorageAccessDenied(ReportStorageError):
    """S3 refused a read (403): the role lacks s3:GetObject on the key, or lacks s3:ListBucket on the
    bucket, without which S3 reports a *missing* object as AccessDenied rather than 404. A fault of the
    deployment, not of the data: named apart so it is not retried and not mistaken for "absent"."""


class RemediationRefused(DamDriftError):
    """A guard rail stopped a resync at the moment it was to start (e.g. FAILED operations appeared)."""


class ResyncFailed(DamDriftError):
    """The publisher reported RESYNC_TRIGGER_FAILED, or the resync's status was taken over by another job."""


class ResyncTimedOut(DamDriftError):
    """The resync or the subscriber's operations outlasted ``remediation.maxDurationSeconds``."""


class ApprovalError(DamDriftError):
    """An approval link that is unknown, already used or expired; says which, never the task token."""
