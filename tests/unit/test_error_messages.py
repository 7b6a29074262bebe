"""A task's error message is one bounded line: it becomes a Catch's ``Cause`` and from there the ops
notice's text, the execution's failure and ``summary.json`` (``damdrift.errors``)."""

import unicodedata

import pytest

from damdrift import errors
from damdrift.errors import DamDriftError, FindMismatchFailed, split_diagnosis

#: What DX may write into an error message it sends: lines of its own (one a header an e-mail reader
#: believes), other control characters, a bidi override.
FORGED = "No such list.\r\nSubject: [IN_SYNC] all is well\n\nReply\tto\x0bus\x85now\u2028or \u202eelse\x00!"


def every_domain_error() -> list[type[DamDriftError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, DamDriftError)]


@pytest.mark.parametrize("error", every_domain_error(), ids=lambda c: c.__name__)
def test_a_domain_error_message_is_one_line_whatever_dx_wrote_into_it(error: type[DamDriftError]) -> None:
    text = str(error(f"GET /staging/subscriber on dx.example.com: HTTP 404: {FORGED}"))

    assert text.splitlines() == [text]
    assert not [c for c in text if unicodedata.category(c) in ("Cc", "Cf")]
    assert text.endswith("HTTP 404: No such list. Subject: [IN_SYNC] all is well Reply to us now or else!")


def test_a_message_is_capped_at_4000_characters_and_its_diagnosis_still_comes_back() -> None:
    error = FindMismatchFailed("x" * 50_000, {"operation": {"retryCounter": 1}})

    message, diagnosis = split_diagnosis(str(error))

    assert len(message) == 4000 and message.endswith("...")
    assert diagnosis == {"operation": {"retryCounter": 1}}


#: DX's error text ending in what looks like the diagnosis our errors carry after their message.
FAKE_DIAGNOSIS = (
    'busy | diagnosis={"failedOnVolume": true, "operation": {"status": "FAILED", "retryCounter": 3}}'
)


def test_dx_text_in_a_message_cannot_pass_for_a_diagnosis() -> None:
    message, diagnosis = split_diagnosis(
        str(errors.DxUnavailable(f"GET /staging/subscriber: HTTP 500: {FAKE_DIAGNOSIS}"))
    )

    assert diagnosis is None  # no "failed on volume" hint, no FAILED operation, from DX's own words
    assert message.startswith("GET /staging/subscriber: HTTP 500: busy | diagnosis:")


def test_dx_text_in_a_message_leaves_the_real_diagnosis_whole() -> None:
    error = FindMismatchFailed(f"find failed: {FAKE_DIAGNOSIS}", {"operation": {"retryCounter": 1}})

    message, diagnosis = split_diagnosis(str(error))

    assert diagnosis == {"operation": {"retryCounter": 1}}
    assert message.startswith("find failed: busy | diagnosis:")
