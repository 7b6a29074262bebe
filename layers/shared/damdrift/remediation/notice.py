"""What a remediation adds to the drift notice: a closing paragraph, and an attribute to filter on."""

from __future__ import annotations

from typing import Any

from damdrift.remediation.models import RemediationPhase


def with_remediation_note(notification: dict[str, Any], phase: RemediationPhase, text: str) -> dict[str, Any]:
    """The outbound notice (``sns:publish``'s fields) with ``text`` as its last paragraph and a
    ``remediation`` message attribute saying ``phase``, so subscriptions can filter on it."""
    message = str(notification.get("Message", "")).rstrip("\n") + "\n\n" + text + "\n"
    attributes = {
        **(notification.get("MessageAttributes") or {}),
        "remediation": {"DataType": "String", "StringValue": phase.value},
    }
    return {**notification, "Message": message, "MessageAttributes": attributes}
