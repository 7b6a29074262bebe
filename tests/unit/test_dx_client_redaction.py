"""A DX (or an ingress in front of it) that echoes the request in its error must not put the password or
the session cookie into our exceptions — which become execution history, logs and ERRORED summaries."""

import pytest
import responses

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.errors import AuthenticationError, DxUnavailable, UnexpectedResponse

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
