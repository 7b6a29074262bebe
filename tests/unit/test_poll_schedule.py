"""The poll schedule: growing waits, capped, jittered, never past the deadline."""

import random
from datetime import UTC, datetime, timedelta

from damdrift.execution_input import PollPolicy
from damdrift.poll_schedule import POLL_BUDGET, next_wait

NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
FAR = NOW + timedelta(hours=2)


def policy(**overrides: object) -> PollPolicy:
    return PollPolicy.model_validate({"jitterSeconds": 0, **overrides})


def test_waits_grow_from_the_initial_wait_by_the_backoff_rate() -> None:
    waits = [next_wait(policy(), n, NOW, FAR) for n in range(5)]
    assert waits == [10, 15, 22, 34, 51]


def test_waits_never_exceed_the_maximum_even_with_jitter() -> None:
    rng = random.Random(7)
    jittery = policy(jitterSeconds=30)
    assert all(next_wait(jittery, n, NOW, FAR, rng) <= 60 for n in range(200))


def test_jitter_spreads_waits_of_the_same_poll_number() -> None:
    rng = random.Random(1)
    waits = {next_wait(policy(jitterSeconds=5), 1, NOW, FAR, rng) for _ in range(50)}
    assert len(waits) > 1
    assert min(waits) >= 15


def test_wait_is_cut_to_end_at_the_deadline() -> None:
    assert next_wait(policy(), 10, NOW, NOW + timedelta(seconds=7)) == 7


def test_wait_is_zero_once_the_deadline_has_passed() -> None:
    assert next_wait(policy(), 3, NOW, NOW - timedelta(seconds=1)) == 0


def test_thirty_minute_find_needs_far_fewer_polls_than_a_fixed_ten_second_poll() -> None:
    elapsed, polls = 0, 0
    while elapsed < 30 * 60:
        elapsed += next_wait(policy(), polls, NOW, FAR)
        polls += 1
    assert polls <= 40  # a fixed 10 s poll makes 180


def polls_until_the_deadline(chosen: PollPolicy, cap: timedelta) -> int:
    """Looks a loop takes when every look is instant and the find never ends (simulated time; stops
    counting at 100,000)."""
    now, deadline, count = NOW, NOW + cap, 0
    while now < deadline and count < 100_000:
        now += timedelta(seconds=next_wait(chosen, count, now, deadline))
        count += 1
    return count


def test_a_days_cap_at_zero_second_waits_stays_within_the_poll_budget() -> None:
    eager = policy(initialWaitSeconds=0, maxWaitSeconds=0)
    assert polls_until_the_deadline(eager, timedelta(days=1)) <= POLL_BUDGET + 1


def test_the_budget_leaves_the_default_two_hour_schedule_alone() -> None:
    default = policy()
    unbudgeted = [min(60, round(10 * 1.5**n)) for n in range(10)]
    assert [next_wait(default, n, NOW, FAR) for n in range(10)] == unbudgeted
    assert polls_until_the_deadline(default, timedelta(hours=2)) < 200
