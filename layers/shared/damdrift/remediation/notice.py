"""What a remediation adds to the drift notice: a closing paragraph, and an attribute to filter on."""

from __future__ import annotations

from collections.abc import Sequence

from damdrift.models.remediation import RemediationPhase
from damdrift.notice_text import one_line
from damdrift.state import OutboundNotice

#: A line of the paragraph: room for a signed approval link, a cap for a DX reason.
_LINE_MAX = 2000


def with_remediation_note(
    notification: OutboundNotice, phase: RemediationPhase, text: str | Sequence[str]
) -> OutboundNotice:
    """The outbound notice with ``text`` as its last paragraph and a ``remediation`` message attribute
    saying ``phase``, so subscriptions can filter on it.

    ``text`` is one line (a string: a refusal's reason may quote DX, whose line breaks become spaces) or
    the paragraph's lines (a list: the layout is ours, each line still kept to one line)."""
    lines = [text] if isinstance(text, str) else text
    paragraph = "\n".join(_one_line(line) for line in lines)
    message = notification.Message.rstrip("\n") + "\n\n" + paragraph + "\n"
    attributes = {
        **notification.MessageAttributes,
        "remediation": {"DataType": "String", "StringValue": phase.value},
    }
    return notification.model_copy(update={"Message": message, "MessageAttributes": attributes})


def _one_line(line: str) -> str:
    """``line`` on one line, its leading indent kept (a link of ours under its title)."""
    flat = one_line(line, _LINE_MAX)
    return line[: len(line) - len(line.lstrip(" "))] + flat if flat else ""
