"""Keeps one logged-in ``DxClient`` per publisher and user for the life of a warm Lambda.

This is how the session survives between steps without ever entering the state machine's history: the
cookie stays in this process's memory, and a cold container simply logs in again.
"""

from __future__ import annotations

import hashlib

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials

_clients: dict[tuple[str, str, str, str], DxClient] = {}


def client_for(connection: DxConnection, credentials: DxCredentials, tuning: ClientTuning) -> DxClient:
    # The password's digest is part of the key, so a rotated secret gets a fresh client.
    digest = hashlib.sha256(credentials.password.get_secret_value().encode()).hexdigest()
    key = (connection.model_dump_json(), credentials.username, digest, repr(tuning))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = DxClient(connection, credentials, tuning)
    return client


def forget_all() -> None:
    """Drops every cached client (tests; a process that must not reuse sessions)."""
    _clients.clear()
