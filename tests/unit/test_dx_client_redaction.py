"""A DX (or an ingress in front of it) that echoes the request in its error must not put the password or
the session cookie into our exceptions — which become execution history, logs and ERRORED summaries."""

import json
import unicodedata
import warnings
from urllib.parse import quote

import pytest
import responses

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.errors import AuthenticationError, DxUnavailable, PermissionDenied, UnexpectedResponse

PASSWORD = 'Ech0-"Pa55"\\word'
COOKIE = "c00kie-VALUE-7f3a"
RING = "https://dx.example.com/dx/api/core/v1"
DAM = "https://dx.example.com/dx/api/dam/v1"


def client() -> DxClient:
    connection = DxConnection.model_validate({"hostname": "dx.example.com"})
    credentials = DxCredentials.model_validate({"username": "wpsadmin", "password": PASSWORD})
    return DxClient(connection, credentials, ClientTuning(retries=0))


@responses.activate
def test_a_login_error_echoing_the_password_is_redacted() -> None:
    responses.post(
        f"{RING}/auth/login", status=401, json={"error": {"message": f"bad password {PASSWORD} for wpsadmin"}}
    )
    with pytest.raises(AuthenticationError) as caught:
        client().login()
    assert PASSWORD not in str(caught.value)
    assert "bad password [redacted] for wpsadmin" in str(caught.value)


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(502, "<html>{echo}</html>", DxUnavailable), (200, "<p>{echo}</p>", UnexpectedResponse)],
)
def test_an_ingress_page_echoing_the_request_is_redacted(
    status: int, body: str, error: type[Exception]
) -> None:
    responses.post(f"{RING}/auth/login", json={}, headers={"Set-Cookie": f"LtpaToken2={COOKIE}; Path=/"})
    echo = f"Cookie: LtpaToken2={COOKIE}; body password={PASSWORD}"
    responses.get(
        f"{DAM}/staging/subscriber", status=status, body=body.format(echo=echo), content_type="text/html"
    )
    with pytest.raises(error) as caught:
        client().list_subscribers()
    message = str(caught.value)
    assert COOKIE not in message and PASSWORD not in message and repr(PASSWORD)[1:-1] not in message
    assert "[redacted]" in message


def dam_page_echoing(body: str, status: int = 502, content_type: str = "text/html") -> None:
    responses.post(f"{RING}/auth/login", json={}, headers={"Set-Cookie": f"LtpaToken2={COOKIE}; Path=/"})
    responses.get(f"{DAM}/staging/subscriber", status=status, body=body, content_type=content_type)


def error_of_listing(credentials_password: str = PASSWORD) -> str:
    connection = DxConnection.model_validate({"hostname": "dx.example.com"})
    credentials = DxCredentials.model_validate({"username": "wpsadmin", "password": credentials_password})
    with pytest.raises((DxUnavailable, UnexpectedResponse)) as caught:
        DxClient(connection, credentials, ClientTuning(retries=0)).list_subscribers()
    return str(caught.value)


@responses.activate
@pytest.mark.parametrize(
    "echo",
    [
        pytest.param(json.dumps(PASSWORD)[1:-1], id="json-escaped"),
        pytest.param("".join(f"\\u{ord(c):04x}" for c in PASSWORD), id="u-escaped"),
        pytest.param("".join(f"\\u{ord(c):04X}" for c in PASSWORD), id="u-escaped-upper"),
        pytest.param(quote(PASSWORD, safe=""), id="url-encoded"),
    ],
)
def test_an_echo_of_the_password_in_any_escaped_form_is_redacted(echo: str) -> None:
    dam_page_echoing(f'<pre>{{"password": "{echo}"}}</pre>')
    message = error_of_listing()
    assert echo not in message and echo[:12] not in message
    assert "[redacted]" in message


@responses.activate
def test_a_password_at_the_preview_cut_leaves_no_piece_behind() -> None:
    # The preview shows 120 characters: today the cut falls inside the password, before redaction.
    dam_page_echoing("x" * 112 + PASSWORD + " and more")
    message = error_of_listing()
    assert PASSWORD[:6] not in message and repr(PASSWORD)[1:7] not in message
    assert message.endswith("x[redacte…'")  # redacted, then cut


