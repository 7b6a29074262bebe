"""Every handler runs on its sample event from events/ (examples that cannot rot).

The samples name a production-like publisher and secret; the test points them at the simulator and
the local secret and, for the poll, moves the find's start and deadline to now. Nothing else changes.
The remediation samples also get the subscriber's DAM (a simulator too) and the local drift topic; the
approval page's sample gets the id of a request filed by its predecessor in the flow.
"""

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from damdrift.dx.sessions import forget_all
from damdrift.remediation.approval import handle_of
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator
from tests.e2e.conftest import FAST_CLIENT

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events"
DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"
FAILING = "e90dd43d-c916-49a0-b37d-ad10c6694355"


@pytest.fixture
def aws(publisher: Simulator) -> Iterator[LocalAws]:
    """The remediate samples ask for remediate auto: a stack deployed with MaxRemediation=auto."""
    forget_all()
    credentials = {"username": publisher.username, "password": publisher.password}
    auto = {"MaxRemediation": "auto"}
    with LocalAws(credentials, retry_time_scale=0.01, function_env=FAST_CLIENT, parameters=auto) as local:
        yield local
    forget_all()


def sample(name: str, publisher: Simulator, aws: LocalAws) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    local = {"hostname": publisher.hostname, "dxProtocol": "http", "dxPort": publisher.port}
    check = event["input"] if "input" in event else event["check"]
    check["publisher"] = {**check["publisher"], **local}
    check["credentialsSecret"] = aws._deployed.secret_arn
    if "check" in event:
        check["publisherId"] = f"{publisher.hostname}_{publisher.port}"
    return event


