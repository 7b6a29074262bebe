"""The fleet step after the drift check's Map (issue 24), run as deployed: the real definitions in moto,
the real handlers, the simulator on loopback. One run.json, the overview rendered once, at most one drift
and one ops notice per run, and S3 requests per subscriber check that do not grow with the fleet."""

import json
from typing import Any

import pytest

from damdrift.fleet.pricing import s3_kind
from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import check_input

pytestmark = pytest.mark.e2e

DRIFT = {"COLLECTION": {"CREATE": 2}, "MEDIA_ITEM": {"UPDATE": 1}}


def stored(aws: LocalAws, key: str) -> Any:
    return json.loads(aws.client("s3").get_object(Bucket=aws._deployed.bucket, Key=key)["Body"].read())


def subscriber_checks(run: CheckRun) -> int:
    return sum(1 for e in run.executions[1:] if e.started_by == run.execution_arn)


def test_a_mixed_run_sends_one_drift_and_one_ops_notice_naming_every_subscriber_that_needs_attention(
    publisher: Simulator, aws: LocalAws
) -> None:
    drifting = [publisher.add_subscriber(f"drift-{i}.example.com", drift=DRIFT) for i in range(3)]
    errored = [publisher.add_subscriber(f"broken-{i}.example.com", find_outcome="fail") for i in range(2)]
    in_sync = [publisher.add_subscriber(f"quiet-{i}.example.com") for i in range(2)]

    run = aws.run_check(check_input(publisher, maxConcurrency=4))

    assert run.status == "SUCCEEDED"
    assert sorted(n.topic for n in run.notices) == ["DriftTopic", "OpsTopic"]
    [drift] = [n for n in run.notices if n.topic == "DriftTopic"]
    [ops] = [n for n in run.notices if n.topic == "OpsTopic"]
    assert len(drift.subject) < 100 and drift.subject.startswith("[DRIFT] ")
    assert "3 drift" in drift.subject and "2 errored" in drift.subject and "2 in sync" in drift.subject
    assert all(f"drift-{i}.example.com" in drift.message for i in range(3))
    assert "quiet-" not in drift.message and "broken-" not in drift.message
    assert all(f"broken-{i}.example.com" in ops.message for i in range(2))
    assert drift.attributes["kind"] == "run" and "subscriberId" not in drift.attributes
    # no subscriber check published a notice of its own
    assert all((item.get("notified") or {}).get("status") == "SKIPPED" for item in run.outcomes)

    assert run.output is not None
    result = run.output["run"]
    assert result["byStatus"] == {"DRIFT": 3, "ERRORED": 2, "IN_SYNC": 2}
    summary = stored(aws, result["runKey"])
    assert {e["subscriberId"] for e in summary["subscribers"]} == {*drifting, *errored, *in_sync}
    assert [n["status"] for n in summary["notices"]] == ["SENT", "SENT"]
    page = aws.client("s3").get_object(Bucket=aws._deployed.bucket, Key=result["overview"])["Body"].read()
    assert all(f"drift-{i}.example.com".encode() in page for i in range(3))
    names = {
        m["Name"]
        for line in aws.function_logs().splitlines()
        if '"_aws"' in line
        for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert {"RunSubscribers", "RunSubscribersByStatus", "RunNewRecords", "RunDuration"} <= names


def test_per_subscriber_notices_remain_available_for_subscriptions_that_filter_on_subscriber_id(
    publisher: Simulator, aws: LocalAws
) -> None:
    subscribers = {publisher.add_subscriber(f"drift-{i}.example.com", drift=DRIFT) for i in range(2)}

    run = aws.run_check(check_input(publisher, notices="subscriber"))

    assert {n.attributes.get("subscriberId") for n in run.notices} == subscribers
    assert run.output is not None and run.output["run"]["notices"] == []


def test_a_failing_fleet_step_is_recorded_and_told_to_ops_and_the_run_still_succeeds_with_its_reports(
    publisher: Simulator, aws: LocalAws
) -> None:
    sub = publisher.add_subscriber("drift.example.com", drift=DRIFT)
    aws._deployed.lambdas.time_out_after_run("SummariseRunFunction", times=10)

    run = aws.run_check(check_input(publisher))

    assert run.status == "SUCCEEDED"
    assert run.output is not None and run.output["run"] == {"error": "Sandbox.Timedout"}
    [item] = run.outcomes
    assert item["subscriberId"] == sub and item["outcome"]["summaryKey"]
    assert any(n.topic == "OpsTopic" and "could not summarise" in n.subject for n in run.notices)


def s3_requests_per_subscriber_check(publisher: Simulator, aws: LocalAws, count: int) -> float:
    ids = [publisher.add_subscriber(f"sub-{count}-{i:03d}.example.com", drift=DRIFT) for i in range(count)]
    run = aws.run_check(check_input(publisher, maxConcurrency=4, subscriberIds=ids), timeout_seconds=600)
    assert run.status == "SUCCEEDED" and subscriber_checks(run) == count
    print(
        f"{count} subscribers: S3 {run.usage.s3} -> {run.usage.s3_requests / count:.1f} per subscriber check"
    )
    return run.usage.s3_requests / count


def test_s3_requests_per_subscriber_check_stay_flat_as_the_fleet_grows(
    publisher: Simulator, aws: LocalAws
) -> None:
    """Two runs over new subscribers (no history): 3, then 12. Before the fleet step each fetch re-read
    every subscriber's overview row, so the requests per check grew with the fleet (n² a run)."""
    small = s3_requests_per_subscriber_check(publisher, aws, 3)
    large = s3_requests_per_subscriber_check(publisher, aws, 12)
    assert abs(large - small) / small <= 0.10, (small, large)


def test_the_cost_line_counts_the_runs_real_calls(publisher: Simulator, aws: LocalAws) -> None:
    publisher.add_subscriber("drift.example.com", drift=DRIFT)

    run = aws.run_check(check_input(publisher))

    usage = run.usage
    assert usage.state_transitions == run.state_transitions > 0
    # authenticate, trigger, at least one poll, fetch, summarise-run
    assert len(usage.invocations) >= 5 and usage.gb_seconds > 0
    assert {"PUT", "GET", "LIST"} <= {s3_kind(op) for op in usage.s3}
    assert usage.sns_requests == 1  # the run's one drift notice
    assert usage.line().startswith("cost: transitions=") and "total=$" in usage.line()
