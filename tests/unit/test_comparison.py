"""analysis/comparison: which earlier check a check is compared with (latest.json's lastGood, else the
newest usable summary listed; never an ERRORED one, never itself), and a previous check that cannot be
read (not compared, not a failed check)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from damdrift.latest_pointer import put_latest
from damdrift.models.summary import CheckStatus, Summary
from damdrift.report.analysis.comparison import compare_with_previous, previous_usable
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.writer import ReportWriter
from damdrift.report_history import get_latest, load_history, put_summary
from damdrift.settings import FetchReportSettings
from damdrift.store import ReportStore
from tests.report_samples import summary_of as summary

BUCKET = "dam-drift-reports"
NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
SETTINGS = FetchReportSettings.from_env({"REPORT_BUCKET": BUCKET})


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReportStore]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield ReportStore(client, BUCKET)


def store_check(store: ReportStore, check: Summary, day: int) -> str:
    prefix = f"reports/p/s/2026/11/{day:02d}/{check.execution}/"
    key = put_summary(store, prefix, check)
    latest = get_latest(store, "p", "s")
    put_latest(store, "p", "s", key, check, last_good=latest.last_good if latest else None)
    return key


def test_the_previous_check_is_the_last_usable_one_never_an_errored_one(store: ReportStore) -> None:
    good = store_check(store, summary("one"), 1)
    store_check(store, summary("two", CheckStatus.ERRORED), 2)

    history = load_history(store, SETTINGS, "p", "s", "three")

    found = previous_usable(store, history, "three")
    assert found is not None and (found[0], found[1].execution) == (good, "one")
    assert [s.execution for _k, s in history.summaries] == ["two", "one"]


def test_a_retried_step_does_not_compare_a_check_with_itself(store: ReportStore) -> None:
    store_check(store, summary("one"), 1)
    store_check(store, summary("two"), 2)  # the first attempt of "two" got as far as latest.json

    found = previous_usable(store, load_history(store, SETTINGS, "p", "s", "two"), "two")

    assert found is not None and found[1].execution == "one"


def test_a_previous_check_that_cannot_be_read_means_not_compared_not_a_failed_check(
    store: ReportStore, tmp_path: Path
) -> None:
    key = store_check(store, summary("one"), 1)  # a summary, but no records or keys beside it
    tracker = RecordTracker()
    with ReportWriter(tmp_path / "report", observer=tracker.observe) as writer:
        writer.add({"recordType": "KEYWORD", "recordAction": "CREATE", "recordId": "k"})

    comparison = compare_with_previous(
        store,
        "two",
        CheckStatus.DRIFT,
        tracker,
        writer.result,
        "reports/p/s/2026/11/02/two/",
        tmp_path,
        (key, summary("one")),
    )

    assert comparison.diff is None
    assert comparison.changes.error is not None and "NoSuchKey" in comparison.changes.error
    assert comparison.changes.changed  # so that on-change does not stay silent by mistake
    assert store.get_bytes(comparison.stored["keys"])  # this check's keys are stored all the same