def invoke(aws: LocalAws, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = aws.client("lambda").invoke(
        FunctionName=f"dam-drift-local-{function}", Payload=json.dumps(event)
    )
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload.get("errorMessage", payload)
    return payload


@pytest.fixture
def drifted(publisher: Simulator) -> None:
    publisher.add_subscriber(
        "dx-sub-drifted.example.com", subscriber_id=DRIFTED, drift={"VERSION": {"CREATE": 4}}
    )
    publisher.add_subscriber("dx-sub-find-fails.example.com", subscriber_id=FAILING, find_outcome="fail")


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_is_valid_json_object(name: str) -> None:
    assert isinstance(json.loads((EVENTS / name).read_text()), dict)


@pytest.mark.usefixtures("drifted")
def test_authenticate_runs_on_its_sample_event(publisher: Simulator, aws: LocalAws) -> None:
    plan = invoke(aws, "AuthenticateFunction", sample("authenticate.json", publisher, aws))
    assert [s["subscriberId"] for s in plan["subscribers"]] == [DRIFTED]
    assert plan["check"]["execution"] == "manual-20261101-0500"


@pytest.mark.usefixtures("drifted")
def test_trigger_poll_and_fetch_run_on_their_sample_events(publisher: Simulator, aws: LocalAws) -> None:
    poll = invoke(aws, "TriggerMismatchFunction", sample("trigger_mismatch.json", publisher, aws))
    assert poll["phase"] == "RUNNING"
    assert publisher.find_trigger_count(DRIFTED) == 1

    poll_event = sample("poll_status.json", publisher, aws)
    now = datetime.now(UTC)
    poll_event["poll"]["findStartedAt"] = now.isoformat()
    poll_event["poll"]["deadline"] = (now + timedelta(hours=2)).isoformat()
    polled = invoke(aws, "PollStatusFunction", poll_event)
    assert polled["phase"] in {"RUNNING", "COMPLETED"}
    assert polled["pollCount"] == 1

    time.sleep(0.4)  # the simulator's find takes 0.3 s
    result = invoke(aws, "FetchReportFunction", sample("fetch_report.json", publisher, aws))
    assert result["outcome"]["status"] == "DRIFT"
    assert result["outcome"]["total"] == 4


@pytest.mark.usefixtures("drifted")
def test_fetch_report_records_the_errored_sample_with_its_diagnosis(
    publisher: Simulator, aws: LocalAws
) -> None:
    result = invoke(aws, "FetchReportFunction", sample("fetch_report_errored.json", publisher, aws))
    assert result["outcome"]["status"] == "ERRORED"
    assert result["outcome"]["error"]["type"] == "FindMismatchFailed"
    assert result["outcome"]["error"]["diagnosis"]["operation"]["retryCounter"] == 1
    assert result["notify"] is False  # notices: run (the default): the run's ops notice carries it


@pytest.mark.usefixtures("drifted")
def test_summarise_run_runs_on_its_sample_event_after_the_errored_fetch(
    publisher: Simulator, aws: LocalAws
) -> None:
    invoke(aws, "FetchReportFunction", sample("fetch_report_errored.json", publisher, aws))
    aws.drain_notices()

    result = invoke(aws, "SummariseRunFunction", sample("summarise_run.json", publisher, aws))

    assert result["byStatus"] == {"DRIFT": 0, "ERRORED": 2, "IN_SYNC": 0}
    assert result["notices"] == [{"topic": "ops", "status": "SENT", "subscribers": 2}]
    [notice] = aws.drain_notices()
    assert notice.topic == "OpsTopic" and FAILING in notice.message and "States.TaskFailed" in notice.message


# -- remediation (issue #8) --------------------------------------------------------------------------------


@pytest.fixture
def drifted_with_dam(publisher: Simulator) -> str:
    """The samples' subscriber, with a DAM of its own where a resync's operations run."""
    return publisher.add_subscriber(
        "dx-sub-drifted.example.com", subscriber_id=DRIFTED, drift={"VERSION": {"CREATE": 4}}, dam=True
    )


def remediation_sample(name: str, publisher: Simulator, aws: LocalAws) -> dict[str, Any]:
    """A remediation sample pointed at the simulator (publisher and the subscriber's DAM), the local secret
    and the local drift topic; nothing else changes."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    task = event["task"]
    task["check"]["publisher"] = {
        **task["check"]["publisher"],
        "hostname": publisher.hostname,
        "dxProtocol": "http",
        "dxPort": publisher.port,
    }
    task["check"]["publisherId"] = f"{publisher.hostname}_{publisher.port}"
    task["check"]["credentialsSecret"] = aws._deployed.secret_arn
    dam = publisher.subscriber_dam(task["subscriber"]["subscriberId"])
    task["check"]["executionArn"] = drift_check_naming_the_dam(
        aws,
        task["subscriber"]["subscriberId"],
        {"hostname": dam.hostname, "dxProtocol": "http", "dxPort": dam.port},
    )
    notification = task.get("result", {}).get("notification")
    if notification is not None:
        notification["TopicArn"] = aws._deployed.drift_topic_arn
    return event


def drift_check_naming_the_dam(aws: LocalAws, subscriber_id: str, dam: dict[str, Any]) -> str:
    """A drift check execution whose input names the subscriber's DAM, where the steps read it
    (damdrift.subscriber_dam). Its notifyPolicy is invalid, so it ends at Authenticate (InputRejected)
    without touching the simulator; its input stays readable, which is all the samples need."""
    execution_input = {
        "publisher": {"hostname": "dx.example.com"},
        "notifyPolicy": "not-a-policy",
        "subscriberOptions": {subscriber_id: {"dam": dam}},
    }
    started = aws.client("stepfunctions").start_execution(
        stateMachineArn=aws._deployed.state_machine_arn,
        name=f"sample-{uuid.uuid4()}",
        input=json.dumps(execution_input),
    )
    arn: str = started["executionArn"]
    return arn


@pytest.mark.usefixtures("drifted_with_dam")
def test_remediate_plan_runs_on_its_sample_event(publisher: Simulator, aws: LocalAws) -> None:
    task = invoke(aws, "RemediateFunction", remediation_sample("remediate-plan.json", publisher, aws))

    assert task["remediation"]["phase"] == "READY"
    assert task["remediation"]["initialEffectiveTotal"] == 4
    assert task["result"]["notify"] is True
    notice = task["result"]["notification"]
    assert "dam-drift is starting a staging resync" in notice["Message"]
    assert notice["MessageAttributes"]["remediation"]["StringValue"] == "READY"
    assert publisher.resync_trigger_count(DRIFTED) == 0


@pytest.mark.usefixtures("drifted_with_dam")
def test_remediate_start_and_poll_run_on_their_sample_events(publisher: Simulator, aws: LocalAws) -> None:
    started = invoke(aws, "RemediateFunction", remediation_sample("remediate-start.json", publisher, aws))
    assert started["phase"] == "RESYNC_RUNNING"
    assert started["resyncStatus"] == "RESYNC_TRIGGER_START"
    assert publisher.resync_trigger_count(DRIFTED) == 1

    poll_event = remediation_sample("remediate-poll.json", publisher, aws)
    now = datetime.now(UTC)
    poll_event["task"]["remediation"]["startedAt"] = now.isoformat()
    poll_event["task"]["remediation"]["deadline"] = (now + timedelta(hours=2)).isoformat()
    polled = invoke(aws, "RemediateFunction", poll_event)
    assert polled["phase"] in {"RESYNC_RUNNING", "OPERATIONS_RUNNING"}
    assert polled["pollCount"] == 1
    assert 1 <= polled["waitSeconds"] <= 60
    assert publisher.resync_trigger_count(DRIFTED) == 1


@pytest.mark.usefixtures("drifted_with_dam")
def test_request_approval_and_the_approval_page_run_on_their_sample_events(
    publisher: Simulator, aws: LocalAws
) -> None:
    requested = invoke(
        aws, "RequestApprovalFunction", remediation_sample("request-approval.json", publisher, aws)
    )
    (pending,) = aws.pending_approvals()
    assert datetime.fromisoformat(requested["expiresAt"]) == pending.expires_at
    (notice,) = aws.drain_notices()
    assert notice.attributes["remediation"] == "AWAITING_APPROVAL"
    (approval_id,) = re.findall(r"^  https://\S+\?id=([\w-]+)$", notice.message, re.MULTILINE)
    assert handle_of(approval_id) == pending.handle

    page_event: dict[str, Any] = json.loads((EVENTS / "approve-get.json").read_text())
    page_event["queryStringParameters"] = {"id": approval_id}
    page_event["rawQueryString"] = f"id={approval_id}"
    page = invoke(aws, "ApproveFunction", page_event)
    assert page["statusCode"] == 200
    assert "Start a staging resync?" in page["body"]
    assert aws.pending_approvals() == [pending], "opening the page answers nothing"


def test_the_approval_page_sample_with_its_made_up_id_is_gone(aws: LocalAws) -> None:
    page = invoke(aws, "ApproveFunction", json.loads((EVENTS / "approve-get.json").read_text()))
    assert page["statusCode"] == 410
    assert "unknown or was already answered" in page["body"]
