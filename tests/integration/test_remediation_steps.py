"""The remediation steps (plan, start, poll) against the simulator on loopback, with real DX clients.

The publisher and the subscriber's own DAM share a :class:`ManualClock`: a resync takes 20 s
(RESYNC_TRIGGER_START), then its ``syncStaging*`` operations run for 60 s on the subscriber. The
steps' ``now`` moves with that clock, so no test sleeps. Today's markers live in moto's S3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from damdrift.dx.client import ClientTuning, DxClient
from damdrift.dx.connection import DxConnection, DxCredentials
from damdrift.errors import RemediationRefused, ResyncFailed, ResyncTimedOut
from damdrift.execution_input import BusyPolicy, NotifyPolicy, PollPolicy, RemediateMode, RemediationPolicy
from damdrift.models.remediation import ApprovalAnswer, RemediationPhase, RemediationState
from damdrift.models.summary import CheckStatus
from damdrift.remediation.ledger import RemediationLedger
from damdrift.settings import RemediationLimits
from damdrift.state import CheckContext, SubscriberRef, SubscriberTask
from damdrift.steps.remediate import plan_with, poll_with, start_with
from damdrift_cli.simulator import ManualClock, Simulator
from damdrift_cli.simulator.pytest_plugin import TEST_DRIFT, SimulatorFactory, make_scenario
from tests.aws import REPORT_BUCKET, s3_with_report_bucket

pytestmark = pytest.mark.integration

EXECUTION = "exec-1"
TARGET = "dx-sub-remediated.test"
FAST = ClientTuning(retries=1, backoff_factor=0.01, backoff_jitter=0.0, read_timeout=2.0, page_size=100)
POLL = PollPolicy(
    initial_wait_seconds=5, max_wait_seconds=15, backoff_rate=2.0, jitter_seconds=3, max_duration_seconds=600
)
RESYNC_SECONDS, OPERATION_SECONDS = 20, 60
#: A stack deployed with MaxRemediation=auto (these tests resync without asking).
AUTO_ALLOWED = RemediationLimits.model_validate({"REPORT_BUCKET": REPORT_BUCKET, "MAX_REMEDIATION": "auto"})
SYNC_FUNCTIONS = {"syncStagingCollectionContent", "syncStagingMediaContent", "syncStagingRenditionContent"}
NOTICE: dict[str, Any] = {
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:dam-drift-DriftTopic",
    "Subject": "[DRIFT] dx.example.com -> dx-sub-remediated.test: 15 mismatches",
    "Message": "dam-drift check: DRIFT\n\nMismatches:     15\n",
    "MessageAttributes": {"status": {"DataType": "String", "StringValue": "DRIFT"}},
}


class Staging:
    """The simulated publisher with one drifted subscriber that has its own DAM, and clients for both."""

    def __init__(self, sim: Simulator, clock: ManualClock, ledger: RemediationLedger) -> None:
        self.sim, self.clock, self.ledger = sim, clock, ledger
        self.started = datetime.now(UTC)  # the simulator's timestamps are anchored at about this moment
        self.subscriber_id = sim.add_subscriber(TARGET, drift=TEST_DRIFT, dam=True)
        self.dam = sim.subscriber_dam(self.subscriber_id)
        self.publisher = client(sim.hostname, sim.port, sim.username, sim.password)
        self.subscriber_dam = client(self.dam.hostname, self.dam.port, sim.username, sim.password)

    def now(self) -> datetime:
        """The steps' clock: the simulator's, in UTC."""
        return self.started + timedelta(seconds=self.clock())

    def advance(self, seconds: float) -> datetime:
        self.clock.advance(seconds)
        return self.now()

    def task(
        self,
        mode: RemediateMode = RemediateMode.AUTO,
        *,
        dam: bool = True,
        two_way: bool = False,
        policy: RemediationPolicy | None = None,
        notification: dict[str, Any] | None = None,
        execution: str = EXECUTION,
    ) -> SubscriberTask:
        check = CheckContext(
            execution=execution,
            execution_arn=f"arn:aws:states:eu-central-1:123456789012:execution:dam-drift-drift-check:{execution}",
            publisher=connection(self.sim.hostname, self.sim.port),
            publisher_id=f"{self.sim.hostname}_{self.sim.port}",
            credentials_secret="dam-drift/dx-credentials",
            poll=POLL,
            busy_policy=BusyPolicy.WAIT,
            notify_policy=NotifyPolicy.ON_DRIFT,
            max_concurrency=2,
            started_at=self.started,
            remediation=policy or RemediationPolicy(max_duration_seconds=600),
        )
        subscriber = SubscriberRef(
            subscriber_id=self.subscriber_id,
            target_host=TARGET,
            remediate=mode,
            own_dam=dam,
            two_way_staging=two_way,
        )
        result: dict[str, Any] = {
            "outcome": {
                "subscriberId": self.subscriber_id,
                "status": "DRIFT",
                "total": 15,
                "counts": {"KEYWORD": {"CREATE": 15}},
                "effectiveTotal": 15,
                "summaryKey": f"reports/x/{self.subscriber_id}/2026/11/01/{execution}/summary.json",
            },
            "notify": False,
        }
        if notification is not None:
            result["notification"] = notification
        return SubscriberTask(check=check, subscriber=subscriber, result=result)

    def planned(self, task: SubscriberTask) -> SubscriberTask:
        return plan_with(
            task,
            self.subscriber_dam if task.subscriber.own_dam else None,
            self.ledger,
            self.now(),
            AUTO_ALLOWED,
        )

    def start(self, task: SubscriberTask) -> RemediationState:
        return start_with(
            task,
            self.publisher,
            self.subscriber_dam if task.subscriber.own_dam else None,
            self.ledger,
            self.now(),
            AUTO_ALLOWED,
        )

    def poll(self, task: SubscriberTask, state: RemediationState) -> RemediationState:
        return poll_with(
            task.model_copy(update={"remediation": state}), self.publisher, self.subscriber_dam, self.now()
        )

    def started_remediation(self, **task_options: Any) -> tuple[SubscriberTask, RemediationState]:
        task = self.planned(self.task(**task_options))
        assert task.remediation is not None and task.remediation.phase is RemediationPhase.READY
        return task, self.start(task)


def connection(hostname: str, port: int) -> DxConnection:
    return DxConnection.model_validate({"hostname": hostname, "dxProtocol": "http", "dxPort": port})


def client(hostname: str, port: int, username: str, password: str) -> DxClient:
    credentials = DxCredentials.model_validate({"username": username, "password": password})
    return DxClient(connection(hostname, port), credentials, FAST)


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[RemediationLedger]:
    for s3 in s3_with_report_bucket(monkeypatch):
        yield RemediationLedger(s3, REPORT_BUCKET)


@pytest.fixture
def staging(dx_simulator_factory: SimulatorFactory, ledger: RemediationLedger) -> Staging:
    clock = ManualClock()
    scenario = make_scenario(
        subscribers=[],
        find_duration_seconds=10,
        resync_duration_seconds=RESYNC_SECONDS,
        operation_duration_seconds=OPERATION_SECONDS,
    )
    return Staging(dx_simulator_factory(scenario, clock=clock), clock, ledger)


def reason_of(task: SubscriberTask) -> str:
    assert task.remediation is not None
    assert task.remediation.phase is RemediationPhase.REFUSED
    assert task.remediation.reason is not None
    return task.remediation.reason


# -- plan --------------------------------------------------------------------------------------------------


def test_plan_refuses_two_way_staging_without_asking_dx(staging: Staging) -> None:
    task = staging.planned(staging.task(two_way=True))
    assert "two-way staging" in reason_of(task)
    assert staging.dam.endpoint_hits().get("GET /operations", 0) == 0


def test_plan_refuses_a_subscriber_without_a_dam_connection_and_names_the_option(staging: Staging) -> None:
    reason = reason_of(staging.planned(staging.task(dam=False)))
    assert "no connection to the subscriber's own DAM API" in reason
    assert f"subscriberOptions.{staging.subscriber_id}.dam" in reason


def test_plan_refuses_when_a_staging_operation_failed_on_the_subscriber(staging: Staging) -> None:
    staging.sim.add_subscriber_operation(
        staging.subscriber_id, "syncStagingMediaContent", "FAILED", retry_counter=2
    )
    reason = reason_of(staging.planned(staging.task()))
    assert "1 staging operation(s) FAILED on the subscriber (syncStagingMediaContent)" in reason


def test_plan_is_not_stopped_by_a_failed_operation_that_is_not_staging(staging: Staging) -> None:
    staging.sim.add_subscriber_operation(staging.subscriber_id, "renditionGeneration", "FAILED")
    staging.sim.add_subscriber_operation(staging.subscriber_id, "syncStagingMediaContent", "SUCCESS")
    task = staging.planned(staging.task())
    assert task.remediation is not None and task.remediation.phase is RemediationPhase.READY


def test_plan_refuses_when_another_execution_remediated_the_subscriber_today(staging: Staging) -> None:
    task = staging.task()
    staging.ledger.claim(task.check.publisher_id, staging.subscriber_id, staging.now(), "exec-0", force=False)
    reason = reason_of(staging.planned(task))
    assert "already ran for this subscriber today (execution exec-0" in reason


def test_plan_goes_ahead_despite_todays_marker_when_forced(staging: Staging) -> None:
    task = staging.task(policy=RemediationPolicy(force=True))
    staging.ledger.claim(task.check.publisher_id, staging.subscriber_id, staging.now(), "exec-0", force=False)
    planned = staging.planned(task)
    assert planned.remediation is not None and planned.remediation.phase is RemediationPhase.READY


def test_plan_asks_first_in_ask_mode_and_leaves_the_notice_to_the_approval_request(staging: Staging) -> None:
    task = staging.planned(staging.task(RemediateMode.ASK, notification=dict(NOTICE)))
    assert task.remediation is not None
    assert task.remediation.phase is RemediationPhase.AWAITING_APPROVAL
    assert task.remediation.mode is RemediateMode.ASK
    assert task.remediation.reason is None
    assert task.result is not None
    assert task.result.notification is not None and task.result.notification.model_dump() == NOTICE
    assert task.result.notify is False


def test_plan_in_auto_mode_is_ready_says_so_in_the_notice_and_forces_it_out(staging: Staging) -> None:
    task = staging.planned(staging.task(RemediateMode.AUTO, notification=dict(NOTICE)))
    state = task.remediation
    assert state is not None and state.phase is RemediationPhase.READY
    assert (state.initial_total, state.initial_effective_total) == (15, 15)
    assert state.initial_summary_key is not None and state.initial_summary_key.endswith(
        "/exec-1/summary.json"
    )
    assert task.result is not None
    assert task.result.notification is not None
    notice = task.result.notification.model_dump()
    assert notice["Message"].startswith(NOTICE["Message"].rstrip("\n"))
    assert "dam-drift is starting a staging resync for this subscriber now" in notice["Message"]
    assert notice["MessageAttributes"]["remediation"] == {"DataType": "String", "StringValue": "READY"}
    assert notice["MessageAttributes"]["status"] == NOTICE["MessageAttributes"]["status"]
    assert notice["Subject"] == NOTICE["Subject"]
    assert task.result.notify is True
    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 0, "planning starts nothing"


def test_a_refusal_is_written_into_the_notice_without_forcing_it_out(staging: Staging) -> None:
    task = staging.planned(staging.task(two_way=True, notification=dict(NOTICE)))
    assert task.result is not None
    assert task.result.notification is not None
    notice = task.result.notification.model_dump()
    assert "Remediation (remediate: auto) REFUSED: the subscriber is two-way staging" in notice["Message"]
    assert notice["MessageAttributes"]["remediation"]["StringValue"] == "REFUSED"
    assert task.result.notify is False


def test_a_subscriber_dam_that_is_down_refuses_the_remediation_instead_of_failing_the_check(
    staging: Staging,
) -> None:
    staging.dam.inject_fault("GET /operations", "status", status=503)
    task = staging.planned(staging.task(notification=dict(NOTICE)))
    reason = reason_of(task)
    assert reason == "the subscriber's DAM API could not be asked for its staging operations (DxUnavailable)"
    assert task.result is not None and task.result.notification is not None
    assert "REFUSED" in task.result.notification.Message


def test_a_subscriber_dam_that_drops_connections_is_named_by_the_error_class_only(staging: Staging) -> None:
    staging.dam.inject_fault("*", "drop")
    reason = reason_of(staging.planned(staging.task()))
    assert reason.endswith("(DxUnavailable)")
    assert staging.dam.hostname not in reason and str(staging.dam.port) not in reason


@pytest.mark.parametrize("status", ["IN_SYNC", "ERRORED"])
def test_plan_runs_only_after_a_drift_result(staging: Staging, status: str) -> None:
    task = staging.task()
    assert task.result is not None
    result = task.result.model_copy(
        update={"outcome": task.result.outcome.model_copy(update={"status": CheckStatus(status)})}
    )
    with pytest.raises(ValueError, match="only after a DRIFT result"):
        staging.planned(task.model_copy(update={"result": result}))


def test_plan_runs_only_when_remediation_is_wanted(staging: Staging) -> None:
    with pytest.raises(ValueError, match="remediate ask or auto"):
        staging.planned(staging.task(RemediateMode.NEVER))


# -- start -------------------------------------------------------------------------------------------------


def test_start_triggers_one_resync_and_claims_todays_marker(staging: Staging) -> None:
    task, state = staging.started_remediation()

    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 1
    assert state.phase is RemediationPhase.RESYNC_RUNNING
    assert state.started_at == staging.now()
    assert state.deadline == staging.now() + timedelta(seconds=600)
    assert state.resync_status == "RESYNC_TRIGGER_START"
    assert state.poll_count == 0
    assert 0 < state.wait_seconds <= POLL.max_wait_seconds
    marker = staging.ledger.today(task.check.publisher_id, staging.subscriber_id, staging.now())
    assert marker is not None and marker["execution"] == EXECUTION


def test_a_retry_of_start_in_the_same_execution_joins_the_running_resync(staging: Staging) -> None:
    task, first = staging.started_remediation()
    staging.advance(5)

    retried = staging.start(task)

    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 1
    assert retried.phase is RemediationPhase.RESYNC_RUNNING
    assert retried.resync_status == first.resync_status == "RESYNC_TRIGGER_START"


def test_a_retry_of_start_after_its_resync_completed_does_not_trigger_another(staging: Staging) -> None:
    task, _ = staging.started_remediation()
    staging.advance(
        RESYNC_SECONDS + 1
    )  # e.g. Lambda timed out after the trigger; Step Functions retries later

    staging.start(task)

    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 1


def test_start_in_another_execution_the_same_day_is_refused(staging: Staging) -> None:
    other = staging.planned(staging.task(execution="exec-2"))  # READY: nothing ran yet when it was planned
    staging.started_remediation()  # exec-1 gets there first

    with pytest.raises(RemediationRefused, match=r"already ran for this subscriber today \(execution exec-1"):
        staging.start(other)

    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 1


def test_start_is_refused_when_a_staging_operation_failed_since_the_plan(staging: Staging) -> None:
    task = staging.planned(staging.task(RemediateMode.ASK))
    staging.sim.add_subscriber_operation(
        staging.subscriber_id, "syncStagingRenditionContent", "FAILED", retry_counter=1
    )
    approved = task.model_copy(
        update={"approval": ApprovalAnswer(approved=True, decided_by="alice", decided_at=staging.now())}
    )

    with pytest.raises(RemediationRefused) as caught:
        staging.start(approved)

    assert str(caught.value).startswith("remediation refused at start: 1 staging operation(s) FAILED")
    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 0
    assert staging.ledger.today(task.check.publisher_id, staging.subscriber_id, staging.now()) is None


def test_start_after_an_approval_records_who_approved(staging: Staging) -> None:
    task = staging.planned(staging.task(RemediateMode.ASK))
    approved = task.model_copy(
        update={"approval": ApprovalAnswer(approved=True, decided_by="alice", decided_at=staging.now())}
    )
    state = staging.start(approved)
    assert state.approved_by == "alice"
    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 1


def test_start_never_runs_after_a_denial(staging: Staging) -> None:
    task = staging.planned(staging.task(RemediateMode.ASK))
    denied = task.model_copy(
        update={"approval": ApprovalAnswer(approved=False, decided_by="bob", decided_at=staging.now())}
    )
    with pytest.raises(ValueError, match="only after an approval"):
        staging.start(denied)
    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 0


def test_start_never_runs_for_a_refused_remediation(staging: Staging) -> None:
    task = staging.planned(staging.task(two_way=True))
    with pytest.raises(ValueError, match="needs a READY remediation, not REFUSED"):
        staging.start(task)
    assert staging.sim.resync_trigger_count(staging.subscriber_id) == 0


# -- poll --------------------------------------------------------------------------------------------------


def test_poll_follows_the_resync_then_the_subscribers_operations_then_verifies(staging: Staging) -> None:
    task, state = staging.started_remediation()

    staging.advance(RESYNC_SECONDS - 1)
    state = staging.poll(task, state)
    assert (state.phase, state.resync_status, state.poll_count) == (
        RemediationPhase.RESYNC_RUNNING,
        "RESYNC_TRIGGER_START",
        1,
    )

    staging.advance(1)
    state = staging.poll(task, state)
    assert (state.phase, state.resync_status) == (
        RemediationPhase.OPERATIONS_RUNNING,
        "RESYNC_TRIGGER_COMPLETED",
    )

    staging.advance(OPERATION_SECONDS / 2)
    state = staging.poll(task, state)
    assert state.phase is RemediationPhase.OPERATIONS_RUNNING
    assert state.operations is not None and state.operations.in_progress == len(SYNC_FUNCTIONS)

    staging.advance(OPERATION_SECONDS / 2)
    state = staging.poll(task, state)
    assert state.phase is RemediationPhase.VERIFYING
    assert state.wait_seconds == 0
    assert state.poll_count == 4
    assert state.operations_completed_at == staging.now()
    assert state.operations is not None
    assert state.operations.to_wire() == {
        "inProgress": 0,
        "succeeded": len(SYNC_FUNCTIONS),
        "failed": 0,
        "failedFunctions": [],
    }
    assert staging.sim.drift(staging.subscriber_id).total == 0


def test_poll_tallies_the_failed_operation_of_a_partial_resync(staging: Staging) -> None:
    staging.sim.configure_subscriber(staging.subscriber_id, resync_outcome="partial")
    task, state = staging.started_remediation()
    staging.advance(RESYNC_SECONDS)
    state = staging.poll(task, state)
    staging.advance(OPERATION_SECONDS)

    state = staging.poll(task, state)

    assert state.phase is RemediationPhase.VERIFYING
    assert state.operations is not None
    assert (state.operations.in_progress, state.operations.failed) == (0, 1)
    assert state.operations.succeeded == len(SYNC_FUNCTIONS) - 1
    assert state.operations.failed_functions == ["syncStagingRenditionContent"]


def test_poll_ignores_operations_that_ended_before_the_resync(staging: Staging) -> None:
    staging.sim.add_subscriber_operation(staging.subscriber_id, "syncStagingMediaContent", "ABORT")
    staging.advance(3600)  # an hour before the resync: outside the clock slack
    task, state = staging.started_remediation()
    staging.advance(RESYNC_SECONDS)
    state = staging.poll(task, state)
    staging.advance(OPERATION_SECONDS)

    state = staging.poll(task, state)

    assert state.operations is not None
    assert (state.operations.failed, state.operations.succeeded) == (0, len(SYNC_FUNCTIONS))


def test_poll_reports_failure_when_status_is_resync_trigger_failed(staging: Staging) -> None:
    staging.sim.configure_subscriber(staging.subscriber_id, resync_outcome="fail")
    task, state = staging.started_remediation()
    staging.advance(RESYNC_SECONDS)

    with pytest.raises(ResyncFailed) as caught:
        staging.poll(task, state)

    assert f"failed for subscriber {staging.subscriber_id} (RESYNC_TRIGGER_FAILED)" in str(caught.value)
    assert caught.value.diagnosis == {"resyncStatus": "RESYNC_TRIGGER_FAILED"}


def test_poll_reports_failure_when_another_job_took_the_subscriber_over(staging: Staging) -> None:
    task, state = staging.started_remediation()
    staging.advance(RESYNC_SECONDS)
    staging.publisher.start_find_mismatch(staging.subscriber_id)  # someone ran a find meanwhile

    with pytest.raises(ResyncFailed, match="became FIND_MISMATCH_START: another job took over"):
        staging.poll(task, state)


def test_poll_gives_up_past_the_deadline_while_the_resync_runs_and_names_the_cap(staging: Staging) -> None:
    task, state = staging.started_remediation(policy=RemediationPolicy(max_duration_seconds=10))
    staging.advance(10)

    with pytest.raises(ResyncTimedOut) as caught:
        staging.poll(task, state)

    message = str(caught.value)
    assert "the resync is still RESYNC_TRIGGER_START after 10 s" in message
    assert "cap remediation.maxDurationSeconds = 10 s" in message


def test_poll_gives_up_past_the_deadline_while_operations_run_and_names_the_cap(staging: Staging) -> None:
    staging.sim.configure_subscriber(staging.subscriber_id, resync_outcome="stuck")
    task, state = staging.started_remediation(policy=RemediationPolicy(max_duration_seconds=120))
    staging.advance(RESYNC_SECONDS)
    state = staging.poll(task, state)
    staging.advance(120 - RESYNC_SECONDS)

    with pytest.raises(ResyncTimedOut) as caught:
        staging.poll(task, state)

    message = str(caught.value)
    assert "staging operation(s) still in progress after 120 s" in message
    assert "remediation.maxDurationSeconds = 120 s" in message


def test_waits_stay_between_one_second_and_the_poll_policys_max(staging: Staging) -> None:
    staging.sim.configure_subscriber(staging.subscriber_id, resync_outcome="stuck")
    task, state = staging.started_remediation(policy=RemediationPolicy(max_duration_seconds=3600))
    waits = [state.wait_seconds]
    while state.deadline is not None and staging.now() < state.deadline - timedelta(
        seconds=state.wait_seconds
    ):
        staging.advance(state.wait_seconds)
        state = staging.poll(task, state)
        waits.append(state.wait_seconds)
    assert len(waits) > 20
    assert all(1 <= wait <= POLL.max_wait_seconds for wait in waits), waits
    assert state.phase is RemediationPhase.OPERATIONS_RUNNING


def test_the_last_wait_before_the_deadline_is_shortened_but_never_zero(staging: Staging) -> None:
    task, state = staging.started_remediation(policy=RemediationPolicy(max_duration_seconds=12))
    staging.advance(11.6)  # 0.4 s left: rounds to 0, yet the state machine must wait before looking again

    state = staging.poll(task, state)

    assert state.phase is RemediationPhase.RESYNC_RUNNING
    assert state.wait_seconds == 1


def test_poll_refuses_a_remediation_that_never_started(staging: Staging) -> None:
    task = staging.planned(staging.task())
    assert task.remediation is not None
    with pytest.raises(ValueError, match="needs a started remediation"):
        staging.poll(task, task.remediation)


def test_a_find_waits_while_staging_operations_run_on_the_subscribers_own_dx(staging: Staging) -> None:
    from damdrift.state import PollPhase
    from damdrift.steps.trigger import trigger_with

    staging.sim.add_subscriber_operation(staging.subscriber_id, "syncStagingMediaContent", "PROCESSING")
    task = staging.task(RemediateMode.NEVER)

    state = trigger_with(staging.publisher, task, staging.now(), staging.subscriber_dam)

    assert state.phase is PollPhase.PUBLISHER_BUSY
    assert state.last_status is not None and "on the subscriber" in state.last_status
    assert staging.sim.find_trigger_count(staging.subscriber_id) == 0
