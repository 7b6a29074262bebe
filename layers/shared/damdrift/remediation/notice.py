"""What a remediation adds to the drift notice: a closing paragraph, and an attribute to filter on."""

from __future__ import annotations

from damdrift.models.remediation import RemediationPhase
from damdrift.state import OutboundNotice


def with_remediation_note(notification: OutboundNotice, phase: RemediationPhase, text: str) -> OutboundNotice:
    """The outbound notice with ``text`` as its last paragraph and a ``remediation`` message attribute
    saying ``phase``, so subscriptions can filter on it."""
    message = notification.Message.rstrip("\n") + "\n\n" + text + "\n"
    attributes = {
        **notification.MessageAttributes,
        "remediation": {"DataType": "String", "StringValue": phase.value},
    }
    return notification.model_copy(update={"Message": message, "MessageAttributes": attributes})
