"""When to look again: growing waits with jitter, never past the deadline and never above the cap.

Growing waits keep a long find cheap (a 30-minute find costs ~35 polls instead of 180 at a fixed 10 s);
the cap bounds how late a finished find is noticed; jitter keeps several subscribers' polls apart.
The poll budget bounds how many looks one loop takes before its deadline whatever the input says (a
day's cap at 1-second waits would otherwise be 86,400 polls), so one subscriber check's execution
history stays well below Step Functions' 25,000 events (docs/deploy.md, "Quotas").
"""

from __future__ import annotations

import random
from datetime import datetime

from damdrift.execution_input import PollPolicy

#: At most this many looks (plus one at the deadline) per wait loop: a find, a busy publisher, a
#: resync. A look costs 9 history events (Wait, Task, Choice), 12 with a retry: three loops stay below
#: 22,000 (tests/unit/test_quotas.py).
POLL_BUDGET = 600


def next_wait(
    policy: PollPolicy, poll_count: int, now: datetime, deadline: datetime, rng: random.Random | None = None
) -> int:
    """Seconds to wait before poll number ``poll_count + 1`` (``poll_count`` polls already made)."""
    rng = rng or random.Random()  # jitter, not cryptography  # nosec B311
    grown = policy.initial_wait_seconds * policy.backoff_rate ** max(poll_count, 0)
    jitter = rng.uniform(0, policy.jitter_seconds) if policy.jitter_seconds else 0.0
    wait = min(float(policy.max_wait_seconds), grown + jitter)
    remaining = (deadline - now).total_seconds()
    # Past half the budget, spread what is left of it over the time left, so it lasts to the deadline
    # (the default schedule, 123 looks in 2 hours, never gets there).
    if poll_count >= POLL_BUDGET // 2:
        wait = max(wait, remaining / max(POLL_BUDGET - poll_count, 1))
    # One more look right at the deadline: the find may have finished in the last interval.
    wait = min(wait, max(remaining, 0.0))
    return max(0, round(wait))
