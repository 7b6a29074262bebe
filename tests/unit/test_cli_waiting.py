"""How long a local check waits, and the one sentence it says when it stops waiting (issue 25, item 7)."""

from damdrift.dx.models import ResyncStatus, Subscriber
from damdrift.execution_input import CheckInput
from damdrift_cli.local.budget import STEP_ALLOWANCE_SECONDS, wait_budget
from damdrift_cli.waiting import duration, gave_up_sentence, left_behind

PUBLISHER = {"hostname": "dx.example.com"}


def check_input(**fields: object) -> CheckInput:
    return CheckInput.model_validate({"publisher": PUBLISHER, **fields})


def test_the_wait_covers_the_finds_own_two_hour_budget_not_a_fixed_900_seconds() -> None:
    one_find = 7200 + 60 + 5  # maxDurationSeconds, then one more poll interval with its jitter
    assert wait_budget(check_input(), 1) == 2 * one_find + STEP_ALLOWANCE_SECONDS  # busy wait, then the find
    assert wait_budget(check_input(), 1) > 2 * 3600


def test_the_wait_grows_with_the_subscribers_a_concurrency_slot_holds_and_with_remediation() -> None:
    short = {
        "poll": {"initialWaitSeconds": 1, "maxWaitSeconds": 1, "jitterSeconds": 0, "maxDurationSeconds": 60}
    }
    each = 2 * 61 + STEP_ALLOWANCE_SECONDS
    assert wait_budget(check_input(**short), 3) == 2 * each  # maxConcurrency 2: two rounds
    assert wait_budget(check_input(**short, maxConcurrency=3), 3) == each
    ask = check_input(
        **short, remediate="ask", remediation={"approvalTimeoutSeconds": 300, "maxDurationSeconds": 900}
    )
    assert wait_budget(ask, 1) == each + 300 + 900 + 61


def test_a_duration_reads_as_a_person_says_it() -> None:
    assert [duration(s) for s in (42, 125, 3600, 15130)] == ["42 s", "2 min 5 s", "1 h", "4 h 12 min"]


def test_giving_up_says_who_was_left_what_dx_still_does_and_how_to_look_again_in_one_sentence() -> None:
    planned = [
        Subscriber(id="sub-a", targetHost="a.example.com"),
        Subscriber(id="sub-b", targetHost="b.example.com"),
        Subscriber(id="sub-c", targetHost="c.example.com"),
    ]
    on_dx = [
        Subscriber(id="sub-a", targetHost="a.example.com", resyncStatus=ResyncStatus.FIND_MISMATCH_START),
        Subscriber(id="sub-b", targetHost="b.example.com", resyncStatus=ResyncStatus.FIND_MISMATCH_COMPLETED),
    ]
    left = left_behind(planned, running=["sub-a"], finished=["sub-b"], now_on_dx=on_dx)
    assert [item.subscriber_id for item in left] == ["sub-a", "sub-c"]
    sentence = gave_up_sentence(
        900,
        left,
        "damdrift check --hostname dx.example.com --out r",
        "damdrift subscribers --hostname dx.example.com",
    )
    assert sentence == (
        "Gave up waiting after 15 min; the checks of a.example.com were still running; c.example.com had "
        "not started; DX is still running the find of a.example.com (stopping the check does not stop it). "
        "Look again with `damdrift subscribers --hostname dx.example.com` (their resyncStatus), then "
        "`damdrift check --hostname dx.example.com --out r --subscriber-id sub-a --subscriber-id sub-c "
        "--wait 1800`."
    )
    assert sentence.count(". ") == 1 and "None" not in sentence
