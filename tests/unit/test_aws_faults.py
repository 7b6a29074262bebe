"""The local AWS fault injector: it fails exactly the calls it names, the way AWS would, and moto never
performs a call it failed. (Retries with backoff are exercised end to end, in the fault matrix.)"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from damdrift_cli.local.aws_faults import AwsFaults

BUCKET = "fault-injection-test"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # no backoff sleeps here


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsFaults]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    injector = AwsFaults()
    with mock_aws(), injector.installed():
        yield injector


def s3() -> Any:
    client = boto3.client("s3", region_name="us-east-1", config=NO_RETRIES)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return client


def keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_an_error_fault_answers_with_the_services_error_and_moto_never_stores_the_object(
    faults: AwsFaults,
) -> None:
    client = s3()
    fault = faults.fail("s3", "PutObject", code="AccessDenied", status=403, path_contains="denied")

    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=BUCKET, Key="reports/denied.json", Body=b"{}")
    client.put_object(Bucket=BUCKET, Key="reports/allowed.json", Body=b"{}")

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert keys(client) == ["reports/allowed.json"]
    assert (fault.seen, fault.applied) == (1, 1)


def test_after_spares_and_times_limits(faults: AwsFaults) -> None:
    client = s3()
    fault = faults.fail("s3", "PutObject", code="InternalError", status=500, after=1, times=1)

    client.put_object(Bucket=BUCKET, Key="one", Body=b"1")
    with pytest.raises(ClientError):
        client.put_object(Bucket=BUCKET, Key="two", Body=b"2")
    client.put_object(Bucket=BUCKET, Key="three", Body=b"3")

    assert keys(client) == ["one", "three"]
    assert (fault.seen, fault.applied) == (3, 1)


def test_a_connection_fault_is_the_error_botocore_raises_when_the_network_fails(faults: AwsFaults) -> None:
    client = s3()
    faults.fail("s3", "PutObject", kind="connection")

    with pytest.raises(EndpointConnectionError):
        client.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert keys(client) == []


def test_an_sns_fault_answers_in_snss_own_error_shape(faults: AwsFaults) -> None:
    sns = boto3.client("sns", region_name="us-east-1", config=NO_RETRIES)
    topic = sns.create_topic(Name="t")["TopicArn"]
    faults.fail("sns", "Publish", code="AuthorizationError", status=403)

    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="hello")

    assert refused.value.response["Error"]["Code"] == "AuthorizationError"


def test_only_s3_and_sns_and_sane_options_are_accepted(faults: AwsFaults) -> None:
    with pytest.raises(ValueError, match="not 'dynamodb'"):
        faults.fail("dynamodb", "PutItem")
    with pytest.raises(ValueError, match="4xx or 5xx"):
        faults.fail("s3", "PutObject", status=200)


def test_without_an_installed_injector_nothing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    idle = AwsFaults()
    idle.fail("s3", "PutObject")
    with mock_aws():
        client = s3()
        client.put_object(Bucket=BUCKET, Key="k", Body=b"x")
        assert keys(client) == ["k"]
