"""The doctor function under moto: invoked directly, it probes the simulator with the stack's secret,
stores doctor.json in the report bucket and tells the ops topic, and sends DX no write."""

import json
from pathlib import Path
from typing import Any

from damdrift.dx.sessions import forget_all
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.simulator import Simulator

FUNCTION = "dam-drift-local-DoctorFunction"


def invoke(aws: LocalAws, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    response = aws.client("lambda").invoke(FunctionName=FUNCTION, Payload=json.dumps(payload))
    return response, json.loads(response["Payload"].read())


def publisher_of(simulator: Simulator) -> dict[str, Any]:
    return {"hostname": simulator.hostname, "dxProtocol": "http", "dxPort": simulator.port}


def test_the_doctor_function_stores_doctor_json_and_tells_the_ops_topic(
    aws: LocalAws, publisher: Simulator
) -> None:
    publisher.add_subscriber("dx-sub.example.com")

    response, result = invoke(aws, {"publisher": publisher_of(publisher)})

    assert "FunctionError" not in response, result
    key = result["doctorKey"]
    assert key.startswith(f"doctor/{publisher.hostname}_{publisher.port}/") and key.endswith("/doctor.json")
    bucket = aws.deployment.bucket if aws.deployment else ""
    stored = json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert {c["id"]: c["status"] for c in stored["checks"]}["login"] == "PASS"
    warnings = [c for c in stored["checks"] if c["status"] == "WARN"]
    assert stored["exitCode"] == result["exitCode"] == 0, warnings
    notices = aws.drain_notices()
    assert len(notices) == 1 and notices[0].topic == "OpsTopic"
    assert notices[0].subject == f"dam-drift doctor: PASS {publisher.hostname}_{publisher.port}"
    assert key in notices[0].message
    assert notices[0].attributes["kind"] == "doctor"
    assert publisher.password not in json.dumps(stored) + notices[0].message + aws.function_logs()
    writes = [(e.method, e.path) for e in publisher.exchanges if e.method not in ("GET", "HEAD")]
    assert writes == [
        ("POST", "/dx/api/core/v1/auth/login"),
        ("POST", "/dx/api/core/v1/auth/validate"),
        ("POST", "/dx/api/core/v1/auth/logout"),
        ("POST", "/dx/api/core/v1/auth/validate"),
    ]


def test_a_secret_that_cannot_be_read_is_a_stored_and_sent_failure(
    aws: LocalAws, publisher: Simulator
) -> None:
    response, result = invoke(
        aws, {"publisher": publisher_of(publisher), "credentialsSecret": "no-such-secret"}
    )

    assert "FunctionError" not in response, result
    assert result["exitCode"] == 2
    assert result["checks"][0]["id"] == "credentials"
    assert "no-such-secret" in result["checks"][0]["evidence"]
    assert publisher.exchanges == []
    assert aws.drain_notices()[0].subject.startswith("dam-drift doctor: FAIL")


def test_a_publisher_the_stacks_credentials_are_not_for_is_refused_before_any_request(
    publisher: Simulator,
) -> None:
    credentials = {"username": publisher.username, "password": publisher.password}
    forget_all()
    with LocalAws(credentials, parameters={"DxHostname": "dx.example.com"}) as aws:
        response, result = invoke(aws, {"publisher": publisher_of(publisher)})

    assert response["FunctionError"] == "Handled"
    assert result["errorType"] == "InvalidInput"
    assert "publisher.hostname" in result["errorMessage"] and "dx.example.com" in result["errorMessage"]
    assert publisher.exchanges == []


def test_without_a_publisher_in_the_event_the_doctor_probes_the_stacks_own(
    aws: LocalAws, publisher: Simulator
) -> None:
    """A stack always has its publisher (DxHostname has no default: CloudFormation refuses a stack
    without it), so an empty event probes that one, as ``aws lambda invoke`` on AWS does."""
    response, result = invoke(aws, {})

    assert "FunctionError" not in response, result
    assert result["doctorKey"].startswith(f"doctor/{publisher.hostname}_{publisher.port}/")


def test_the_sample_event_reads_only_the_named_subscribers_log(aws: LocalAws, publisher: Simulator) -> None:
    event = json.loads((Path(__file__).resolve().parents[2] / "events" / "doctor.json").read_text())
    named = event["subscriberIds"][0]
    publisher.add_subscriber("dx-sub-drifted.example.com", subscriber_id=named)
    other = publisher.add_subscriber("dx-sub-other.example.com")

    response, result = invoke(aws, {**event, "publisher": publisher_of(publisher)})

    assert "FunctionError" not in response, result
    logs_read = {
        query["subscriberId"][0]
        for e in publisher.exchanges
        if e.path.endswith("/staging/mismatches")
        for query in [e.query]
        if "offset" in query
    }
    assert logs_read == {named} and other not in logs_read
