"""Signed report links: ``<viewer>/<kind>/<expires>/<signature>/<key>``.

A link is a capability scoped to one thing and a moment:

* ``r`` — one check's report: the folder ``reports/<publisher>/<subscriber>/<YYYY>/<MM>/<DD>/<execution>/``,
  ``report.html`` and the files it links to (relative links keep the signed prefix, so they work too).
* ``o`` — one publisher's overview: ``reports/<publisher>/overview.html`` and the reports of that
  publisher's subscribers (the overview links to each).

The signature is HMAC-SHA256 over the kind, the scope and the expiry, keyed with a secret held in Secrets
Manager: anyone holding the link may read what it names until it expires, nothing else; changing any
part of it (another report, a later expiry) breaks the signature; replacing the key revokes every link.
The signature and expiry live in the path, not the query, because a browser drops the query when it
follows a relative link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from damdrift.report_layout import HTML_FILENAME

OVERVIEW_FILENAME = "overview.html"
#: What a report link may fetch: report.html and the files it links to (never checkpoints or key files).
REPORT_FILES = frozenset(
    {
        HTML_FILENAME,
        "records.jsonl.gz",
        "report.csv",
        "new.jsonl.gz",
        "resolved.jsonl.gz",
        "diff.json",
        "summary.json",
    }
)
#: A key shorter than this is refused: the stack generates 64 characters.
MIN_KEY_BYTES = 32
MAX_PATH = 2048
#: The longest a link may live (REPORT_LINK_EXPIRY_SECONDS allows at most 366 days). An expiry further
#: ahead than this from now is refused before any date is built from it: ``/r/999999999999/...`` would
#: otherwise raise "year is out of range" (a 5xx) instead of a 403.
MAX_LINK_SECONDS = 366 * 24 * 3600
#: Clock skew allowed between the function that signed a link and the one that checks it.
_SKEW_SECONDS = 24 * 3600

Kind = Literal["r", "o"]
_SEGMENT = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_DIGITS = re.compile(r"\d{1,12}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
_DATE_PARTS = (re.compile(r"\d{4}"), re.compile(r"\d{2}"), re.compile(r"\d{2}"))


class LinkRefused(Exception):
    """The link does not grant what it asks for (403); ``reason`` is for the log and the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Grant:
    """What a valid link lets its holder read: one S3 key, under the scope the link was signed for."""

    kind: Kind
    scope: str
    key: str
    expires: datetime

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def sign(signing_key: bytes, kind: Kind, scope: str, expires: datetime) -> str:
    """The signature of a link (43 URL-safe characters: the whole HMAC-SHA256)."""
    if len(signing_key) < MIN_KEY_BYTES:
        raise ValueError(f"the report link key must be at least {MIN_KEY_BYTES} bytes")
    message = f"dam-drift-link/1\n{kind}\n{scope}\n{int(expires.timestamp())}".encode()
    digest = hmac.new(signing_key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def report_link(viewer_url: str, signing_key: bytes, html_key: str, expires: datetime) -> str:
    """A link to one check's ``report.html`` (``html_key``), valid until ``expires``."""
    scope = html_key.rsplit("/", 1)[0] + "/"
    _report_scope(scope.rstrip("/").split("/"))  # refuses a key outside the layout
    return _link(viewer_url, signing_key, "r", scope, html_key, expires)


def overview_link(viewer_url: str, signing_key: bytes, publisher: str, expires: datetime) -> str:
    """A link to one publisher's ``overview.html`` (and its subscribers' reports), valid until ``expires``."""
    scope = f"reports/{_segment(publisher)}/"
    return _link(viewer_url, signing_key, "o", scope, scope + OVERVIEW_FILENAME, expires)


def _link(viewer_url: str, signing_key: bytes, kind: Kind, scope: str, key: str, expires: datetime) -> str:
    expiry = int(expires.timestamp())
    signature = sign(signing_key, kind, scope, datetime.fromtimestamp(expiry, UTC))
    return f"{viewer_url.rstrip('/')}/{kind}/{expiry}/{signature}/{key}"


def verify(path: str, signing_key: bytes, now: datetime) -> Grant:
    """The grant a request path carries; :class:`LinkRefused` unless it is well formed, signed with
    ``signing_key`` for exactly this scope, and not expired."""
    if len(path) > MAX_PATH:
        raise LinkRefused("the link is too long")
    parts = path.lstrip("/").split("/")
    if len(parts) < 4 or parts[0] not in ("r", "o"):
        raise LinkRefused("not a report link")
    kind: Kind = "r" if parts[0] == "r" else "o"
    expiry, signature, segments = parts[1], parts[2], parts[3:]
    if not _DIGITS.fullmatch(expiry) or not _SIGNATURE.fullmatch(signature):
        raise LinkRefused("the link is malformed")
    for segment in segments:
        _segment(segment)
    scope = _report_scope(segments[:-1]) if kind == "r" else _overview_scope(segments)
    if segments[-1] not in REPORT_FILES and not (kind == "o" and len(segments) == 3):
        raise LinkRefused("the viewer does not serve that file")
    if int(expiry) > now.timestamp() + MAX_LINK_SECONDS + _SKEW_SECONDS:
        raise LinkRefused("the link's expiry is further ahead than any link is valid")
    expires = datetime.fromtimestamp(int(expiry), UTC)
    if not hmac.compare_digest(sign(signing_key, kind, scope, expires), signature):
        raise LinkRefused("the link's signature does not match (altered, another report, or revoked)")
    if now >= expires:
        raise LinkRefused(f"the link expired at {expires.isoformat().replace('+00:00', 'Z')}")
    return Grant(kind=kind, scope=scope, key="/".join(segments), expires=expires)


def _report_scope(folder: list[str]) -> str:
    """``reports/<publisher>/<subscriber>/<YYYY>/<MM>/<DD>/<execution>/``, or LinkRefused."""
    if len(folder) != 7 or folder[0] != "reports":
        raise LinkRefused("not a report's folder")
    for part, pattern in zip(folder[3:6], _DATE_PARTS, strict=True):
        if not pattern.fullmatch(part):
            raise LinkRefused("not a report's folder")
    return "/".join(folder) + "/"


def _overview_scope(segments: list[str]) -> str:
    """The publisher's folder, for its overview or one of its subscribers' reports."""
    if len(segments) == 3 and segments[0] == "reports" and segments[2] == OVERVIEW_FILENAME:
        return f"reports/{segments[1]}/"
    _report_scope(segments[:-1])
    return f"reports/{segments[1]}/"


def _segment(value: str) -> str:
    if not _SEGMENT.fullmatch(value) or value in (".", "..") or ".." in value:
        raise LinkRefused("the link names no stored report")
    return value
