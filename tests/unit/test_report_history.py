"""The stored history (report_history): a subscriber's newest summaries, found without listing them all,
and a check's summary.json read and written as a Summary."""

import json
from typing import Any

import pytest

from damdrift.errors import ReportStorageError
from damdrift.report_history import get_summary, newest_summary_keys, put_summary
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET
from tests.report_samples import PREFIX, drift_summary

BUCKET = REPORT_BUCKET


def test_the_newest_summaries_are_found_walking_back_through_months_and_years(
    s3: Any, store: ReportStore
) -> None:
    stored = []
    for day, execution in [
        ("2023/12/31", "a"),
        ("2024/01/02", "b"),
        ("2024/02/10", "c"),
        ("2024/02/10", "d"),
    ]:
        key = f"reports/p/s/{day}/{execution}/summary.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
        s3.put_object(Bucket=BUCKET, Key=key.replace("summary.json", "report.csv"), Body=b"")
        stored.append(key)
    s3.put_object(Bucket=BUCKET, Key="reports/p/s/latest.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="reports/p/other/2024/03/01/x/summary.json", Body=b"{}")

    assert newest_summary_keys(store, "p", "s", 3) == [stored[3], stored[2], stored[1]]
    assert newest_summary_keys(store, "p", "s", 10) == stored[::-1]
    assert newest_summary_keys(store, "p", "nobody", 10) == []


def test_summary_round_trips_as_camel_case_json(s3: Any, store: ReportStore) -> None:
    summary = drift_summary()
    key = put_summary(store, PREFIX, summary)
    assert key == PREFIX + "summary.json"
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "application/json"
    document = json.loads(stored["Body"].read())
    assert document["subscriberId"] == "sub-1" and document["schemaVersion"] == 1
    assert get_summary(store, key) == summary


def test_a_missing_summary_is_a_storage_error(store: ReportStore) -> None:
    with pytest.raises(ReportStorageError, match="no summary at"):
        get_summary(store, PREFIX + "summary.json")


def test_an_object_that_is_not_a_summary_is_a_storage_error(s3: Any, store: ReportStore) -> None:
    s3.put_object(Bucket=BUCKET, Key="x.json", Body=b'{"hello": "world"}')
    with pytest.raises(ReportStorageError, match="is not a dam-drift summary"):
        get_summary(store, "x.json")
