"""``damdrift approve`` against a deployed stack's bucket (moto here): list, answer once, refuse the rest."""

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from damdrift.remediation.approval import ApprovalStore, PendingApproval
from damdrift_cli.main import build_parser
from tests.aws import REPORT_BUCKET, s3_with_report_bucket

BUCKET = REPORT_BUCKET


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApprovalStore]:
    for s3 in s3_with_report_bucket(monkeypatch):
        yield ApprovalStore(s3, BUCKET)


def pending(store: ApprovalStore) -> PendingApproval:
    return store.create(
        "task-token-that-step-functions-no-longer-knows",
        execution="manual-1",
        publisher="dx.example.com",
        subscriber_id="sub-1",
        target_host="dx-sub.example.com",
        mismatches=12,
        summary_key="reports/dx.example.com/sub-1/summary.json",
        now=datetime.now(UTC),
        timeout_seconds=3600,
    )


def run(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["approve", "--bucket", BUCKET, "--region", "us-east-1", *argv])
    out, err = io.StringIO(), io.StringIO()
    return args.run(args, out, err), out.getvalue(), err.getvalue()


def test_list_shows_each_waiting_request_with_its_id_and_subscriber(store: ApprovalStore) -> None:
    request = pending(store)

    status, out, _ = run("--list")

    assert status == 0
    # by the hash its record is filed under: the id itself is stored nowhere
    assert request.handle in out and "dx-sub.example.com" in out and "12 mismatches" in out
    assert request.approval_id is not None and request.approval_id not in out


def test_a_listed_request_is_answered_by_the_reference_the_list_shows(store: ApprovalStore) -> None:
    request = pending(store)

    status, out, _ = run("--approval-id", request.handle)

    assert status == 0 and out.startswith(f"Approved: {request.handle}")
    assert store.pending() == []


def test_an_unknown_id_is_refused_with_exit_status_2_and_the_id_is_not_echoed(store: ApprovalStore) -> None:
    status, _, err = run("--approval-id", "x" * 32)

    assert status == 3
    assert "unknown or was already answered" in err and "x" * 32 not in err


def test_an_answer_resumes_the_execution_once_and_the_id_is_then_used_up(store: ApprovalStore) -> None:
    request = pending(store)

    first = run("--approval-id", request.approval_id, "--deny")
    again = run("--approval-id", request.approval_id)

    assert first[0] == 0 and first[1].startswith(f"Denied: {request.approval_id}")
    assert again[0] == 3 and "already answered" in again[2]
    assert store.pending() == []


def test_without_an_id_or_list_it_says_what_is_missing(store: ApprovalStore) -> None:
    status, _, err = run()

    assert status == 3 and "--approval-id" in err
