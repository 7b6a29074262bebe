"""``damdrift approve LINK``: answer a deployed stack's remediation request (``remediate: ask``) from a shell.

The drift notice carries the request's one-time link (the stack's ApprovalUrl with the request's id)
and the two commands that answer it. This posts the form the link's page posts, to the same URL, so it
needs no AWS credentials, region or bucket: the link is the capability, and it works once. The request
is named by its short reference (``request 3fa2c1d9``), as the notice and ``damdrift check``'s prompt
name it; the id in the link is a secret and is never printed. A local ``damdrift check --remediate
ask`` asks on its own terminal instead (``--approve``).
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
from html.parser import HTMLParser
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit, urlunsplit

from damdrift.remediation.approval import PendingApproval, handle_of
from damdrift_cli.exit_status import CommandFailed
from damdrift_cli.options import is_loopback

#: The answer page is a few hundred bytes; anything much larger is not the approve function's.
MAX_ANSWER_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "approve",
        help="approve or deny a deployed stack's remediation request (the notice's link)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "link", metavar="LINK", help="the approval link the drift notice shows (https://...?id=...)"
    )
    parser.add_argument("--deny", action="store_true", help="deny instead of approve")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    url, approval_id = _parse_link(args.link)
    label = f"request {reference(approval_id)}"
    status, text = _post(url, approval_id, "deny" if args.deny else "approve")
    if status == 200:
        print(f"{'Denied' if args.deny else 'Approved'} {label}: {text}", file=out)
        return 0
    raise CommandFailed(f"{label}: {text or f'the approval URL answered HTTP {status}'}")


def reference(approval_id: str) -> str:
    """The short name of a request: the start of the hash its record is filed under (not a secret)."""
    return handle_of(approval_id)[:8]


def describe(pending: PendingApproval) -> str:
    subscriber = pending.target_host or pending.subscriber_id
    return (
        f"request {pending.handle[:8]}: resync {subscriber} from {pending.publisher} "
        f"({pending.mismatches} mismatches; execution {pending.execution}; "
        f"expires {pending.expires_at:%Y-%m-%d %H:%M} UTC)"
    )


def _parse_link(link: str) -> tuple[str, str]:
    """(the URL to post to, the id) of an approval link; https only (http on this machine, for tests)."""
    parts = urlsplit(link)
    ids = parse_qs(parts.query).get("id", [])
    secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))
    if not secure or not parts.hostname or len(ids) != 1 or not ids[0]:
        raise CommandFailed(
            "LINK: expected the approval link of the drift notice, https://<ApprovalUrl>/?id=<id> "
            "(quote it in the shell)"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")), ids[0]


def _post(url: str, approval_id: str, decision: str) -> tuple[int, str]:
    """POSTs the page's form; returns the status and the answer page's words (not followed anywhere)."""
    import requests

    try:
        with requests.post(
            url,
            data={"id": approval_id, "decision": decision},
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
            status = response.status_code
    except requests.RequestException as exc:
        raise CommandFailed(f"cannot reach the approval URL {url}: {_unreachable(exc)}") from None
    if len(body) > MAX_ANSWER_BYTES:
        return status, ""
    return status, _page_text(body.decode("utf-8", errors="replace"))


def _unreachable(exc: Exception) -> str:
    """Why the URL could not be reached, from the OS error under requests' and urllib3's wrappers."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not trusted here ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake failed ({cause.reason or cause.strerror})"
        if isinstance(cause, socket.gaierror):
            return "its host name does not resolve"
        if isinstance(cause, ConnectionRefusedError):
            return "nothing listens there"
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "reason", None)
    return type(exc).__name__


class _Text(HTMLParser):
    """The visible words of the answer page: its heading and paragraphs (no script, style or form)."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in {"style", "script", "title", "form"}

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in {"style", "script", "title", "form"} and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.words.append(" ".join(data.split()))


def _page_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    words = parser.words
    if not words:
        return ""
    heading, rest = words[0], " ".join(words[1:])
    return f"{heading}. {rest}"[:300] if rest else heading[:300]
