"""Opt-in remediation through the real state machine: resync, watch the subscriber, verify with a find.

The publisher and each subscriber's own DAM are simulators on loopback; the subscriber's
``syncStaging*`` operations run there and clear the drift they repair when they succeed.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from damdrift.dx.sessions import forget_all
from damdrift_cli.local.runner import CheckRun, LocalAws, stack_parameters
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT, check_input
from tests.e2e.leaks import everything_runs_show, issued_cookies, leaked
from tests.e2e.test_drift_check import outcome_of, s3_objects

pytestmark = pytest.mark.e2e

DRIFT = {"COLLECTION": {"CREATE": 3}, "MEDIA_ITEM": {"UPDATE": 2}, "RENDITION": {"CREATE": 4}}


def local_stack(publisher: Simulator, sub: str | None = None, **parameters: str) -> LocalAws:
    """A stack deployed for this publisher and, given ``sub``, its DAM (``AllowedDxHosts``: the
    credentials go to its host and port only), with ``parameters`` on top."""
    credentials = {"username": publisher.username, "password": publisher.password}
    dams = {sub: remediation_input(publisher, sub, "never")["subscriberOptions"][sub]["dam"]} if sub else {}
    stack = {**stack_parameters(check_input(publisher)["publisher"], dams), **parameters}
    return LocalAws(credentials, retry_time_scale=0.01, function_env=FAST_CLIENT, parameters=stack)


@pytest.fixture
def sub(publisher: Simulator, request: pytest.FixtureRequest) -> str:
    """The drifted subscriber with a DAM of its own (``indirect`` parameters: its resync outcome)."""
    return drifted_subscriber(publisher, **getattr(request, "param", {}))


@pytest.fixture
def aws(publisher: Simulator, sub: str) -> Iterator[LocalAws]:
    """These tests resync without asking: a stack deployed with MaxRemediation=auto, bound to the
    publisher and the subscriber's DAM (created first, so the stack knows its port)."""
    forget_all()
    with local_stack(publisher, sub, MaxRemediation="auto") as local:
        yield local
    forget_all()


def remediation_input(publisher: Simulator, sub: str, mode: str, **options: Any) -> dict[str, Any]:
    dam = publisher.subscriber_dam(sub)
    policy = options.pop("remediation", {})
    return check_input(
        publisher,
        subscriberIds=[sub],
        remediate=mode,
        remediation={"maxDurationSeconds": 60, **policy},
        subscriberOptions={
            sub: {"dam": {"hostname": dam.hostname, "dxProtocol": "http", "dxPort": dam.port}, **options}
        },
    )


def drifted_subscriber(publisher: Simulator, **kwargs: Any) -> str:
    publisher.configure(resync_duration_seconds=0.3, operation_duration_seconds=0.4)
    return publisher.add_subscriber("sub-remediated.example.com", drift=DRIFT, dam=True, **kwargs)


def summary(aws: LocalAws, key: str) -> dict[str, Any]:
    return dict(json.loads(s3_objects(aws)[key]))


def subjects(run: CheckRun) -> list[str]:
    return [n.subject for n in run.notices]


