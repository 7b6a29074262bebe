"""Every handler runs on its sample event from events/ (examples that cannot rot).

The samples name a production-like publisher and secret; the test points them at the simulator and
the local secret and, for the poll, moves the find's start and deadline to now. Nothing else changes.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events"
DRIFTED = "8c72ef60-e8d4-425d-903a-232bb8726222"
FAILING = "e90dd43d-c916-49a0-b37d-ad10c6694355"


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
    assert "FunctionError" not in response, payload
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
    assert result["notify"] is True
