"""AWS quotas a check could reach, computed from the deployed definitions and the state models.

Step Functions: 25,000 history events per execution, 256 KiB per state input or output. Lambda: 6 MB
per synchronous invocation. SNS: 256 KB per message. Inline Map: 40 concurrent iterations. moto
enforces none of them, so these bounds are checked here (docs/deploy.md, "Quotas").
"""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from damdrift.execution_input import CheckInput
from damdrift.poll_schedule import POLL_BUDGET
from damdrift.report.rendering.notification import MESSAGE_MAX_BYTES
from damdrift.settings import RemediationLimits
from damdrift.state import CheckContext, CheckPlan, SubscriberRef
from damdrift.steps.authenticate import with_options
from damdrift_cli.local import definitions
from damdrift_cli.local.quotas import HISTORY_EVENTS_QUOTA, PAYLOAD_BYTES_QUOTA, QuotaUse, WorstCase

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = 1_000
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
SNS_MESSAGE_BYTES = 256 * 1024
INLINE_MAP_CONCURRENCY = 40


def definition(name: str) -> dict[str, Any]:
    return definitions.load(definitions.SHIPPED_DIR / name)


def worst(subscribers: int = SUBSCRIBERS) -> WorstCase:
    return WorstCase.of(
        definition("drift_check.asl.json"), definition("subscriber_check.asl.json"), subscribers, POLL_BUDGET
    )


def test_no_execution_of_a_1000_subscriber_check_can_pass_25000_history_events() -> None:
    case = worst()
    assert case.parent_events <= HISTORY_EVENTS_QUOTA, case
    assert case.child_events <= HISTORY_EVENTS_QUOTA, case


def test_a_subscriber_checks_history_does_not_grow_with_the_number_of_subscribers() -> None:
    assert worst(10).child_events == worst(SUBSCRIBERS).child_events
    # the parent grows by a constant per subscriber, whatever the finds take
    assert worst(1_001).parent_events - worst(1_000).parent_events == worst().per_subscriber_parent_events


def subscriber(i: int) -> SubscriberRef:
    return SubscriberRef(
        subscriber_id=str(uuid.UUID(int=i)),
        target_host=f"dam-subscriber-{i:04d}.internal.example.com",
        remediate="ask",
    )


def context() -> CheckContext:
    return CheckContext.model_validate(
        {
            "execution": "x" * 80,
            # the longest: an 80-character state machine name and execution name
            "executionArn": "arn:aws:states:eu-central-1:123456789012:execution:" + "s" * 80 + ":" + "x" * 80,
            "publisher": {"hostname": "dam-publisher.internal.example.com", "dxPort": 10039},
            "publisherId": "dam-publisher.internal.example.com_10039",
            "credentialsSecret": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:dx/admin-AbC123",
            "poll": {},
            "busyPolicy": "wait",
            "notifyPolicy": "on-drift",
            "maxConcurrency": 40,
            "startedAt": datetime(2026, 12, 3, tzinfo=UTC),
        }
    )


def size(value: object) -> int:
    # As the Lambda runtime serialises a handler's result (json.dumps' default separators)
    return len(json.dumps(value).encode("utf-8"))


def test_the_plan_of_1000_subscribers_fits_one_state_payload() -> None:
    plan = CheckPlan(check=context(), subscribers=[subscriber(i) for i in range(SUBSCRIBERS)])
    assert size(plan.to_wire()) < PAYLOAD_BYTES_QUOTA


def test_the_results_of_1000_subscribers_replace_the_plan_and_fit_one_state_payload() -> None:
    results = [{"subscriberId": str(uuid.UUID(int=i)), "status": "ERRORED"} for i in range(SUBSCRIBERS)]
    report = {"execution": "x" * 80, "publisher": "p" * 64, "startedAt": "2026-12-03T05:00:00Z"}
    assert size({**report, "outcomes": results}) < PAYLOAD_BYTES_QUOTA
    # what the Map state's output holds: the context and the results (not the subscriber list too)
    assert size({"check": context().to_wire(), "subscribers": results}) < PAYLOAD_BYTES_QUOTA


def largest_input_with_own_dams() -> dict[str, Any]:
    """An execution input as large as Step Functions takes (256 KiB), nearly all of it 500 subscribers'
    own DAM connections (subscriberOptions.<id>.dam, with a CA bundle path and their own secret)."""
    options = {
        str(uuid.UUID(int=i)): {
            "dam": {
                "hostname": f"dam-subscriber-{i:04d}.internal.example.com",
                "dxPort": 443,
                "caBundle": "/opt/certs/" + "c" * 260 + ".pem",
            },
            "credentialsSecret": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:dx/sub-AbC123",
        }
        for i in range(500)
    }
    raw = {"publisher": {"hostname": "dam-publisher.internal.example.com"}, "subscriberOptions": options}
    assert PAYLOAD_BYTES_QUOTA * 0.8 < size(raw) < PAYLOAD_BYTES_QUOTA
    return raw


def test_the_plan_of_1000_subscribers_fits_one_state_payload_when_500_have_their_own_dam() -> None:
    check_input = CheckInput.model_validate(largest_input_with_own_dams())
    limits = RemediationLimits.model_validate({"REPORT_BUCKET": "reports"})
    refs = [with_options(subscriber(i), check_input, limits) for i in range(SUBSCRIBERS)]
    assert sum(ref.own_dam for ref in refs) == 500
    plan = CheckPlan(check=context(), subscribers=refs)
    assert size(plan.to_wire()) < PAYLOAD_BYTES_QUOTA


def test_lambdas_6_mb_synchronous_payload_cannot_be_reached_through_a_state() -> None:
    # Every step's event is a state's input and its result a state's output: Step Functions refuses
    # either past 256 KiB, far below Lambda's 6 MB (approve's form posts are a few hundred bytes).
    assert PAYLOAD_BYTES_QUOTA < LAMBDA_SYNC_PAYLOAD_BYTES


def test_notices_stay_below_snss_256_kb() -> None:
    assert MESSAGE_MAX_BYTES < SNS_MESSAGE_BYTES


def test_the_input_cannot_ask_an_inline_map_for_more_than_40_concurrent_iterations() -> None:
    publisher = {"publisher": {"hostname": "dx.example.com"}}
    assert CheckInput.model_validate({**publisher, "maxConcurrency": INLINE_MAP_CONCURRENCY})
    with pytest.raises(ValidationError, match="maxConcurrency"):
        CheckInput.model_validate({**publisher, "maxConcurrency": INLINE_MAP_CONCURRENCY + 1})


def test_the_quota_line_reads_the_largest_history_and_payload_of_all_executions() -> None:
    def event(kind: str, payload: str = "") -> dict[str, Any]:
        return {"type": kind, "stateEnteredEventDetails": {"name": "S", "input": payload}}

    parent = [event("TaskStateEntered", "é" * 10)] * 3
    child = [event("PassStateEntered", "x" * 7)] * 5
    use = QuotaUse.of([parent, child])
    assert use == QuotaUse(executions=2, history_events_max=5, history_events_total=8, payload_bytes_max=20)
    assert (
        use.line() == "quotas: executions=2 history_events_max=5 history_events_total=8 payload_bytes_max=20"
    )
    assert use.within
