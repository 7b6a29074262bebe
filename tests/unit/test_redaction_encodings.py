"""The redactor finds a secret in every encoding an echo can give it: JSON with ``\\/``, HTML entities
(named, decimal, hex), URL-encoding that keeps ``/``, base64 (alone or inside a Basic-auth blob), UTF-8
read as latin-1 or cp1252, and mixes of those. Known forms are replaced in place; a secret that only
shows once the text is unescaped withholds the whole text."""

from __future__ import annotations

import base64
import html
import json
import sys
import unicodedata
from urllib.parse import quote

import pytest

from damdrift.dx.redaction import REDACTED, Redactor

#: A password with a slash, a quote, an ampersand and a non-ASCII letter: every encoder touches it.
PASSWORD = "Sé/cret'&pa55"
RAW = PASSWORD.encode("utf-8")


def entities(text: str, style: str) -> str:
    return "".join(style.format(ord(c)) if not c.isalnum() else c for c in text)


ECHOES = {
    "json-escaped-slash": json.dumps(PASSWORD)[1:-1].replace("/", "\\/"),
    "json-unicode-escaped-slash": json.dumps(PASSWORD, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    "html-&#39;": html.escape(PASSWORD).replace("&#x27;", "&#39;"),
    "html-&apos;": html.escape(PASSWORD).replace("&#x27;", "&apos;"),
    "html-decimal-every-char": "".join(f"&#{ord(c)};" for c in PASSWORD),
    "html-hex-every-char": "".join(f"&#x{ord(c):X};" for c in PASSWORD),
    "html-decimal-specials": entities(PASSWORD, "&#{};"),
    "url-keeps-slash": quote(PASSWORD),
    "base64": base64.b64encode(RAW).decode(),
    "base64-urlsafe": base64.urlsafe_b64encode(RAW).decode(),
    "basic-auth": base64.b64encode(b"wpsadmin:" + RAW).decode(),
    "basic-auth-shifted": base64.b64encode(b"dxadmin:" + RAW).decode(),
    "latin-1-mojibake": RAW.decode("latin-1"),
    "cp1252-mojibake": RAW.decode("cp1252", "replace"),
    "mojibake-json-escaped": json.dumps(RAW.decode("latin-1"))[1:-1],
    "html-of-url-encoded": html.escape(quote(PASSWORD, safe="")).replace("%", "&#37;"),
    "url-of-html-entities": quote(html.escape(PASSWORD), safe=""),
    "half-url-encoded": PASSWORD[:4] + quote(PASSWORD[4:], safe=""),
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_an_echo_of_the_password_in_any_encoding_leaves_no_trace_of_it(echo: str) -> None:
    redactor = Redactor([PASSWORD])

    shown = redactor.redact(f'DX says: {{"user": "wpsadmin", "password": "{echo}"}} (request refused)')

    assert echo not in shown
    assert "pa55" not in shown and "Sé" not in shown


@pytest.mark.parametrize(
    "echo",
    [ECHOES["json-escaped-slash"], ECHOES["html-&#39;"], ECHOES["url-keeps-slash"], ECHOES["basic-auth"]],
    ids=["json", "html", "url", "basic-auth"],
)
def test_a_known_encoding_is_replaced_in_place_and_the_rest_stays_readable(echo: str) -> None:
    shown = Redactor([PASSWORD]).redact(f"before {echo} after")

    assert shown.startswith("before ") and shown.endswith(" after")
    assert REDACTED in shown


def test_text_without_the_secret_is_left_exactly_as_dx_sent_it() -> None:
    text = 'a &amp; b %2F c \\n d \\u00e9 {"x": "y\\/z"} Zm9vYmFy'

    assert Redactor([PASSWORD]).redact(text) == text


def test_the_session_cookie_is_found_in_a_url_encoded_cookie_header_echo() -> None:
    token = "AAECAzY4NjE0ZjAxNjg2MWY0MDF+/cookie=="
    redactor = Redactor([PASSWORD])
    redactor.add(token)

    shown = redactor.redact(f"Cookie: LtpaToken2={quote(token)}; and raw {html.escape(token)}")

    assert token not in shown and quote(token) not in shown and "NjE0ZjAxNjg2" not in shown


def test_every_invisible_format_character_is_removed_before_a_secret_is_searched() -> None:
    # Unicode's format characters (Cf) draw nothing: one inside the password must not hide it.
    invisible = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    redactor = Redactor([PASSWORD])

    shown = {c: redactor.redact(f"before {PASSWORD[:4]}{c}{PASSWORD[4:]} after") for c in invisible}

    assert {c for c, text in shown.items() if text != f"before {REDACTED} after"} == set()
