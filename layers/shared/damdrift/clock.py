"""The time a step runs at, from one place: handlers pass it in, so steps and tests take ``now``."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
