"""Summary: the camelCase summary.json of one check, and the rules that keep it self-consistent."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from damdrift.models.summary import CheckStatus, ErrorInfo, ReportKeys, Summary, counts_table, status_for

STARTED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def drift_summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "target_host": "sub.example.com",
        "status": CheckStatus.DRIFT,
        "counts": {"COLLECTION": {"CREATE": 2}, "RENDITION": {"DELETE": 1}},
        "total": 3,
        "execution": "exec-1",
        "started_at": STARTED,
        "find_started_at": STARTED + timedelta(seconds=5),
        "find_completed_at": STARTED + timedelta(seconds=65),
        "finished_at": STARTED + timedelta(seconds=70),
        "find_duration_seconds": 60.0,
        "poll_count": 4,
        "files": ReportKeys(records="p/records.jsonl.gz", csv="p/report.csv", summary="p/summary.json"),
        "report_prefix": "p/",
    }
    fields.update(overrides)
    return Summary(**fields)


def test_summary_serialises_with_camel_case_aliases() -> None:
    dumped = drift_summary().model_dump(by_alias=True, mode="json")
    assert dumped == {
        "schemaVersion": 1,
        "publisher": "dx.example.com",
        "dxProtocol": None,
        "subscriberId": "sub-1",
        "targetHost": "sub.example.com",
        "status": "DRIFT",
        "counts": {"COLLECTION": {"CREATE": 2}, "RENDITION": {"DELETE": 1}},
        "total": 3,
        "execution": "exec-1",
        "startedAt": "2024-05-01T10:00:00Z",
        "findStartedAt": "2024-05-01T10:00:05Z",
        "findCompletedAt": "2024-05-01T10:01:05Z",
        "finishedAt": "2024-05-01T10:01:10Z",
        "findDurationSeconds": 60.0,
        "pollCount": 4,
        "error": None,
        "partial": False,
        "files": {
            "records": "p/records.jsonl.gz",
            "csv": "p/report.csv",
            "summary": "p/summary.json",
            "keys": None,
            "diff": None,
            "new": None,
            "resolved": None,
            "html": None,
            "ages": None,
        },
        "reportPrefix": "p/",
        "ignored": {},
        "ignoredTotal": 0,
        "ignoreRules": None,
        "changes": None,
        "remediation": None,
        "driftAge": None,
        "effectiveTotal": 3,
    }


def test_summary_json_round_trips() -> None:
    summary = drift_summary()
    assert Summary.model_validate_json(summary.model_dump_json(by_alias=True)) == summary


def test_fields_added_by_a_later_schema_are_ignored_when_reading() -> None:
    dumped = drift_summary().model_dump(by_alias=True, mode="json") | {"somethingNew": 1}
    assert Summary.model_validate(dumped) == drift_summary()


def test_times_are_stored_in_utc() -> None:
    summary = drift_summary(
        started_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        finished_at=datetime(2024, 5, 1, 10, 30),  # naive: taken as UTC
    )
    dumped = summary.model_dump(by_alias=True, mode="json")
    assert dumped["startedAt"] == "2024-05-01T10:00:00Z"
    assert dumped["finishedAt"] == "2024-05-01T10:30:00Z"


def test_status_for_a_total() -> None:
    assert status_for(0) is CheckStatus.IN_SYNC
    assert status_for(1) is CheckStatus.DRIFT


def test_an_in_sync_summary_needs_only_the_basics() -> None:
    summary = Summary(publisher="p", subscriber_id="s", status=CheckStatus.IN_SYNC, execution="e")
    assert (summary.total, summary.counts, summary.partial, summary.schema_version) == (0, {}, False, 1)


def test_an_errored_summary_carries_the_error_and_may_be_partial() -> None:
    error = ErrorInfo(type="DxUnavailable", message="503 from DX", diagnosis={"attempts": 3})
    summary = drift_summary(status=CheckStatus.ERRORED, error=error, partial=True)
    dumped = summary.model_dump(by_alias=True, mode="json")
    assert dumped["error"] == {
        "type": "DxUnavailable",
        "message": "503 from DX",
        "diagnosis": {"attempts": 3},
    }
    assert dumped["partial"] is True


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"status": CheckStatus.ERRORED}, "needs an error"),
        ({"error": ErrorInfo(type="X", message="m")}, "cannot carry an error"),
        ({"partial": True}, "only an ERRORED summary can be partial"),
        ({"total": 4}, "add up to 3"),
        ({"status": CheckStatus.IN_SYNC}, "does not match"),
        ({"counts": {}, "total": 0}, "does not match"),
        ({"total": -1}, "greater than or equal to 0"),
        ({"schema_version": 2}, "1"),
    ],
)
def test_a_contradictory_summary_is_refused(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        drift_summary(**overrides)


def test_counts_table_lists_types_in_dx_order_then_unknown_types_alphabetically() -> None:
    counts = {
        "ZZZ_NEW": {"CREATE": 1},
        "RENDITION": {"DELETE": 2, "CREATE": 5, "ARCHIVE": 1},
        "AAA_NEW": {"UPDATE": 3},
        "COLLECTION": {"UPDATE": 7},
    }
    assert counts_table(counts) == [
        ("COLLECTION", "UPDATE", 7),
        ("RENDITION", "CREATE", 5),
        ("RENDITION", "DELETE", 2),
        ("RENDITION", "ARCHIVE", 1),
        ("AAA_NEW", "UPDATE", 3),
        ("ZZZ_NEW", "CREATE", 1),
    ]


def test_counts_table_of_nothing_is_empty() -> None:
    assert counts_table({}) == []
