"""The once-a-day remediation ledger and the approval store, against moto's S3.

Step Functions is a small fake here: the store only calls ``send_task_success``, and what it is handed
(the task token and the answer) is what the tests look at.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from damdrift.errors import ApprovalError, RemediationRefused, StorageAccessDenied
from damdrift.remediation.approval import ApprovalStore, PendingApproval, approval_links
from damdrift.remediation.ledger import RemediationLedger
from damdrift.steps.approval import answer_approval
from tests.aws import REPORT_BUCKET, FakeStepFunctions, s3_with_report_bucket

BUCKET = REPORT_BUCKET
NOW = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAfake-task-token-ZmFrZS10YXNrLXRva2Vu" * 3


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from s3_with_report_bucket(monkeypatch)


@pytest.fixture
def ledger(s3: Any) -> RemediationLedger:
    return RemediationLedger(s3, BUCKET)


@pytest.fixture
def approvals(s3: Any) -> ApprovalStore:
    return ApprovalStore(s3, BUCKET)


def step_functions_error(code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code}: Task Token {TOKEN} is not known"}}, "SendTaskSuccess"
    )


def objects(s3: Any, prefix: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def create(approvals: ApprovalStore, *, timeout_seconds: int = 3600, **overrides: Any) -> PendingApproval:
    fields: dict[str, Any] = {
        "execution": "exec-1",
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "target_host": "sub-1.example.com",
        "mismatches": 9,
        "summary_key": "reports/dx.example.com/sub-1/2026/11/01/exec-1/summary.json",
        "now": NOW,
        "timeout_seconds": timeout_seconds,
    }
    fields.update(overrides)
    return approvals.create(TOKEN, **fields)


def answer_error(
    approvals: ApprovalStore, callbacks: FakeStepFunctions, approval_id: str, **kwargs: Any
) -> str:
    with pytest.raises(ApprovalError) as caught:
        approvals.answer(
            callbacks,
            approval_id,
            approved=kwargs.get("approved", True),
            decided_by="alice",
            now=kwargs.get("now", NOW),
        )
    return str(caught.value)


# -- the ledger ------------------------------------------------------------------------------------------


def test_no_marker_means_no_remediation_today(ledger: RemediationLedger) -> None:
    assert ledger.today("dx.example.com", "sub-1", NOW) is None


def test_the_first_claim_writes_todays_marker(ledger: RemediationLedger) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    marker = ledger.today("dx.example.com", "sub-1", NOW + timedelta(hours=3))
    assert marker == {"execution": "exec-1", "subscriberId": "sub-1", "at": NOW.isoformat(), "forced": False}


def test_a_second_execution_is_refused_with_a_message_naming_the_first(ledger: RemediationLedger) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    with pytest.raises(RemediationRefused) as caught:
        ledger.claim("dx.example.com", "sub-1", NOW + timedelta(hours=1), "exec-2", force=False)
    message = str(caught.value)
    assert "already ran for this subscriber today" in message
    assert "execution exec-1" in message
    assert "remediation.force" in message
    assert ledger.today("dx.example.com", "sub-1", NOW) == {
        "execution": "exec-1",
        "subscriberId": "sub-1",
        "at": NOW.isoformat(),
        "forced": False,
    }, "the refused claim leaves the first marker as it was"


def test_a_retry_of_the_same_execution_is_accepted(ledger: RemediationLedger) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    ledger.claim("dx.example.com", "sub-1", NOW + timedelta(seconds=30), "exec-1", force=False)
    marker = ledger.today("dx.example.com", "sub-1", NOW)
    assert marker is not None and marker["at"] == NOW.isoformat()


def test_force_overwrites_another_executions_marker(ledger: RemediationLedger) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    later = NOW + timedelta(hours=2)
    ledger.claim("dx.example.com", "sub-1", later, "exec-2", force=True)
    assert ledger.today("dx.example.com", "sub-1", NOW) == {
        "execution": "exec-2",
        "subscriberId": "sub-1",
        "at": later.isoformat(),
        "forced": True,
    }


def test_markers_are_per_publisher_subscriber_and_utc_day(ledger: RemediationLedger) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    ledger.claim("dx.example.com", "sub-2", NOW, "exec-2", force=False)
    ledger.claim("other.example.com", "sub-1", NOW, "exec-3", force=False)
    tomorrow = NOW + timedelta(days=1)
    assert ledger.today("dx.example.com", "sub-1", tomorrow) is None
    ledger.claim("dx.example.com", "sub-1", tomorrow, "exec-4", force=False)
    executions = [
        (ledger.today(publisher, subscriber, day) or {}).get("execution")
        for publisher, subscriber, day in [
            ("dx.example.com", "sub-1", NOW),
            ("dx.example.com", "sub-2", NOW),
            ("other.example.com", "sub-1", NOW),
            ("dx.example.com", "sub-1", tomorrow),
        ]
    ]
    assert executions == ["exec-1", "exec-2", "exec-3", "exec-4"]


def test_the_day_is_the_utc_day_whatever_the_clocks_zone(ledger: RemediationLedger) -> None:
    early_in_tokyo = datetime(
        2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=9))
    )  # 23:00 UTC the day before
    assert RemediationLedger.key("dx.example.com", "sub-1", early_in_tokyo).endswith("/2026-11-01.json")


def test_the_marker_lives_under_remediations_in_the_report_bucket(ledger: RemediationLedger, s3: Any) -> None:
    ledger.claim("dx.example.com", "sub-1", NOW, "exec-1", force=False)
    assert objects(s3, "remediations/") == [RemediationLedger.key("dx.example.com", "sub-1", NOW)]


# -- the approval store: create, get, pending --------------------------------------------------------------


def test_create_files_the_request_under_a_random_id_and_get_reads_it_back(approvals: ApprovalStore) -> None:
    pending = create(approvals)
    assert len(pending.approval_id) == 32
    assert all(c.isalnum() or c in "-_" for c in pending.approval_id)
    assert pending.expires_at == NOW + timedelta(hours=1)
    assert approvals.get(pending.approval_id, now=NOW) == pending


def test_the_request_is_filed_under_the_hash_of_its_id_never_the_id(
    approvals: ApprovalStore, s3: Any
) -> None:
    pending = create(approvals)
    assert pending.approval_id is not None
    handle = hashlib.sha256(pending.approval_id.encode()).hexdigest()

    assert pending.handle == handle
    assert objects(s3, "approvals/") == [f"approvals/{handle}.json"]
    stored = s3.get_object(Bucket=BUCKET, Key=f"approvals/{handle}.json")["Body"].read().decode()
    assert pending.approval_id not in stored


def test_a_handle_seen_in_a_listing_is_not_a_link(approvals: ApprovalStore) -> None:
    """What a bucket listing or a CloudTrail data event shows cannot be used on the public URL."""
    pending = create(approvals)
    callbacks = FakeStepFunctions()

    with pytest.raises(ApprovalError, match="unknown or was already answered"):
        approvals.get(pending.handle, now=NOW)
    message = answer_error(approvals, callbacks, pending.handle)

    assert "unknown or was already answered" in message
    assert callbacks.successes == []


def test_a_reader_of_the_bucket_answers_a_listed_request_by_its_handle(approvals: ApprovalStore) -> None:
    create(approvals)
    (listed,) = approvals.pending()
    callbacks = FakeStepFunctions()

    answered = approvals.answer_listed(callbacks, listed.handle, approved=True, decided_by="cli", now=NOW)

    assert answered == listed and listed.approval_id is None
    assert len(callbacks.successes) == 1
    assert approvals.pending() == []


def test_get_refuses_an_expired_request(approvals: ApprovalStore) -> None:
    pending = create(approvals, timeout_seconds=60)
    assert pending.approval_id is not None
    with pytest.raises(ApprovalError, match="expired at"):
        approvals.get(pending.approval_id, now=NOW + timedelta(seconds=60))


def test_every_request_gets_its_own_id(approvals: ApprovalStore) -> None:
    assert create(approvals).approval_id != create(approvals).approval_id


def test_pending_lists_every_unanswered_request(approvals: ApprovalStore) -> None:
    first, second = create(approvals), create(approvals, subscriber_id="sub-2", target_host=None)
    listed = sorted(approvals.pending(), key=lambda p: p.subscriber_id)
    # listed by handle: the id is stored nowhere
    assert listed == [replace(first, approval_id=None), replace(second, approval_id=None)]


def test_the_stored_request_holds_the_token_and_the_returned_one_does_not(
    approvals: ApprovalStore, s3: Any
) -> None:
    pending = create(approvals)
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=f"approvals/{pending.handle}.json")["Body"].read())
    assert stored["taskToken"] == TOKEN
    assert TOKEN not in repr(pending)
    assert TOKEN not in str(pending)


def test_get_of_an_unknown_id_is_an_approval_error(approvals: ApprovalStore) -> None:
    with pytest.raises(ApprovalError, match="unknown or was already answered"):
        approvals.get("A" * 32, now=NOW)


def test_the_link_carries_only_the_approval_id() -> None:
    links = approval_links("https://abc.lambda-url.us-east-1.on.aws/", "id_ABC-123")
    assert links == {"review": "https://abc.lambda-url.us-east-1.on.aws/?id=id_ABC-123"}


# -- answering ---------------------------------------------------------------------------------------------


def test_an_answer_resumes_the_execution_once_with_the_decision(approvals: ApprovalStore, s3: Any) -> None:
    pending = create(approvals)
    callbacks = FakeStepFunctions()

    answered = approvals.answer(
        callbacks, pending.approval_id, approved=True, decided_by="alice", now=NOW + timedelta(minutes=5)
    )

    assert answered == pending
    (call,) = callbacks.successes
    assert call["taskToken"] == TOKEN
    assert json.loads(call["output"]) == {
        "approved": True,
        "decidedBy": "alice",
        "decidedAt": "2026-11-01T05:05:00Z",
    }
    assert callbacks.failures == []
    assert objects(s3, "approvals/") == [], "the link is used up"


def test_a_denial_is_an_answer_too(approvals: ApprovalStore) -> None:
    pending = create(approvals)
    callbacks = FakeStepFunctions()
    approvals.answer(callbacks, pending.approval_id, approved=False, decided_by="bob", now=NOW)
    (call,) = callbacks.successes
    assert json.loads(call["output"])["approved"] is False


def test_a_second_answer_is_refused_and_does_not_resume_anything(approvals: ApprovalStore) -> None:
    pending = create(approvals)
    callbacks = FakeStepFunctions()
    approvals.answer(callbacks, pending.approval_id, approved=True, decided_by="alice", now=NOW)

    message = answer_error(approvals, callbacks, pending.approval_id, approved=False)

    assert "unknown or was already answered" in message
    assert len(callbacks.successes) == 1


def test_an_expired_request_is_refused_and_deleted(approvals: ApprovalStore, s3: Any) -> None:
    pending = create(approvals, timeout_seconds=60)
    callbacks = FakeStepFunctions()

    message = answer_error(approvals, callbacks, pending.approval_id, now=NOW + timedelta(seconds=60))

    assert "expired at 2026-11-01T05:01:00+00:00" in message
    assert callbacks.successes == []
    assert objects(s3, "approvals/") == []


def test_an_answer_just_before_expiry_is_accepted(approvals: ApprovalStore) -> None:
    pending = create(approvals, timeout_seconds=60)
    callbacks = FakeStepFunctions()
    approvals.answer(
        callbacks, pending.approval_id, approved=True, decided_by="a", now=NOW + timedelta(seconds=59)
    )
    assert len(callbacks.successes) == 1


@pytest.mark.parametrize(
    "approval_id",
    ["short", "../../reports/x" + "y" * 20, "<script>alert(1)</script>" + "z" * 20, "a" * 65, ""],
)
def test_a_malformed_id_is_refused_without_echoing_it(approvals: ApprovalStore, approval_id: str) -> None:
    callbacks = FakeStepFunctions()
    message = answer_error(approvals, callbacks, approval_id)
    assert "(malformed id)" in message
    if approval_id:
        assert approval_id not in message
    assert callbacks.successes == []


def test_an_error_names_only_the_start_of_a_well_formed_id(approvals: ApprovalStore) -> None:
    approval_id = "Abcdef" + "x" * 26
    message = answer_error(approvals, FakeStepFunctions(), approval_id)
    assert "Abcdef..." in message
    assert approval_id not in message


@pytest.mark.parametrize("code", ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"])
def test_an_execution_that_moved_on_is_an_approval_error_and_the_request_is_deleted(
    approvals: ApprovalStore, s3: Any, code: str
) -> None:
    pending = create(approvals)
    message = answer_error(
        approvals, FakeStepFunctions(error=step_functions_error(code)), pending.approval_id
    )
    assert f"no longer awaited ({code})" in message
    assert objects(s3, "approvals/") == []


def test_another_step_functions_error_is_raised_and_the_request_kept_for_a_retry(
    approvals: ApprovalStore, s3: Any
) -> None:
    pending = create(approvals)
    with pytest.raises(ClientError):
        approvals.answer(
            FakeStepFunctions(error=step_functions_error("ThrottlingException")),
            pending.approval_id,
            approved=True,
            decided_by="alice",
            now=NOW,
        )
    assert approvals.get(pending.approval_id, now=NOW) == pending


def test_the_task_token_never_appears_in_an_approval_error(approvals: ApprovalStore) -> None:
    expired = create(approvals, timeout_seconds=1)
    moved_on = create(approvals)
    answered = create(approvals)
    approvals.answer(FakeStepFunctions(), answered.approval_id, approved=True, decided_by="a", now=NOW)
    messages = [
        answer_error(approvals, FakeStepFunctions(), expired.approval_id, now=NOW + timedelta(seconds=2)),
        answer_error(
            approvals, FakeStepFunctions(error=step_functions_error("TaskDoesNotExist")), moved_on.approval_id
        ),
        answer_error(approvals, FakeStepFunctions(), answered.approval_id),
        answer_error(approvals, FakeStepFunctions(), "bad id"),
    ]
    for message in messages:
        assert TOKEN not in message
        assert "taskToken" not in message


def test_who_decided_is_capped_and_never_empty(approvals: ApprovalStore) -> None:
    long_name, empty = create(approvals), create(approvals)
    callbacks = FakeStepFunctions()
    approvals.answer(callbacks, long_name.approval_id, approved=True, decided_by="x" * 500, now=NOW)
    approvals.answer(callbacks, empty.approval_id, approved=True, decided_by="", now=NOW)
    decided = [json.loads(call["output"])["decidedBy"] for call in callbacks.successes]
    assert decided == ["x" * 200, "unknown"]


def test_answer_approval_step_returns_what_was_approved(approvals: ApprovalStore) -> None:
    pending = create(approvals)
    callbacks = FakeStepFunctions()
    answered = answer_approval(
        approvals, callbacks, pending.approval_id, approved=True, decided_by="cli", now=NOW
    )
    assert answered.execution == "exec-1" and answered.subscriber_id == "sub-1"
    assert len(callbacks.successes) == 1


# -- a 403 (no s3:ListBucket, or no s3:GetObject) is a named error, never "no marker" / "unknown link" ------


def refused_read(s3: Any) -> Stubber:
    stubber = Stubber(s3)
    stubber.add_client_error(
        "get_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )
    return stubber


def test_a_refused_marker_lookup_is_storage_access_denied_not_no_marker(
    ledger: RemediationLedger, s3: Any
) -> None:
    with refused_read(s3), pytest.raises(StorageAccessDenied, match="s3:ListBucket"):
        ledger.today("dx.example.com", "sub-1", NOW)


def test_a_refused_approval_read_is_storage_access_denied_and_names_no_id(
    approvals: ApprovalStore, s3: Any
) -> None:
    approval_id = "Abcdef" + "x" * 26
    with refused_read(s3), pytest.raises(StorageAccessDenied) as caught:
        approvals.get(approval_id, now=NOW)
    assert "reading approval Abcdef..." in caught.value.message and "s3:ListBucket" in caught.value.message
    assert approval_id not in caught.value.message
