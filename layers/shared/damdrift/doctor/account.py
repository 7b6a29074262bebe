"""Whether this AWS account can take the stack's reserved concurrency (the deploy guide's hardening step).

Lambda refuses a reservation that would leave fewer than 100 executions unreserved ("You can reserve up
to the Unreserved account concurrency value ... minus 100", AWS Lambda Developer Guide, Configuring
reserved concurrency). A new account's concurrency quota may be 10, so it can reserve nothing, and a
stack that asks for any reservation fails at CreateFunction. The stack therefore reserves nothing by
default; this check reads ``lambda:GetAccountSettings`` and says what the account could take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from damdrift.doctor.models import Check, Status

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

#: What Lambda always keeps unreserved for the functions without a reservation.
LAMBDA_UNRESERVED_MINIMUM = 100
#: What the hardening step reserves: ApproveConcurrency=2 and ReportViewerConcurrency=2.
HARDENING_RESERVATION = 4
CHECK_ID = "aws: lambda reserved concurrency"


def reservable(unreserved: int) -> int:
    """How many executions the account can still reserve, given its unreserved concurrency."""
    return max(0, unreserved - LAMBDA_UNRESERVED_MINIMUM)


def concurrency_check(lambda_client: LambdaClient) -> Check:
    """One doctor line: can ApproveConcurrency and ReportViewerConcurrency be turned on in this account?"""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        limit = lambda_client.get_account_settings()["AccountLimit"]
    except (BotoCoreError, ClientError) as exc:
        return Check(
            id=CHECK_ID, status=Status.NOT_CHECKED, evidence=f"lambda:GetAccountSettings failed: {exc}"
        )
    total, unreserved = limit.get("ConcurrentExecutions", 0), limit.get("UnreservedConcurrentExecutions", 0)
    free = reservable(unreserved)
    seen = f"quota {total}, {unreserved} unreserved; Lambda keeps {LAMBDA_UNRESERVED_MINIMUM} unreserved"
    if free >= HARDENING_RESERVATION:
        return Check(
            id=CHECK_ID,
            status=Status.PASS,
            evidence=f"{seen}, so {free} can be reserved: ApproveConcurrency=2 ReportViewerConcurrency=2 fit",
        )
    return Check(
        id=CHECK_ID,
        status=Status.WARN,
        evidence=(
            f"{seen}, so {free} can be reserved: keep ApproveConcurrency and ReportViewerConcurrency at 0 "
            f"until Service Quotas raises 'Concurrent executions' (docs/deploy.md, Harden)"
        ),
    )