def test_auto_remediation_resyncs_waits_for_the_subscriber_and_verifies_in_sync(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    run = aws.run_check(remediation_input(publisher, sub, "auto"))

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "IN_SYNC"  # the verifying find's
    assert item["remediation"]["phase"] == "VERIFYING"
    assert item["remediation"]["operations"]["inProgress"] == 0
    assert item["remediation"]["operations"]["succeeded"] >= 3
    assert publisher.resync_trigger_count(sub) == 1
    verified = summary(aws, item["outcome"]["summaryKey"])
    assert verified["execution"] == f"{run.name}-verify"
    assert verified["remediation"]["verdict"] == "VERIFIED_IN_SYNC"
    assert verified["remediation"]["initialEffectiveTotal"] == 9
    assert verified["remediation"]["remainingTotal"] == 0
    # the report that found the drift is still where it was, untouched
    first = summary(aws, item["remediation"]["initialSummaryKey"])
    assert first["status"] == "DRIFT" and first["total"] == 9 and first["execution"] == run.name
    assert "/" + run.name + "/" in item["remediation"]["initialSummaryKey"]
    drift_notice, verdict_notice = run.notices
    assert drift_notice.subject.startswith("[DRIFT]")
    assert "starting a staging resync" in drift_notice.message
    assert drift_notice.attributes["remediation"] == "READY"
    assert verdict_notice.subject.startswith("[VERIFIED IN SYNC]")
    assert verdict_notice.attributes["remediation"] == "VERIFIED_IN_SYNC"
    assert "Before resync" in verdict_notice.message and "9 mismatches" in verdict_notice.message


@pytest.mark.parametrize("sub", [{"resync_outcome": "partial"}], indirect=True)
def test_auto_remediation_reports_still_drifting_with_what_remains_when_an_operation_fails(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    run = aws.run_check(remediation_input(publisher, sub, "auto"))

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT"
    assert item["remediation"]["operations"]["failed"] >= 1
    verified = summary(aws, item["outcome"]["summaryKey"])
    assert verified["remediation"]["verdict"] == "STILL_DRIFTING"
    remaining = verified["remediation"]["remainingTotal"]
    assert 0 < remaining < 9
    assert verified["total"] == remaining
    assert subjects(run)[-1].startswith("[STILL DRIFTING]")
    assert verified["remediation"]["operations"]["failedFunctions"]


@pytest.mark.parametrize("sub", [{"resync_outcome": "fail"}], indirect=True)
def test_a_failed_resync_is_recorded_as_errored_and_the_drift_report_is_kept(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    run = aws.run_check(remediation_input(publisher, sub, "auto"))

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "ERRORED"
    assert item["outcome"]["error"]["type"] == "ResyncFailed"
    errored = summary(aws, item["outcome"]["summaryKey"])
    assert errored["execution"] == f"{run.name}-verify"
    assert errored["remediation"]["verdict"] is None
    assert "ResyncFailed" in errored["remediation"]["error"]
    first = summary(aws, item["remediation"]["initialSummaryKey"])
    assert first["status"] == "DRIFT" and first["total"] == 9
    assert any(s.startswith("[ERRORED]") and "ResyncFailed" in s for s in subjects(run))


def test_ask_sends_the_drift_notice_with_an_approval_and_resyncs_once_approved(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    asked = []

    def approve(pending: Any) -> bool:
        asked.append(pending)
        return True

    run = aws.run_check(remediation_input(publisher, sub, "ask"), on_approval=approve)

    assert run.status == "SUCCEEDED", run.cause
    (pending,) = asked
    assert pending.subscriber_id == sub and pending.mismatches == 9
    item = outcome_of(run, sub)
    assert item["status"] == "IN_SYNC"
    verified = summary(aws, item["outcome"]["summaryKey"])
    assert verified["remediation"]["verdict"] == "VERIFIED_IN_SYNC"
    assert verified["remediation"]["approvedBy"].startswith("damdrift check (")
    drift_notice = run.notices[0]
    assert drift_notice.attributes["remediation"] == "AWAITING_APPROVAL"
    # The stack's approval URL (a function URL) is in the notice, and the request is named as the prompt
    # names it; the listed request itself holds no id (the link's secret is stored nowhere)
    assert f"request {pending.reference}" in drift_notice.message
    assert "damdrift approve 'https://" in drift_notice.message and pending.approval_id is None
    assert aws.pending_approvals() == []  # used up


def test_ask_denied_changes_nothing_on_the_subscriber(publisher: Simulator, aws: LocalAws, sub: str) -> None:
    run = aws.run_check(remediation_input(publisher, sub, "ask"), on_approval=lambda _: False)

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT"
    assert item["remediation"]["phase"] == "AWAITING_APPROVAL"
    assert item["notified"]["status"] == "SENT_WITH_APPROVAL_REQUEST"
    assert publisher.resync_trigger_count(sub) == 0
    assert len(run.notices) == 1


def test_ask_without_an_answer_times_out_and_changes_nothing(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    run = aws.run_check(
        remediation_input(publisher, sub, "ask", remediation={"approvalTimeoutSeconds": 1}),
        on_approval=lambda _: None,
    )

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT"
    assert publisher.resync_trigger_count(sub) == 0
    assert any(e["type"] == "TaskTimedOut" for e in run.history)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"twoWayStaging": True}, "two-way staging"),
        ({"seed_failed_operation": True}, "FAILED on the subscriber"),
    ],
)
def test_guard_rails_refuse_and_say_why_in_the_drift_notice(
    publisher: Simulator, aws: LocalAws, sub: str, setup: dict[str, Any], reason: str
) -> None:
    options = dict(setup)
    if options.pop("seed_failed_operation", False):
        publisher.add_subscriber_operation(sub, "syncStagingMediaContent", "FAILED", retry_counter=2)

    run = aws.run_check(remediation_input(publisher, sub, "auto", **options))

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT"
    assert item["remediation"]["phase"] == "REFUSED"
    assert reason in item["remediation"]["reason"]
    assert publisher.resync_trigger_count(sub) == 0
    (notice,) = run.notices
    assert "REFUSED" in notice.message and reason in notice.message
    assert notice.attributes["remediation"] == "REFUSED"


def test_an_input_ordering_more_than_the_stack_allows_fails_at_authenticate_and_dx_is_not_written(
    publisher: Simulator,
) -> None:
    """Issue 23 item 3: on a stack left at MaxRemediation=ask, remediate auto with force is refused."""
    sub = drifted_subscriber(publisher)
    forget_all()
    with local_stack(publisher, sub) as aws:
        run = aws.run_check(remediation_input(publisher, sub, "auto", remediation={"force": True}))

    assert (run.status, run.error) == ("FAILED", "InvalidInput")
    assert "remediate: 'auto' is more than this stack allows (stack parameter MaxRemediation is 'ask')" in (
        run.cause or ""
    )
    assert publisher.resync_trigger_count(sub) == 0


def test_a_two_way_subscriber_of_the_stack_is_never_resynced_whatever_the_input_says(
    publisher: Simulator,
) -> None:
    sub = drifted_subscriber(publisher)
    forget_all()
    with local_stack(publisher, sub, MaxRemediation="auto", TwoWaySubscribers=sub) as aws:
        run = aws.run_check(
            remediation_input(publisher, sub, "auto", twoWayStaging=False, remediation={"force": True})
        )

    assert run.status == "SUCCEEDED", run.cause
    remediation = outcome_of(run, sub)["remediation"]
    assert remediation["phase"] == "REFUSED" and "TwoWaySubscribers" in remediation["reason"]
    assert publisher.resync_trigger_count(sub) == 0


def test_at_most_one_remediation_a_day_per_subscriber_unless_forced(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    aws.run_check(remediation_input(publisher, sub, "auto"))
    publisher.set_drift(sub, DRIFT)  # drifted again the same day

    again = aws.run_check(remediation_input(publisher, sub, "auto"))
    forced = aws.run_check(remediation_input(publisher, sub, "auto", remediation={"force": True}))

    assert outcome_of(again, sub)["remediation"]["phase"] == "REFUSED"
    assert "already ran for this subscriber today" in outcome_of(again, sub)["remediation"]["reason"]
    assert outcome_of(forced, sub)["status"] == "IN_SYNC"
    assert publisher.resync_trigger_count(sub) == 2


def test_remediation_is_off_unless_asked_for(publisher: Simulator, aws: LocalAws, sub: str) -> None:
    run = aws.run_check(check_input(publisher, subscriberIds=[sub]))

    item = outcome_of(run, sub)
    assert item["status"] == "DRIFT" and "remediation" not in item
    assert publisher.resync_trigger_count(sub) == 0
    assert "remediation" not in run.notices[0].attributes


def test_per_subscriber_mode_overrides_the_check_wide_one(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    execution_input = remediation_input(publisher, sub, "auto", remediate="never")

    run = aws.run_check(execution_input)

    assert "remediation" not in outcome_of(run, sub)
    assert publisher.resync_trigger_count(sub) == 0


def test_remediation_leaks_no_password_cookie_or_task_token(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    dam = publisher.subscriber_dam(sub)
    dam.record_exchanges = True
    tokens: list[str] = []

    def approve(pending: Any) -> bool:
        s3 = aws.client("s3")
        stored = s3.get_object(Bucket=aws._deployed.bucket, Key=f"approvals/{pending.handle}.json")
        tokens.append(json.loads(stored["Body"].read())["taskToken"])
        return True

    run = aws.run_check(remediation_input(publisher, sub, "ask"), on_approval=approve)

    assert run.status == "SUCCEEDED", run.cause
    assert len(tokens) == 1 and len(tokens[0]) > 20
    cookies = issued_cookies(publisher) | {
        e.response_headers.get("Set-Cookie", "").split(";", 1)[0].split("=", 1)[-1]
        for e in dam.exchanges
        if e.response_headers.get("Set-Cookie", "").startswith("LtpaToken2=")
    }
    assert dam.endpoint_hits(), "the subscriber DAM was asked"
    # Step Functions itself records the token in the history of the waiting task; nothing of ours may.
    history = json.dumps(run.history, default=str)
    assert tokens[0] in history  # (so the search below would find it)
    seen = everything_runs_show(aws, [run]).replace(history, "")
    assert leaked([publisher.password, *cookies, *tokens], seen) == []


def test_drift_that_ignore_rules_cover_entirely_is_not_remediated(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    rules = [{"recordType": t, "comment": "accepted difference"} for t in DRIFT]
    aws.put_ignore_rules(json.dumps({"rules": rules}))

    run = aws.run_check(remediation_input(publisher, sub, "auto"))

    item = outcome_of(run, sub)
    assert (item["status"], item["outcome"]["ignoredTotal"]) == ("IN_SYNC", 9)
    assert "remediation" not in item
    assert publisher.resync_trigger_count(sub) == 0


def test_a_resync_refused_at_start_is_recorded_apart_and_the_drift_report_stays(
    publisher: Simulator, aws: LocalAws, sub: str
) -> None:
    def approve_after_a_sync_failed(pending: Any) -> bool:  # while the approval waited
        publisher.add_subscriber_operation(sub, "syncStagingMediaContent", "FAILED", retry_counter=1)
        return True

    run = aws.run_check(remediation_input(publisher, sub, "ask"), on_approval=approve_after_a_sync_failed)

    assert run.status == "SUCCEEDED", run.cause
    item = outcome_of(run, sub)
    assert item["outcome"]["error"]["type"] == "RemediationRefused"
    assert publisher.resync_trigger_count(sub) == 0
    errored = summary(aws, item["outcome"]["summaryKey"])
    assert errored["execution"] == f"{run.name}-verify"
    assert "RemediationRefused" in errored["remediation"]["error"]
    first = summary(aws, item["remediation"]["initialSummaryKey"])
    assert (first["status"], first["total"], first["execution"]) == ("DRIFT", 9, run.name)
