"""Blanks secrets out of text DX sent, in every form an echo of our request could take.

A server (or an ingress) that echoes a request may show the password or the session cookie raw, JSON
escaped (``\\"``, ``\\\\``, ``\\u00e9``), with every character ``\\u``-escaped, as Python's ``repr`` shows
it, URL- or HTML-encoded. All of those forms are replaced in the whole text *before* anything is cut,
so no cut can leave a piece of a secret behind.

A secret shorter than :data:`MIN_REDACTABLE` characters cannot be replaced without garbling unrelated
text (a one-letter password is in most words): when one appears, the whole text is withheld instead.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
WITHHELD = "[DX's text withheld: it contains a string too short to redact safely]"
MIN_REDACTABLE = 6


def forms(secret: str) -> set[str]:
    """The ways ``secret`` can appear in a body that echoes it (raw, escaped, encoded)."""
    escaped = json.dumps(secret)[1:-1]
    found = {
        secret,
        escaped,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(escaped)[1:-1],
        "".join(f"\\u{ord(c):04x}" for c in secret),
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
    }
    return {form for form in found if form}


class Redactor:
    """Knows the secrets of one DX client (the password, each session cookie issued) and blanks them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._long: re.Pattern[str] | None = None
        self._short: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret or secret in self._secrets:
            return
        self._secrets.add(secret)
        long_forms = {f for s in self._secrets if len(s) >= MIN_REDACTABLE for f in forms(s)}
        short_forms = {f for s in self._secrets if len(s) < MIN_REDACTABLE for f in forms(s)}
        self._long = _pattern(long_forms)
        self._short = _pattern(short_forms)

    def redact(self, text: str) -> str:
        if self._long is not None:
            text = self._long.sub(REDACTED, text)
        if self._short is not None and self._short.search(text):
            return WITHHELD
        return text


def _pattern(found: set[str]) -> re.Pattern[str] | None:
    if not found:
        return None
    # Longest first, so a form that contains another is replaced whole. Case-insensitive for the hex
    # digits of the escapes (a redacted case variant of a password costs nothing).
    alternatives = "|".join(re.escape(f) for f in sorted(found, key=len, reverse=True))
    return re.compile(alternatives, re.IGNORECASE)
