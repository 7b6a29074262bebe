"""Untrusted text (DX's, the execution input's) made safe for what people read: e-mail, chat, SNS subjects.

A value from DX is one line wherever it lands: line breaks and tabs become a space, other C0/C1 controls,
DEL, bidi controls (text that reads differently than it is) and lone surrogates (not even sendable as
UTF-8) are removed, and it is capped. So no DX value can start a line of its own in a notice (forge an
"approve here" block), reorder what a reader sees, or make SNS refuse the message.

Each channel's own markup is escaped on top of that:

* SNS subjects: printable ASCII, fewer than 100 characters (SNS Publish: "no line breaks or control
  characters, and less than 100 characters long"), cut at :data:`SUBJECT_MAX`.
* Chat (AWS Chatbot's ``client-markdown``, rendered as the channel's own markdown): Slack's control
  characters ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` as Slack's formatting reference
  requires (a backslash does not escape anything in Slack: ``\\<url|text>`` is still a link), and the
  characters that format or link in Markdown (Microsoft Teams) are backslash-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

#: SNS Publish: a subject is "less than 100 characters long".
SUBJECT_MAX = 99

_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")
_SLACK_CONTROL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN = re.compile(r"([\\`*_~|\[\]()#])")


def one_line(value: str, limit: int) -> str:
    """One line of safe text, capped at ``limit`` characters (``...`` marks a cut)."""
    return shorten(_BREAKS.sub(" ", _INVISIBLE.sub("", value)).strip(), limit)


def ascii_line(value: str, limit: int) -> str:
    """:func:`one_line` in printable ASCII (anything else becomes ``?``), capped."""
    return shorten(_NOT_PRINTABLE_ASCII.sub("?", one_line(value, len(value))), limit)


def sns_subject(value: str) -> str:
    """``value`` as SNS accepts a subject: printable ASCII, one line, at most :data:`SUBJECT_MAX`."""
    return ascii_line(value, SUBJECT_MAX) or "-"


def chat_text(value: str, limit: int) -> str:
    """A value as inert chat markdown: one safe line (capped before escaping), Slack's ``& < >`` as
    entities, Markdown's formatting characters backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", slack_escaped(one_line(value, limit)))


class Untrusted(NamedTuple):
    """DX's (or the execution input's) text inside a text of ours, kept as it is while we lay the text out
    and made safe, capped at ``limit``, when the text is finished (:func:`plain_text`,
    :func:`chat_markdown`); ``empty`` stands in for a value of which nothing is left."""

    value: str
    limit: int
    empty: str = ""


def plain_text(lines: Iterable[str | Sequence[str | Untrusted]], max_bytes: int | None = None) -> str:
    """A plain text we laid out (the e-mail), finished in one call: our text as it is, every
    :class:`Untrusted` value as :func:`one_line`; each line ends with a line break. Past ``max_bytes`` of
    UTF-8 the text is cut and says so."""
    text = "".join(
        (line if isinstance(line, str) else "".join(_plain(part) for part in line)) + "\n" for line in lines
    )
    encoded = text.encode("utf-8")
    if max_bytes is not None and len(encoded) > max_bytes:
        text = encoded[: max_bytes - 20].decode("utf-8", "ignore") + "\n[truncated]\n"
    return text


def chat_markdown(lines: Iterable[str | Sequence[str | Untrusted]]) -> str:
    """A chat text we laid out, finished in one call: our markdown as it is, every :class:`Untrusted`
    value as :func:`chat_text`; lines joined by line breaks."""
    return "\n".join(
        line if isinstance(line, str) else "".join(_markdown(part) for part in line) for line in lines
    )


def _markdown(part: str | Untrusted) -> str:
    return (chat_text(part.value, part.limit) or part.empty) if isinstance(part, Untrusted) else part


def _plain(part: str | Untrusted) -> str:
    return (one_line(part.value, part.limit) or part.empty) if isinstance(part, Untrusted) else part


def slack_escaped(text: str) -> str:
    """``text`` with Slack's control characters as the entities Slack's formatting reference asks for."""
    return "".join(_SLACK_CONTROL.get(c, c) for c in text)


def shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    if limit <= 3:
        return value[:limit]
    return value[: limit - 3] + "..."
