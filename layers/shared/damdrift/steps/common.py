"""What every step needs: a logged-in DX client for the check's publisher, and the time."""

from __future__ import annotations

from datetime import UTC, datetime

from damdrift.credentials import load_credentials
from damdrift.dx.client import DxClient
from damdrift.dx.sessions import client_for
from damdrift.settings import Settings
from damdrift.state import CheckContext


def dx_client(check: CheckContext, settings: Settings) -> DxClient:
    return client_for(check.publisher, load_credentials(check.credentials_secret), settings.client_tuning())


def utcnow() -> datetime:
    return datetime.now(UTC)
