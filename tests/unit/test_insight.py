"""The fetch step's insight: ignore rules from S3, the previous usable check, the notify policy."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from damdrift.execution_input import NotifyPolicy
from damdrift.latest_pointer import put_latest
from damdrift.models.summary import Changes, CheckStatus, ErrorInfo, Summary
from damdrift.report.analysis.comparison import compare_with_previous, previous_usable
from damdrift.report.ingest.tracker import RecordTracker
from damdrift.report.ingest.writer import ReportWriter
from damdrift.report.records.ignore import load_ignore_rules
from damdrift.report_history import get_latest, load_history, put_summary
from damdrift.settings import FetchReportSettings
from damdrift.steps.fetch import should_notify
from damdrift.store import ReportStore

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


def summary(execution: str, status: CheckStatus = CheckStatus.DRIFT, **fields: Any) -> Summary:
    counts = {"KEYWORD": {"CREATE": 1}} if status is CheckStatus.DRIFT else {}
    error = ErrorInfo(type="FindMismatchFailed", message="m") if status is CheckStatus.ERRORED else None
    return Summary(
        publisher="p",
        subscriber_id="s",
        status=status,
        counts=counts,
        total=sum(n for a in counts.values() for n in a.values()),
        execution=execution,
        finished_at=NOW,
        error=error,
        **fields,
    )


def store_check(store: ReportStore, check: Summary, day: int) -> str:
    prefix = f"reports/p/s/2026/11/{day:02d}/{check.execution}/"
    key = put_summary(store, prefix, check)
    latest = get_latest(store, "p", "s")
    put_latest(store, "p", "s", key, check, last_good=latest.last_good if latest else None)
    return key


def test_without_a_rules_file_nothing_is_ignored_and_the_summary_says_nothing(store: ReportStore) -> None:
    setup = load_ignore_rules(store, SETTINGS, "p", "s", NOW)
    assert (setup.matcher, setup.summary) == (None, None)


def test_a_broken_rules_file_ignores_nothing_and_says_why(store: ReportStore) -> None:
    store.put_bytes(SETTINGS.ignore_rules_key, b'{"rules": [{}]}', "application/json", check_prefix="config/")
    setup = load_ignore_rules(store, SETTINGS, "p", "s", NOW)
    assert setup.matcher is None
    assert setup.summary is not None and "invalid ignore rules" in (setup.summary.error or "")


def test_rules_are_read_from_the_configured_key_with_their_expired_ones_listed(store: ReportStore) -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": BUCKET, "IGNORE_RULES_KEY": "team/rules.json"})
    rules = {
        "rules": [
            {"recordType": "RENDITION"},
            {"recordType": "VERSION", "expires": "2026-01-01", "comment": "c"},
        ]
    }
    store.put_bytes("team/rules.json", json.dumps(rules).encode(), "application/json", check_prefix="team/")
    setup = load_ignore_rules(store, settings, "p", "s", NOW)
    assert setup.summary is not None
    assert (setup.summary.rules_key, setup.summary.active) == ("team/rules.json", 1)
    assert [(r.index, r.rule, r.expires, r.comment) for r in setup.summary.expired] == [
        (1, "VERSION * *", "2026-01-01", "c")
    ]


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