@responses.activate
def test_a_dx_error_message_cut_at_300_characters_leaves_no_piece_of_the_password() -> None:
    dam_page_echoing(
        json.dumps({"error": {"message": "m" * 295 + PASSWORD}}), status=500, content_type="application/json"
    )
    message = error_of_listing()
    assert PASSWORD[:5] not in message
    assert message.endswith("m[reda…")  # redacted, then cut


@responses.activate
def test_the_body_of_a_login_answer_is_never_previewed() -> None:
    responses.post(
        f"{RING}/auth/login",
        status=401,
        body="<html>you sent user=wpsadmin&pw=Zm9vYmFy</html>",
        content_type="text/html",
    )
    with pytest.raises(AuthenticationError) as caught:
        client().login()
    message = str(caught.value)
    assert "Zm9vYmFy" not in message and "<html>" not in message
    assert "not shown" in message


@responses.activate
def test_a_short_password_does_not_garble_unrelated_text() -> None:
    dam_page_echoing(
        json.dumps({"error": {"message": "table about"}}), status=500, content_type="application/json"
    )
    message = error_of_listing(credentials_password="ab")
    assert "t[redacted]le" not in message and "[redacted]out" not in message
    assert "ab" not in message.split("HTTP 500: ", 1)[1]  # the short secret is not shown either


@responses.activate
def test_a_short_password_absent_from_dx_text_leaves_the_text_whole() -> None:
    dam_page_echoing(
        json.dumps({"error": {"message": "Service down"}}), status=500, content_type="application/json"
    )
    assert "HTTP 500: Service down" in error_of_listing(credentials_password="Qz")


#: A user whose password is its own name, as DX's default account (wpsadmin/wpsadmin) is set up.
SAME = "dx-Admin-77"
WITHHELD_USER = "the configured user (name withheld)"


def same_name_client() -> DxClient:
    connection = DxConnection.model_validate({"hostname": "dx.example.com"})
    credentials = DxCredentials.model_validate({"username": SAME, "password": SAME})
    return DxClient(connection, credentials, ClientTuning(retries=0))


@responses.activate
@pytest.mark.parametrize(
    ("login_status", "dam_status", "error"),
    [
        pytest.param(401, None, AuthenticationError, id="login-refused"),
        pytest.param(200, 401, AuthenticationError, id="fresh-session-rejected"),
        pytest.param(200, 403, PermissionDenied, id="not-an-administrator"),
    ],
)
def test_a_user_name_that_is_the_password_is_withheld_from_errors_not_shown(
    login_status: int, dam_status: int | None, error: type[Exception]
) -> None:
    login = {"headers": {"Set-Cookie": f"LtpaToken2={COOKIE}; Path=/"}} if login_status == 200 else {}
    responses.post(f"{RING}/auth/login", status=login_status, json={}, **login)
    responses.get(f"{DAM}/staging/subscriber", status=dam_status or 200, json={"error": {"message": "no"}})
    client = same_name_client()
    with pytest.raises(error) as caught:
        client.list_subscribers()
    message = str(caught.value)
    assert SAME not in message and SAME not in repr(client)
    assert WITHHELD_USER in message and "[redacted]" not in message


@responses.activate
def test_a_user_name_apart_from_the_password_is_named_in_errors() -> None:
    responses.post(f"{RING}/auth/login", json={}, headers={"Set-Cookie": f"LtpaToken2={COOKIE}; Path=/"})
    responses.get(f"{DAM}/staging/subscriber", status=403, json={"error": {"message": "Forbidden"}})
    with pytest.raises(PermissionDenied, match="user 'wpsadmin' is not allowed"):
        client().list_subscribers()


#: What a DX could put inside a secret so that our own clean-up (controls removed, line breaks and tabs
#: made spaces) or a reader's eye joins it back: a NUL, a line break, a tab, a zero-width space.
SPLITTERS = {"nul": "\x00", "crlf": "\r\n", "tab": "\t", "zero-width-space": "\u200b"}


def split(secret: str, splitter: str) -> str:
    return secret[:5] + splitter + secret[5:]


