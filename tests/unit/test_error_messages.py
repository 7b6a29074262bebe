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
