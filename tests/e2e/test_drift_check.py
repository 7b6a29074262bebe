"""The whole drift check, as deployed: the real ASL file executed by moto, the real handlers, the
simulator speaking DX's protocol on loopback. Each scenario checks S3, the notices and the output."""

import csv
import gzip
import io
import json
import re
from typing import Any

import pytest

from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import check_input, stack_of

pytestmark = pytest.mark.e2e

DRIFT = {"COLLECTION": {"CREATE": 3, "DELETE": 1}, "MEDIA_ITEM": {"UPDATE": 5}, "RENDITION": {"CREATE": 2}}


def s3_objects(aws: LocalAws) -> dict[str, bytes]:
    s3 = aws.client("s3")
    bucket = aws._deployed.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def outcome_of(run: CheckRun, subscriber_id: str) -> dict[str, Any]:
    for item in run.outcomes:
        if item["subscriberId"] == subscriber_id:
            return item
    raise AssertionError(f"no outcome for {subscriber_id}: {run.outcomes}")


def test_subscriber_in_sync_gets_an_explicit_in_sync_summary_and_no_drift_notice(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-in-sync.example.com")

    run = aws.run_check(check_input(publisher))

    assert run.status == "SUCCEEDED"
    item = outcome_of(run, sub)
    assert item["status"] == "IN_SYNC"
    assert item["outcome"]["total"] == 0
    assert item["notified"]["status"] == "SKIPPED"
    objects = s3_objects(aws)
    summary = json.loads(objects[item["outcome"]["summaryKey"]])
    assert summary["status"] == "IN_SYNC"
    assert summary["total"] == 0
    assert summary["execution"] == run.name
    assert run.notices == []


def test_drift_is_stored_as_jsonl_csv_and_summary_and_notified_with_attributes(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-drifted.example.com", drift=DRIFT)

    run = aws.run_check(check_input(publisher))

    assert run.status == "SUCCEEDED"
    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT"
    assert item["outcome"]["total"] == 11
    assert item["outcome"]["counts"] == {
        "COLLECTION": {"CREATE": 3, "DELETE": 1},
        "MEDIA_ITEM": {"UPDATE": 5},
        "RENDITION": {"CREATE": 2},
    }
    objects = s3_objects(aws)
    prefix = item["outcome"]["summaryKey"].rsplit("/", 1)[0] + "/"
    assert prefix.startswith(f"reports/{publisher.hostname}_{publisher.port}/{sub}/")
    assert prefix.endswith(f"/{run.name}/")
    records = [
        json.loads(line) for line in gzip.decompress(objects[prefix + "records.jsonl.gz"]).splitlines()
    ]
    assert len(records) == 11
    assert {r["subscriberId"] for r in records} == {sub}
    rows = list(csv.DictReader(io.StringIO(objects[prefix + "report.csv"].decode("utf-8"))))
    assert len(rows) == 11
    assert sorted({(r["recordType"], r["recordAction"]) for r in rows}) == [
        ("COLLECTION", "CREATE"),
        ("COLLECTION", "DELETE"),
        ("MEDIA_ITEM", "UPDATE"),
        ("RENDITION", "CREATE"),
    ]
    latest = json.loads(objects[f"reports/{publisher.hostname}_{publisher.port}/{sub}/latest.json"])
    assert latest["summaryKey"] == item["outcome"]["summaryKey"]
    [notice] = run.notices
    assert notice.topic == "DriftTopic"
    assert notice.attributes == {
        "status": "DRIFT",
        "subscriberId": sub,
        "publisher": f"{publisher.hostname}_{publisher.port}",
    }
    assert "11" in notice.subject
    assert "MEDIA_ITEM" in notice.message and prefix in notice.message
    # sent by the run (a run with one subscriber to tell sends that subscriber's own notice), not the check
    assert item["notified"]["status"] == "SKIPPED"
    assert run.output is not None
    assert run.output["run"]["notices"] == [{"topic": "drift", "status": "SENT", "subscribers": 1}]


def emf_metrics(aws: LocalAws) -> list[dict[str, Any]]:
    """The CloudWatch EMF documents the handlers printed (Powertools Metrics)."""
    documents = []
    for line in aws.function_logs().splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def test_drift_is_measured_as_emf_metrics_by_record_type_and_action(
    publisher: Simulator, aws: LocalAws
) -> None:
    publisher.add_subscriber("sub-drifted.example.com", drift=DRIFT)

    aws.run_check(check_input(publisher))

    documents = emf_metrics(aws)
    by_dimensions = {
        (d.get("recordType"), d.get("recordAction")): d["MismatchRecords"]
        for d in documents
        if "MismatchRecords" in d
    }
    assert by_dimensions[("COLLECTION", "CREATE")] == [3.0]
    assert by_dimensions[("MEDIA_ITEM", "UPDATE")] == [5.0]
    names = {m["Name"] for d in documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"SubscribersToCheck", "FindsStarted", "StatusPolls", "PollCount", "FindDurationSeconds"} <= names
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DamDrift" for d in documents)


def test_find_mismatch_failed_ends_errored_with_dx_diagnosis_and_an_ops_notice(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("sub-fails.example.com", drift=DRIFT, find_outcome="fail")

    run = aws.run_check(check_input(publisher))

    assert run.status == "SUCCEEDED"
    item = outcome_of(run, sub)
    assert item["status"] == "ERRORED"
    error = item["outcome"]["error"]
    assert error["type"] == "FindMismatchFailed"
    assert error["diagnosis"]["operation"]["status"] == "FAILED"
    assert error["diagnosis"]["operation"]["retryCounter"] > 0
    summary = json.loads(s3_objects(aws)[item["outcome"]["summaryKey"]])
    assert summary["status"] == "ERRORED"
    # The poll that saw FAILED counts: the error, summary, notice and HTML give one number.
    polls = int(re.search(r"and (\d+) polls", error["message"]).group(1))  # type: ignore[union-attr]
    assert summary["pollCount"] == polls
    [notice] = run.notices
    assert notice.topic == "OpsTopic"
    assert notice.attributes["status"] == "ERRORED"
    assert "retryCounter" in notice.message
    assert f"Status polls:   {polls}\n" in notice.message


def test_find_stuck_past_the_cap_ends_errored_as_timed_out(publisher: Simulator, aws: LocalAws) -> None:
    sub = publisher.add_subscriber("sub-stuck.example.com", find_outcome="stuck")
    execution_input = check_input(publisher)
    execution_input["poll"]["maxDurationSeconds"] = 3

    run = aws.run_check(execution_input)

    item = outcome_of(run, sub)
    assert item["status"] == "ERRORED"
    assert item["outcome"]["error"]["type"] == "FindMismatchTimedOut"
    assert "FIND_MISMATCH_START" in item["outcome"]["error"]["message"]


def test_one_failing_subscriber_never_stops_the_others(publisher: Simulator, aws: LocalAws) -> None:
    good = publisher.add_subscriber("sub-good.example.com", drift={"KEYWORD": {"CREATE": 2}})
    bad = publisher.add_subscriber("sub-bad.example.com", find_outcome="fail")
    in_sync = publisher.add_subscriber("sub-in-sync.example.com")

    run = aws.run_check(check_input(publisher))

    assert {i["subscriberId"]: i["status"] for i in run.outcomes} == {
        good: "DRIFT",
        bad: "ERRORED",
        in_sync: "IN_SYNC",
    }


def test_session_expired_mid_run_is_renewed_by_one_login(publisher: Simulator, aws: LocalAws) -> None:
    sub = publisher.add_subscriber("sub-drifted.example.com", drift=DRIFT)
    publisher.inject_fault("GET /staging/mismatches", "expire_sessions", times=1)

    run = aws.run_check(check_input(publisher))

    assert outcome_of(run, sub)["status"] == "DRIFT"
    logins = [e for e in publisher.exchanges if e.path.endswith("/auth/login")]
    assert len(logins) == 2  # the first, then exactly one more after the 401


def test_no_registered_subscribers_is_a_successful_check_with_no_outcomes(
    publisher: Simulator, aws: LocalAws
) -> None:
    run = aws.run_check(check_input(publisher))

    assert run.status == "SUCCEEDED"
    assert run.outcomes == []
    assert run.notices == []


def test_unknown_subscriber_id_is_its_own_errored_outcome(publisher: Simulator, aws: LocalAws) -> None:
    known = publisher.add_subscriber("sub-known.example.com")
    unknown = "00000000-0000-4000-8000-000000000000"

    run = aws.run_check(check_input(publisher, subscriberIds=[known, unknown]))

    assert outcome_of(run, known)["status"] == "IN_SYNC"
    item = outcome_of(run, unknown)
    assert item["status"] == "ERRORED"
    assert item["outcome"]["error"]["type"] == "SubscriberNotFound"
    assert publisher.find_trigger_count(unknown) == 0


def test_invalid_input_fails_the_execution_at_once_naming_the_field(
    publisher: Simulator, aws: LocalAws
) -> None:
    publisher.add_subscriber("sub.example.com")

    run = aws.run_check({"publisher": {"hostname": "https://dx.example.com/"}})

    assert run.status == "FAILED"
    assert run.error == "InvalidInput"
    assert "publisher.hostname" in (run.cause or "")
    assert publisher.exchanges == []  # DX was never called


def test_bad_credentials_fail_fast_and_tell_the_ops_topic(publisher: Simulator) -> None:
    publisher.add_subscriber("sub.example.com")
    with LocalAws(
        {"username": publisher.username, "password": "not-the-password"},
        parameters=stack_of(publisher),
        retry_time_scale=0.01,
    ) as aws:
        run = aws.run_check(check_input(publisher))

    assert run.status == "FAILED"
    assert run.error == "AuthenticationError"
    assert publisher.username in (run.cause or "")
    [notice] = run.notices
    assert notice.topic == "OpsTopic"
    assert "AuthenticationError" in notice.message