def as_read(text: str) -> set[str]:
    """``text`` as a reader can put it together: as it is and with its escapes (``\\x00``, ``\\u200b``)
    undone, each without a space, control or invisible format character."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # an unknown escape stays as it is
        unescaped = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    return {
        "".join(c for c in reading if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf"))
        for reading in (text, unescaped)
    }


@responses.activate
@pytest.mark.parametrize("secret", [PASSWORD, COOKIE], ids=["password", "session-cookie"])
@pytest.mark.parametrize("splitter", SPLITTERS.values(), ids=SPLITTERS.keys())
@pytest.mark.parametrize("where", ["error-message", "body-preview"])
def test_a_secret_dx_splits_with_a_control_or_invisible_character_is_not_joined_back_in_errors(
    secret: str, splitter: str, where: str
) -> None:
    echo = f"you sent {split(secret, splitter)} as your secret"
    if where == "error-message":
        dam_page_echoing(
            json.dumps({"error": {"message": echo}}), status=500, content_type="application/json"
        )
    else:
        dam_page_echoing(f"<p>{echo}</p>", status=502)

    message = error_of_listing()

    assert not any(secret in reading for reading in as_read(message))
    if splitter.isspace():  # a secret split by white space: a reader joins it, so all of DX's text goes
        assert "[DX's text withheld: it contains a secret split by spaces or line breaks]" in message
    else:  # an invisible character: removed, then the whole secret is redacted in place
        assert "you sent [redacted] as your secret" in message


def operations_answer(error_info: dict[str, object]) -> None:
    responses.post(f"{RING}/auth/login", json={}, headers={"Set-Cookie": f"LtpaToken2={COOKIE}; Path=/"})
    operation = {
        "id": "op-1",
        "triggerFunction": "findStagingMismatch",
        "status": "FAILED",
        "retryCounter": 1,
    }
    responses.get(f"{DAM}/operations", json=[{**operation, "errorInfo": error_info}])


@responses.activate
def test_an_operations_error_info_holding_the_password_and_a_megabyte_is_redacted_and_cut() -> None:
    operations_answer({"message": f"login {PASSWORD} refused", "detail": "x" * 1_000_000})

    [operation] = client().list_operations()

    assert operation.error_info is not None and operation.error_info["chars"] > 1_000_000
    excerpt = operation.error_info["excerpt"]
    assert (
        excerpt.startswith('{"message": "login [redacted] refused", "detail": "xxx') and len(excerpt) == 1001
    )
    assert PASSWORD not in json.dumps(operation.error_info) and "Pa55" not in json.dumps(operation.error_info)


@responses.activate
def test_a_short_error_info_without_a_secret_is_kept_as_dx_sent_it() -> None:
    operations_answer({"code": "FIND_STAGING_MISMATCH_FAILED", "message": "Too many records to compare"})

    [operation] = client().list_operations()

    assert operation.error_info == {
        "code": "FIND_STAGING_MISMATCH_FAILED",
        "message": "Too many records to compare",
    }


@responses.activate
@pytest.mark.parametrize(
    "status", [f"FAILED: {PASSWORD} refused", "FAILED" + "x" * 1_000_000], ids=["password", "megabyte"]
)
def test_an_operations_status_holding_the_password_or_a_megabyte_is_redacted_and_cut(status: str) -> None:
    # poll-status carries it beside errorInfo in its diagnosis: summary.json, the notices, the history.
    operations_answer({"code": "FIND_STAGING_MISMATCH_FAILED"})
    responses.replace(
        responses.GET,
        f"{DAM}/operations",
        json=[{"id": "op-1", "triggerFunction": "findStagingMismatch", "status": status, "retryCounter": 1}],
    )

    [operation] = client().list_operations()

    assert PASSWORD not in operation.status and "Pa55" not in operation.status
    assert operation.status.startswith("FAILED") and len(operation.status) <= 101


@responses.activate
def test_an_operations_usual_status_is_kept_as_dx_sent_it() -> None:
    operations_answer({"code": "FIND_STAGING_MISMATCH_FAILED"})

    [operation] = client().list_operations()

    assert operation.status == "FAILED"
