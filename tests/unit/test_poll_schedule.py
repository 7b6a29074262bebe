"""The poll schedule: growing waits, capped, jittered, never past the deadline."""

import random
from datetime import UTC, datetime, timedelta

from damdrift.execution_input import PollPolicy
from damdrift.poll_schedule import next_wait

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
