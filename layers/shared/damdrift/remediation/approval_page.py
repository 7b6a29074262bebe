"""The approval link's pages: a GET shows what would happen and asks; only a POST answers.

Mail scanners and link previewers follow links in e-mail, so opening the link must never approve.
Every DX-derived value is HTML-escaped; the pages load nothing, allow no script and may not be framed
(CSP ``frame-ancestors 'none'``: no clickjacking of the approve button).
"""

from __future__ import annotations

from html import escape

from damdrift.remediation.approval import PendingApproval

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = "body{font-family:sans-serif;max-width:40em;margin:2em auto}button{font-size:1.1em;margin-right:1em}"


def question_page(pending: PendingApproval) -> str:
    subscriber = pending.target_host or pending.subscriber_id
    return _page(
        "Start a staging resync?",
        f"<p>dam-drift found <b>{pending.mismatches}</b> mismatches between publisher "
        f"<b>{escape(pending.publisher)}</b> and subscriber <b>{escape(subscriber)}</b> "
        f"(id {escape(pending.subscriber_id)}, execution {escape(pending.execution)}).</p>"
        "<p>Approving starts DX's <i>start-staging-resync</i>: the subscriber is repaired from the "
        "publisher, "
        "then dam-drift runs find-mismatch again and reports the verdict. HCL: never for two-way staging; "
        "avoid authoring on the publisher while it runs.</p>"
        f"<p>This request expires at {pending.expires_at:%Y-%m-%d %H:%M} UTC.</p>"
        '<form method="post">'
        f'<input type="hidden" name="id" value="{escape(pending.link_id)}">'
        '<button name="decision" value="approve">Approve resync</button>'
        '<button name="decision" value="deny">Deny</button></form>',
    )


def answered_page(pending: PendingApproval, approved: bool) -> str:
    subscriber = escape(pending.target_host or pending.subscriber_id)
    if approved:
        return _page(
            "Resync approved", f"<p>The resync of {subscriber} starts now; a notice reports the verdict.</p>"
        )
    return _page("Resync denied", f"<p>Nothing will be changed on {subscriber}.</p>")


def error_page(message: str) -> str:
    return _page("This approval link cannot be used", f"<p>{escape(message)}</p>")


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
