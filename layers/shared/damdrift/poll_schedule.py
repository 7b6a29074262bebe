"""When to look again: growing waits with jitter, never past the deadline and never above the cap.

Growing waits keep a long find cheap (a 30-minute find costs ~35 polls instead of 180 at a fixed 10 s);
the cap bounds how late a finished find is noticed; jitter keeps several subscribers' polls apart.
"""

from __future__ import annotations

import random
from datetime import datetime

from damdrift.execution_input import PollPolicy


def next_wait(
    policy: PollPolicy, poll_count: int, now: datetime, deadline: datetime, rng: random.Random | None = None
) -> int:
    """Seconds to wait before poll number ``poll_count + 1`` (``poll_count`` polls already made)."""
    rng = rng or random.Random()  # jitter, not cryptography  # nosec B311
    grown = policy.initial_wait_seconds * policy.backoff_rate ** max(poll_count, 0)
    jitter = rng.uniform(0, policy.jitter_seconds) if policy.jitter_seconds else 0.0
    wait = min(float(policy.max_wait_seconds), grown + jitter)
    remaining = (deadline - now).total_seconds()
    # One more look right at the deadline: the find may have finished in the last interval.
    wait = min(wait, max(remaining, 0.0))
    return max(0, round(wait))
