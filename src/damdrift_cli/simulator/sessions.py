"""LTPA sessions of one simulated DX host: tokens that a login opens and the clock closes.

Each host (the publisher, every subscriber DAM) keeps its own, as separate DX installations do: a
publisher's LtpaToken2 means nothing to a subscriber, and expiring one host's sessions leaves the
others alone.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from damdrift_cli.simulator.clock import Clock


@dataclass(frozen=True)
class _Session:
    username: str
    expires_at: float


def credentials_match(username: str, password: str, expected_username: str, expected_password: str) -> bool:
    """Compared in constant time, as a login should be."""
    # surrogatepass: a fuzzed name with a lone surrogate is a wrong login, not a crash
    user_ok = secrets.compare_digest(username.encode("utf-8", "surrogatepass"), expected_username.encode())
    password_ok = secrets.compare_digest(
        password.encode("utf-8", "surrogatepass"), expected_password.encode()
    )
    return user_ok and password_ok


class Sessions:
    """Live sessions by token; thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    def open(self, username: str, ttl_seconds: float) -> str:
        """A new LtpaToken2 value for ``username``, valid for ``ttl_seconds`` on the clock."""
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = _Session(username, self._clock() + ttl_seconds)
        return token

    def user(self, token: str | None) -> str | None:
        """The user of a live session, ``None`` if the token is missing, unknown or expired."""
        with self._lock:
            session = self._sessions.get(token or "")
            if session is not None and session.expires_at <= self._clock():
                self._sessions.pop(token or "")
                session = None
            return session.username if session else None

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
