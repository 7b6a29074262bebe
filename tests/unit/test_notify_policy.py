"""stages/announce: whether a check's notice goes out, by the input's notify policy (always, on drift, on
change) and what changed since the previous usable check."""

from datetime import timedelta

import pytest

from damdrift.execution_input import NotifyPolicy
from damdrift.models.summary import Changes, CheckStatus
from damdrift.stages.announce import should_notify
from tests.report_samples import FINISHED as NOW
from tests.report_samples import summary_of as summary


@pytest.mark.parametrize(
    ("policy", "status", "changes", "expected"),
    [
        (NotifyPolicy.ALWAYS, CheckStatus.IN_SYNC, Changes(previous_execution="x"), True),
        (NotifyPolicy.ON_DRIFT, CheckStatus.IN_SYNC, Changes(previous_execution="x"), False),
        (NotifyPolicy.ON_DRIFT, CheckStatus.DRIFT, Changes(previous_execution="x", unchanged=1), True),
        (NotifyPolicy.ON_CHANGE, CheckStatus.DRIFT, Changes(previous_execution="x", unchanged=1), False),
        (NotifyPolicy.ON_CHANGE, CheckStatus.DRIFT, Changes(previous_execution="x", new=1), True),
        (NotifyPolicy.ON_CHANGE, CheckStatus.IN_SYNC, Changes(previous_execution="x", resolved=1), True),
        (
            NotifyPolicy.ON_CHANGE,
            CheckStatus.DRIFT,
            Changes(previous_execution="x", new=2, new_ignored=2),
            False,
        ),
        (
            NotifyPolicy.ON_CHANGE,
            CheckStatus.IN_SYNC,
            Changes(previous_execution="x", status_changed=True),
            True,
        ),
        (NotifyPolicy.ON_CHANGE, CheckStatus.IN_SYNC, Changes(), True),  # the first check
        (NotifyPolicy.ON_CHANGE, CheckStatus.DRIFT, Changes(error="unreadable"), True),
        (NotifyPolicy.ON_CHANGE, CheckStatus.ERRORED, None, True),
        (NotifyPolicy.ON_DRIFT, CheckStatus.ERRORED, None, True),
    ],
)
def test_the_notify_policy(
    policy: NotifyPolicy, status: CheckStatus, changes: Changes | None, expected: bool
) -> None:
    check = summary("x", status, changes=changes)
    assert should_notify(policy, check) is expected


def test_an_unchanged_day_after_a_different_one_is_quiet() -> None:
    yesterday = NOW - timedelta(days=1)
    quiet = Changes(previous_execution="y", previous_finished_at=yesterday, previous_status=CheckStatus.DRIFT)
    assert not should_notify(NotifyPolicy.ON_CHANGE, summary("x", changes=quiet))
