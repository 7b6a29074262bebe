"""Reading record type and action out of raw mismatch records, whichever spelling DX uses."""

from typing import Any

import pytest

from damdrift.errors import UnexpectedResponse
from damdrift.report.records.fields import CSV_COLUMNS, FIELD_ALIASES, field_value, record_action, record_type


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "log-1",
        "subscriberId": "sub-1",
        "recordType": "COLLECTION",
        "recordAction": "CREATE",
        "recordId": "rec-1",
        "created": "2024-05-01T10:00:00.000Z",
        "updated": "2024-05-01T10:00:00.000Z",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}


def test_type_and_action_are_read_from_the_assumed_record_shape() -> None:
    raw = record(recordType="MEDIA_ITEM", recordAction="DELETE")
    assert (record_type(raw), record_action(raw)) == ("MEDIA_ITEM", "DELETE")


def test_type_and_action_are_also_read_from_the_db_column_spellings() -> None:
    raw = record(recordType=..., recordAction=..., type="RENDITION", action="UPDATE")
    assert (record_type(raw), record_action(raw)) == ("RENDITION", "UPDATE")


def test_the_published_spelling_wins_when_both_are_present() -> None:
    raw = record(recordType="VERSION", type="KEYWORD", recordAction="CREATE", action="DELETE")
    assert (record_type(raw), record_action(raw)) == ("VERSION", "CREATE")


def test_a_null_published_spelling_falls_back_to_the_column_spelling() -> None:
    raw = record(recordType=None, type="FAVORITE")
    assert record_type(raw) == "FAVORITE"


def test_record_types_this_release_does_not_know_are_returned_as_sent() -> None:
    assert record_type(record(recordType="SOMETHING_NEW_IN_CF230")) == "SOMETHING_NEW_IN_CF230"


def test_a_missing_type_error_names_the_field_and_lists_keys_but_not_values() -> None:
    raw = record(recordType=..., recordId="secret-looking-value")
    with pytest.raises(UnexpectedResponse) as caught:
        record_type(raw)
    message = str(caught.value)
    assert "'recordType'" in message and "'type'" in message
    assert "recordId" in message and "subscriberId" in message
    assert "secret-looking-value" not in message and "sub-1" not in message


def test_a_missing_action_error_names_the_field() -> None:
    with pytest.raises(UnexpectedResponse, match=r"'recordAction'.*'action'"):
        record_action(record(recordAction=...))


@pytest.mark.parametrize("bad", ["", 7, ["COLLECTION"], {"name": "COLLECTION"}])
def test_an_empty_or_non_string_type_is_rejected_without_echoing_it(bad: object) -> None:
    with pytest.raises(UnexpectedResponse, match="recordType") as caught:
        record_type(record(recordType=bad))
    assert "COLLECTION" not in str(caught.value)


@pytest.mark.parametrize("bad", [None, "COLLECTION", ["COLLECTION"], 3])
def test_a_record_that_is_not_a_json_object_is_rejected(bad: Any) -> None:
    with pytest.raises(UnexpectedResponse, match="expected an object"):
        record_type(bad)
    with pytest.raises(UnexpectedResponse, match="expected an object"):
        record_action(bad)


def test_csv_columns_are_the_documented_assumption() -> None:
    assert CSV_COLUMNS == ("subscriberId", "recordType", "recordAction", "recordId", "created")
    assert set(FIELD_ALIASES) == set(CSV_COLUMNS)
    assert all(aliases[0] == column for column, aliases in FIELD_ALIASES.items())


def test_field_value_takes_the_first_spelling_with_a_value() -> None:
    raw = {"recordId": None, "record_id": "r-9", "subscriber_id": "s-2"}
    assert field_value(raw, "recordId") == "r-9"
    assert field_value(raw, "subscriberId") == "s-2"
    assert field_value(raw, "created") is None
