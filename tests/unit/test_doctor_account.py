"""The doctor's account line: whether Lambda lets this account reserve the hardening step's concurrency.

Lambda keeps 100 executions unreserved (AWS Lambda Developer Guide, "Configuring reserved concurrency"),
so the new-account quota of 10 can reserve nothing (issue 22, item 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from damdrift.doctor import Status
from damdrift.doctor.account import CHECK_ID, concurrency_check, reservable


@pytest.fixture
def lambda_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber


def settings(total: int, unreserved: int) -> dict[str, Any]:
    return {"AccountLimit": {"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": unreserved}}


def test_a_new_account_with_a_quota_of_10_can_reserve_nothing_and_the_doctor_warns(
    lambda_stub: tuple[Any, Stubber],
) -> None:
    client, stubber = lambda_stub
    stubber.add_response("get_account_settings", settings(10, 10))
    check = concurrency_check(client)
    assert (check.id, check.status) == (CHECK_ID, Status.WARN)
    assert "quota 10, 10 unreserved" in check.evidence and "0 can be reserved" in check.evidence
    assert "keep ApproveConcurrency and ReportViewerConcurrency at 0" in check.evidence


def test_an_account_with_the_default_quota_can_take_the_hardening_reservations(
    lambda_stub: tuple[Any, Stubber],
) -> None:
    client, stubber = lambda_stub
    stubber.add_response("get_account_settings", settings(1000, 1000))
    check = concurrency_check(client)
    assert check.status is Status.PASS
    assert "900 can be reserved" in check.evidence


def test_an_account_that_cannot_be_read_is_not_checked_and_says_why(lambda_stub: tuple[Any, Stubber]) -> None:
    client, stubber = lambda_stub
    stubber.add_client_error("get_account_settings", "AccessDeniedException", "not authorized", 403)
    check = concurrency_check(client)
    assert check.status is Status.NOT_CHECKED
    assert "lambda:GetAccountSettings failed" in check.evidence and "AccessDenied" in check.evidence


@pytest.mark.parametrize(("unreserved", "free"), [(10, 0), (100, 0), (103, 3), (104, 4), (1000, 900)])
def test_lambda_keeps_100_unreserved(unreserved: int, free: int) -> None:
    assert reservable(unreserved) == free
