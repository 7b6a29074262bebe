"""Blanks secrets out of text DX sent, in every form an echo of our request could take.

The text is made one line first, as every place that shows DX's text makes it (line breaks and tabs a
space, controls removed: :func:`damdrift.notice_text.one_line`), and characters a reader does not see
(zero-width spaces and joiners, the soft hyphen, BOMs, tags, variation selectors) are removed: a secret
DX split with a NUL or a zero-width space is whole again *before* it is searched, and replaced in place,
instead of being joined back after redaction, where nothing looks for it any more.

A server (or an ingress) that echoes a request may show the password or the session cookie raw, JSON
escaped (``\\"``, ``\\\\``, ``\\/``, ``\\u00e9``), with every character ``\\u``-escaped, as Python's
``repr`` shows it, URL-encoded (``/`` kept or not, ``+`` for a space), HTML-escaped (named, decimal or
hex entities), base64-encoded (alone, or inside a Basic-auth ``user:password`` blob at any alignment),
or as mojibake (its UTF-8 bytes read as latin-1 or cp1252). All of those forms are replaced in the whole
text *before* anything is cut, so no cut can leave a piece of a secret behind.

Then the text is normalised (HTML-unescaped, JSON-unescaped, URL-unquoted, again until nothing changes,
so nested and mixed encodings unfold) and searched once more: a secret still found there came in a form
not replaced in place, and the whole text is withheld instead of shown.

A secret split by a space (or a line break or tab made one), which a reader joins back at a glance, is
searched in the text without its whitespace, and the whole text is withheld when it is found there.

A secret shorter than :data:`MIN_REDACTABLE` characters cannot be replaced without garbling unrelated
text (a one-letter password is in most words): when one appears, the whole text is withheld instead.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

from damdrift.notice_text import one_line

REDACTED = "[redacted]"
WITHHELD = "[DX's text withheld: it contains a string too short to redact safely]"
WITHHELD_ENCODED = "[DX's text withheld: it contains a secret in an encoding that is not redacted in place]"
WITHHELD_SPLIT = "[DX's text withheld: it contains a secret split by spaces or line breaks]"
MIN_REDACTABLE = 6
#: Rounds of unescaping: an echo nested deeper than this (HTML of URL of JSON of HTML...) is not unfolded.
_UNFOLD_ROUNDS = 4
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\"\\/'bfnrt])")
_JSON_SHORT = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_Trie = dict[str, "_Trie"]
#: Characters a reader does not see, removed before anything is searched: Unicode's format characters
#: (category Cf, as of Unicode 15.1: soft hyphen, zero-width space, non-joiner and joiner, bidi marks and
#: controls, word joiner, invisible operators, BOM, interlinear annotations, tags...), the combining
#: grapheme joiner, the Mongolian free variation selectors, the variation selectors and the Hangul fillers.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
_WHITESPACE = re.compile(r"\s+")


def forms(secret: str) -> set[str]:
    """The ways ``secret`` can appear in a body that echoes it (raw, escaped, encoded, mis-decoded)."""
    found = {form for reading in _readings(secret) for form in _escapes(reading)}
    found |= _base64_cores(secret.encode("utf-8", "surrogatepass"))
    return {form for form in found if form}


def _readings(secret: str) -> set[str]:
    """The secret, and its UTF-8 bytes as a latin-1 or cp1252 reader shows them (mojibake)."""
    raw = secret.encode("utf-8", "surrogatepass")
    cp1252 = "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in raw)
    return {secret, raw.decode("latin-1"), cp1252}


def _escapes(text: str) -> set[str]:
    escaped = json.dumps(text)[1:-1]
    unicode = json.dumps(text, ensure_ascii=False)[1:-1]
    entities = html.escape(text)
    return {
        text,
        escaped,
        unicode,
        escaped.replace("/", "\\/"),
        unicode.replace("/", "\\/"),
        repr(text)[1:-1],
        repr(escaped)[1:-1],
        "".join(f"\\u{ord(c):04x}" for c in text),
        quote(text, safe=""),
        quote(text),
        quote_plus(text),
        quote_plus(text, safe="/"),
        entities,
        html.escape(text, quote=False),
        entities.replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
        entities.replace("&#x27;", "&apos;"),
        "".join(f"&#{ord(c)};" for c in text),
        "".join(f"&#x{ord(c):x};" for c in text),
    }


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend on ``raw`` alone, at each of the three alignments it can have
    inside a longer encoded blob (``user:password``), standard and URL-safe alphabets."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode("ascii")
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _unfolded(text: str) -> str:
    """``text`` with HTML entities, JSON/``repr`` escapes and URL escapes undone, until none is left."""
    for _ in range(_UNFOLD_ROUNDS):
        plain = unquote(html.unescape(_json_unescaped(text)))
        if plain == text:
            break
        text = plain
    return text


def _json_unescaped(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "ux":
            return chr(int(escape[1:], 16))
        return _JSON_SHORT.get(escape, escape)

    unescaped = _JSON_ESCAPE.sub(one, text)
    # \ud83d\ude00 is one character in two escapes: join the surrogate pairs the escapes made.
    return unescaped.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Redactor:
    """Knows the secrets of one DX client (the password, each session cookie issued) and blanks them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._long: re.Pattern[str] | None = None
        self._short: re.Pattern[str] | None = None
        self._joined: re.Pattern[str] | None = None
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
        self._joined = _pattern({_WHITESPACE.sub("", f) for f in long_forms})

    def redact(self, text: str) -> str:
        """``text`` as one line without invisible characters, each secret in it ``[redacted]``; or a
        sentence saying why the whole text is withheld."""
        if self._long is None and self._short is None:
            return text
        text = visible_line(text)
        if self._long is not None:
            text = self._long.sub(REDACTED, text)
        unfolded = _unfolded(text)
        if unfolded != text:  # an escape may have made a line break or an invisible character
            unfolded = visible_line(unfolded)
        if self._short is not None and (self._short.search(text) or self._short.search(unfolded)):
            return WITHHELD
        if self._long is not None and unfolded != text and self._long.search(unfolded):
            return WITHHELD_ENCODED
        if self._joined is not None and self._joined.search(_WHITESPACE.sub("", unfolded)):
            return WITHHELD_SPLIT
        return text


def visible_line(text: str) -> str:
    """``text`` as one line (:func:`~damdrift.notice_text.one_line`) without the characters a reader does
    not see: what a secret is searched in."""
    return one_line(_INVISIBLE.sub("", text), len(text))


def _pattern(found: set[str]) -> re.Pattern[str] | None:
    """One regex for all forms, as a trie (``ab|ac`` is ``a(?:b|c)``): it tries one branch per character
    of the text instead of every form, about 5 times faster on a large body. Greedy, so a form that
    contains another is replaced whole. Case-insensitive for the hex digits of the escapes (a redacted
    case variant of a password costs nothing)."""
    if not found:
        return None
    trie: _Trie = {}
    for form in found:
        node = trie
        for char in form:
            lower = char.lower()
            node = node.setdefault(lower if len(lower) == 1 else char, {})
        node[""] = {}
    return re.compile(_alternatives(trie), re.IGNORECASE)


def _alternatives(node: _Trie) -> str:
    branches = [re.escape(char) + _alternatives(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    ends_here = "" in node
    if len(branches) == 1 and not ends_here:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if ends_here else "")
