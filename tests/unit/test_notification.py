"""The SNS notification: a subject SNS accepts, a short plain-text body no DX value can break."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from damdrift.execution_input import RemediateMode
from damdrift.models.remediation import OperationTally, RemediationRecord, RemediationVerdict
from damdrift.models.summary import Changes, CheckStatus, ErrorInfo, ExpiredRule, IgnoreSummary, Summary
from damdrift.report.analysis.diff import ChangeClass, PreviousRun, RecordSample, RunDiff
from damdrift.report.rendering.notice import ReportLink
from damdrift.report.rendering.notification import MESSAGE_MAX_BYTES, SUBJECT_MAX
from tests.report_samples import build_notification

STARTED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
LOCATION = "s3://reports-bucket/reports/dx.example.com/sub-1/2024/05/01/exec-1/"
FAILED_FIND = {
    "operation": {
        "id": "op-1",
        "status": "FAILED",
        "retryCounter": 2,
        "errorInfo": {"message": "query timeout"},
    },
    "failedOnVolume": True,
}


def summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "target_host": "sub-host.example.com",
        "status": CheckStatus.DRIFT,
        "counts": {"COLLECTION": {"CREATE": 40, "DELETE": 1}, "RENDITION": {"UPDATE": 1}},
        "total": 42,
        "execution": "exec-1",
        "started_at": STARTED,
        "find_started_at": STARTED + timedelta(seconds=5),
        "find_completed_at": STARTED + timedelta(seconds=125),
        "finished_at": STARTED + timedelta(seconds=130),
        "find_duration_seconds": 120.0,
        "poll_count": 7,
    }
    fields.update(overrides)
    return Summary(**fields)


def flat(text: str) -> str:
    """The message with its wrapping undone, to look for phrases."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def errored(error: ErrorInfo, **overrides: Any) -> Summary:
    return summary(status=CheckStatus.ERRORED, error=error, counts={}, total=0, **overrides)


def test_drift_subject_names_both_hosts_and_the_total() -> None:
    subject = build_notification(summary(), LOCATION).subject
    assert subject == "[DRIFT] dx.example.com -> sub-host.example.com: 42 mismatches"


def test_a_single_mismatch_is_singular() -> None:
    one = summary(counts={"COLLECTION": {"CREATE": 1}}, total=1)
    assert build_notification(one, LOCATION).subject.endswith(": 1 mismatch")


def test_in_sync_subject() -> None:
    subject = build_notification(summary(status=CheckStatus.IN_SYNC, counts={}, total=0), LOCATION).subject
    assert subject == "[IN SYNC] dx.example.com -> sub-host.example.com: no mismatches"


def test_errored_subject_names_the_error_type() -> None:
    subject = build_notification(errored(ErrorInfo(type="FindMismatchFailed", message="m")), LOCATION).subject
    assert subject == "[ERRORED] dx.example.com -> sub-host.example.com: FindMismatchFailed"


def test_the_subscriber_id_stands_in_when_there_is_no_target_host() -> None:
    subject = build_notification(summary(target_host=None), LOCATION).subject
    assert subject == "[DRIFT] dx.example.com -> sub-1: 42 mismatches"


LONG = "a" * 40 + "." + "b" * 60 + ".example.com"


@pytest.mark.parametrize(
    ("publisher", "target", "error_type"),
    [
        (LONG, "short", "X"),
        ("short", LONG, "X"),
        (LONG, LONG, "X"),
        (LONG, LONG, "E" * 500),
        ("p" * 1000, "t" * 1000, "FindMismatchTimedOut"),
    ],
)
@pytest.mark.parametrize("status", list(CheckStatus))
def test_subject_never_exceeds_100_chars(
    publisher: str, target: str, error_type: str, status: CheckStatus
) -> None:
    if status is CheckStatus.ERRORED:
        s = errored(ErrorInfo(type=error_type, message="m"), publisher=publisher, target_host=target)
    else:
        total = 0 if status is CheckStatus.IN_SYNC else 123456789
        counts = {"COLLECTION": {"CREATE": total}} if total else {}
        s = summary(publisher=publisher, target_host=target, status=status, counts=counts, total=total)
    subject = build_notification(s, LOCATION).subject
    assert len(subject) <= SUBJECT_MAX < 100
    assert subject.startswith(f"[{status.replace('_', ' ')}] ")
    assert " -> " in subject
    if status is CheckStatus.DRIFT:
        assert subject.endswith(": 123456789 mismatches")  # the names give way, never the news


def test_a_long_publisher_leaves_a_short_subscriber_whole() -> None:
    subject = build_notification(summary(publisher=LONG, target_host="sub-host"), LOCATION).subject
    assert " -> sub-host: 42 mismatches" in subject
    assert "..." in subject


def test_subject_is_printable_ascii_without_line_breaks() -> None:
    s = summary(publisher="bücher.example\r\nBcc: x", target_host="子供.example\x00\x1b[31m\u202e")
    subject = build_notification(s, LOCATION).subject
    assert re.fullmatch(r"[\x20-\x7e]+", subject), subject
    assert subject.startswith("[DRIFT] b?cher.example Bcc: x -> ")


def test_attributes_let_subscriptions_filter_on_status_subscriber_and_publisher() -> None:
    notification = build_notification(summary(), LOCATION)
    assert notification.attributes == {
        "status": "DRIFT",
        "subscriberId": "sub-1",
        "publisher": "dx.example.com",
    }
    assert notification.sns_message_attributes()["status"] == {"DataType": "String", "StringValue": "DRIFT"}


def test_attributes_are_never_empty_and_hold_no_control_characters() -> None:
    notification = build_notification(summary(publisher="dx\x00host", subscriber_id="\n"), LOCATION)
    assert notification.attributes["publisher"] == "dxhost"
    assert notification.attributes["subscriberId"] == "-"


def test_message_has_who_what_when_and_where() -> None:
    message = build_notification(summary(), LOCATION).message
    for expected in [
        "dam-drift check: DRIFT",
        "Publisher:      dx.example.com",
        "Subscriber:     sub-1",
        "Target host:    sub-host.example.com",
        "Mismatches:     42",
        "Started:        2024-05-01T10:00:00Z",
        "Find started:   2024-05-01T10:00:05Z",
        "Find completed: 2024-05-01T10:02:05Z",
        "Find took:      120.0 s",
        "Status polls:   7",
        "Finished:       2024-05-01T10:02:10Z",
        "Execution:      exec-1",
        f"Report:         {LOCATION}",
    ]:
        assert expected in message.splitlines(), expected
    assert "Error" not in message


def test_message_has_a_counts_table_by_type_and_action() -> None:
    lines = build_notification(summary(), LOCATION).message.splitlines()
    start = lines.index("Record type  Action  Count")
    assert lines[start + 1 : start + 5] == [
        "-----------  ------  -----",
        "COLLECTION   CREATE     40",
        "COLLECTION   DELETE      1",
        "RENDITION    UPDATE      1",
    ]


def test_errored_message_shows_error_diagnosis_and_the_volume_hint() -> None:
    error = ErrorInfo(
        type="FindMismatchFailed", message="DX reported FIND_MISMATCH_FAILED", diagnosis=FAILED_FIND
    )
    message = build_notification(errored(error), LOCATION).message
    lines = message.splitlines()
    assert "Error:          FindMismatchFailed" in lines
    assert "  DX reported FIND_MISMATCH_FAILED" in lines
    assert "  operation.status: FAILED" in lines
    assert "  operation.retryCounter: 2" in lines
    assert '  operation.errorInfo: {"message": "query timeout"}' in lines
    assert "findStagingMismatch operation is FAILED with retryCounter > 0" in flat(message)
    assert "failed on volume" in flat(message)
    assert "deregister and register the subscriber again" in flat(message)
    assert all(len(line) <= 80 for line in lines[lines.index("Hint:") :])


def test_a_failed_operation_with_retries_gets_the_volume_hint_whatever_the_error_type() -> None:
    diagnosis = {"operation": {"status": "FAILED", "retryCounter": 1}}
    message = build_notification(
        errored(ErrorInfo(type="States.Timeout", message="m", diagnosis=diagnosis)), "x"
    )
    assert "is FAILED with retryCounter > 0" in flat(message.message)


def test_a_timed_out_find_gets_the_30_minute_hint() -> None:
    message = build_notification(
        errored(ErrorInfo(type="FindMismatchTimedOut", message="m")), LOCATION
    ).message
    assert "30 minutes, usually means too much data" in flat(message)
    assert "is FAILED with retryCounter > 0" not in flat(message)


def test_an_errored_check_without_a_report_does_not_claim_zero_mismatches() -> None:
    message = build_notification(errored(ErrorInfo(type="DxUnavailable", message="503")), LOCATION).message
    assert "Mismatches:     unknown (the check did not finish)" in message.splitlines()


def test_an_unrelated_error_gets_no_hint() -> None:
    message = build_notification(
        errored(ErrorInfo(type="AuthenticationError", message="401")), LOCATION
    ).message
    assert "Hint" not in message


def test_a_partial_report_says_so() -> None:
    s = summary(
        status=CheckStatus.ERRORED, error=ErrorInfo(type="DxUnavailable", message="503"), partial=True
    )
    message = build_notification(s, LOCATION).message
    assert message.startswith("dam-drift check: ERRORED (partial report)")
    assert "Mismatches:     42 so far (partial report)" in message.splitlines()
    assert "COLLECTION   CREATE     40" in message


def test_dx_values_cannot_break_the_layout_or_smuggle_control_characters() -> None:
    hostile = "evil\n\nStatus: IN_SYNC\r\x1b[2J\x07\u202eresu\x00"
    error = ErrorInfo(type="DxError\nX", message="line 1\nline 2\r\n\x1b[31mred", diagnosis={"k\n": hostile})
    s = errored(error, publisher=hostile, subscriber_id=hostile, target_host=hostile, execution=hostile)
    message = build_notification(s, hostile).message
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", message)
    assert "Status: IN_SYNC" not in message.splitlines()
    lines = message.splitlines()
    assert "Publisher:      evil Status: IN_SYNC [2Jresu" in lines  # without ESC, "[2J" is just text
    # One line: a line of DX's own could pass for one of ours (see test_notice_injection.py).
    assert lines[lines.index("Message:") + 1] == "  line 1 line 2 [31mred"
    assert "Error:          DxError X" in lines


def test_message_stays_small_for_huge_counts_and_huge_error_text() -> None:
    counts = {f"TYPE_{i:04d}_" + "X" * 100: {"CREATE": 10**12, "DELETE": 1} for i in range(2000)}
    total = sum(n for actions in counts.values() for n in actions.values())
    error = ErrorInfo(
        type="E", message="m" * 1_000_000, diagnosis={f"k{i}": "v" * 10_000 for i in range(500)}
    )
    s = summary(status=CheckStatus.ERRORED, counts=counts, total=total, error=error, partial=True)
    message = build_notification(s, LOCATION).message
    assert len(message.encode("utf-8")) < 32 * 1024 < MESSAGE_MAX_BYTES
    assert "more rows (see summary.json)" in message
    assert "more (see summary.json)" in message


def test_lone_surrogates_in_dx_text_do_not_reach_sns() -> None:
    s = errored(ErrorInfo(type="E", message="bad \ud800 text"), publisher="p\udc80")
    notification = build_notification(s, LOCATION)
    notification.message.encode("utf-8")
    notification.subject.encode("ascii")
    assert all(value.encode("utf-8") for value in notification.attributes.values())


def changed(**fields: Any) -> Changes:
    return Changes(previous_execution="exec-0", previous_status=CheckStatus.DRIFT, **fields)


def diff_of(new: int, resolved: int, record_id: str = "m-{}") -> RunDiff:
    def samples(n: int) -> list[RecordSample]:
        return [
            RecordSample(record_type="COLLECTION", record_action="CREATE", record_id=record_id.format(i))
            for i in range(min(n, 500))
        ]

    return RunDiff(
        execution="exec-1",
        previous=PreviousRun(execution="exec-0", summary_key="k", status=CheckStatus.DRIFT),
        new=ChangeClass(total=new, samples=samples(new), counts={"COLLECTION": {"CREATE": new}}),
        resolved=ChangeClass(
            total=resolved, samples=samples(resolved), counts={"RENDITION": {"DELETE": resolved}}
        ),
    )


def test_the_subject_says_what_is_new_and_resolved_since_the_previous_check() -> None:
    s = summary(changes=changed(new=5, resolved=3, unchanged=37))
    assert build_notification(s, LOCATION).subject == (
        "[DRIFT] dx.example.com -> sub-host.example.com: 42 mismatches (+5 new, -3 resolved)"
    )


def test_the_subject_leaves_out_resolved_when_every_resolved_record_was_ignored() -> None:
    s = summary(changes=changed(new=5, resolved=3, resolved_ignored=3, unchanged=37))
    assert build_notification(s, LOCATION).subject == (
        "[DRIFT] dx.example.com -> sub-host.example.com: 42 mismatches (+5 new)"
    )


def test_the_subject_leaves_out_new_when_every_new_record_was_ignored() -> None:
    s = summary(changes=changed(new=2, new_ignored=2, resolved=3, unchanged=40))
    assert build_notification(s, LOCATION).subject == (
        "[DRIFT] dx.example.com -> sub-host.example.com: 42 mismatches (-3 resolved)"
    )


def test_the_subject_says_nothing_of_changes_when_nothing_counted_is_new_or_resolved() -> None:
    s = summary(changes=changed(new=1, new_ignored=1, resolved=4, resolved_ignored=4, unchanged=41))
    subject = build_notification(s, LOCATION).subject
    assert subject == "[DRIFT] dx.example.com -> sub-host.example.com: 42 mismatches"


def test_ignored_records_are_left_out_of_the_subjects_count_and_shown_in_the_body() -> None:
    s = summary(ignored={"COLLECTION": {"CREATE": 40}}, ignored_total=40)
    n = build_notification(s, LOCATION)
    assert n.subject.endswith(": 2 mismatches")
    assert "Mismatches:     2 (and 40 ignored by rules, 42 in all)" in n.message.splitlines()
    in_sync = summary(
        status=CheckStatus.IN_SYNC,
        ignored={"COLLECTION": {"CREATE": 40, "DELETE": 1}, "RENDITION": {"UPDATE": 1}},
        ignored_total=42,
    )
    assert build_notification(in_sync, LOCATION).subject.endswith(": no mismatches (42 ignored)")


def test_the_table_gets_new_resolved_and_ignored_columns_and_rows_for_resolved_pairs() -> None:
    s = summary(changes=changed(new=40, resolved=2), ignored={"RENDITION": {"UPDATE": 1}}, ignored_total=1)
    lines = build_notification(s, LOCATION, diff=diff_of(40, 2)).message.splitlines()
    start = lines.index("Record type  Action  Count  New  Resolved  Ignored")
    assert lines[start + 1 : start + 6] == [
        "-----------  ------  -----  ---  --------  -------",
        "COLLECTION   CREATE     40   40         0        0",
        "COLLECTION   DELETE      1    0         0        0",
        "RENDITION    UPDATE      1    0         0        1",
        "RENDITION    DELETE      0    0         2        0",  # only resolved: still a row
    ]


def test_the_body_lists_the_first_new_and_resolved_records() -> None:
    message = build_notification(
        summary(changes=changed(new=25, resolved=1)), LOCATION, diff=diff_of(25, 1)
    ).message
    assert "Since previous: +25 new, -1 resolved, 0 unchanged; previous: exec-0" in message
    assert "New records (10 of 25):" in message
    assert "  COLLECTION CREATE m-9" in message and "m-10" not in message
    assert "Resolved records (1 of 1):" in message


def test_the_link_to_the_html_report_is_never_cut_short() -> None:
    url = "https://viewer.example/r/1715162400/" + "s" * 43 + "/reports/" + "x/" * 600 + "report.html"
    link = ReportLink(url=url, expires=STARTED + timedelta(days=7))
    lines = build_notification(summary(), LOCATION, report_link=link).message.splitlines()
    assert lines[lines.index("HTML report (this link works until 2024-05-08T10:00:00Z):") + 1] == "  " + url


def test_the_notice_states_each_links_real_expiry_and_the_console_link() -> None:
    link = ReportLink(
        url="https://v.example/r/1/sig/report.html",
        overview_url="https://v.example/o/1/sig/reports/p/overview.html",
        console_url="https://eu-west-1.console.aws.amazon.com/s3/buckets/b?prefix=reports%2Fp%2F",
        expires=STARTED + timedelta(days=30),
    )
    message = build_notification(summary(), LOCATION, report_link=link).message
    assert (
        "HTML report (this link works until 2024-05-31T10:00:00Z):\n  https://v.example/r/1/sig/" in message
    )
    assert (
        "Overview of every subscriber (this link works until 2024-05-31T10:00:00Z):\n  https://v.example/o/"
        in (message)
    )
    assert "S3 console (with your AWS login):\n  https://eu-west-1.console.aws.amazon.com/" in message
    assert "valid until" not in message and "pre-signed" not in message


def test_expired_rules_and_a_broken_rules_file_are_called_out() -> None:
    expired = [
        ExpiredRule(index=i, rule="KEYWORD * *", expires="2024-01-01", comment="old") for i in range(12)
    ]
    s = summary(ignore_rules=IgnoreSummary(expired=expired, error="invalid ignore rules (1 problems)"))
    message = build_notification(s, LOCATION).message
    assert "Ignore rules NOT applied (the rules file is invalid):" in message
    assert "Expired ignore rules (no longer applied; renew or remove them): 12" in message
    assert "  rule 0: KEYWORD * *, expired 2024-01-01 - old" in message
    assert "  ... and 2 more (see summary.json)" in message


def test_a_million_record_report_still_makes_a_small_notice() -> None:
    long_id = "x" * 5000 + "{}"
    s = summary(
        counts={"MEDIA_ITEM": {"CREATE": 1_000_000}},
        total=1_000_000,
        changes=changed(new=600_000, resolved=400_000),
    )
    link = ReportLink(url="https://b.s3.amazonaws.com/r.html?" + "q" * 2000, expires=STARTED)
    message = build_notification(
        s, LOCATION, diff=diff_of(600_000, 400_000, long_id), report_link=link
    ).message
    assert len(message.encode("utf-8")) < 16 * 1024


# -- remediation (the verifying check's notice) ------------------------------------------------------------

RESYNC_STARTED = STARTED + timedelta(minutes=3)


def remediation(**overrides: Any) -> RemediationRecord:
    fields: dict[str, Any] = {
        "mode": RemediateMode.AUTO,
        "verdict": RemediationVerdict.VERIFIED_IN_SYNC,
        "initial_summary_key": "reports/dx.example.com/sub-1/2024/05/01/exec-1/summary.json",
        "initial_total": 12,
        "initial_effective_total": 9,
        "remaining_total": 0,
        "resync_started_at": RESYNC_STARTED,
        "operations": OperationTally(succeeded=3),
    }
    fields.update(overrides)
    return RemediationRecord(**fields)


def verified(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "status": CheckStatus.IN_SYNC,
        "counts": {},
        "total": 0,
        "execution": "exec-1-verify",
        "remediation": remediation(),
    }
    return summary(**{**fields, **overrides})


def still_drifting(**overrides: Any) -> Summary:
    record = remediation(
        verdict=RemediationVerdict.STILL_DRIFTING,
        remaining_total=4,
        operations=OperationTally(succeeded=2, failed=1, failed_functions=["syncStagingRenditionContent"]),
    )
    return summary(
        counts={"RENDITION": {"CREATE": 4}},
        total=4,
        execution="exec-1-verify",
        remediation=record,
        **overrides,
    )


def test_a_verified_remediation_is_tagged_verified_in_sync() -> None:
    assert build_notification(verified(), LOCATION).subject == (
        "[VERIFIED IN SYNC] dx.example.com -> sub-host.example.com: no mismatches"
    )


def test_a_remediation_that_left_drift_is_tagged_still_drifting_with_what_remains() -> None:
    assert build_notification(still_drifting(), LOCATION).subject == (
        "[STILL DRIFTING] dx.example.com -> sub-host.example.com: 4 mismatches"
    )


def test_a_remediation_that_failed_keeps_the_errored_tag_and_names_the_error() -> None:
    record = remediation(verdict=None, remaining_total=None, error="ResyncFailed: RESYNC_TRIGGER_FAILED")
    s = errored(ErrorInfo(type="ResyncFailed", message="RESYNC_TRIGGER_FAILED"), remediation=record)
    assert build_notification(s, LOCATION).subject == (
        "[ERRORED] dx.example.com -> sub-host.example.com: ResyncFailed"
    )


@pytest.mark.parametrize("make", [verified, still_drifting])
def test_a_verdict_subject_still_fits_in_100_chars_and_keeps_the_news(make: Any) -> None:
    subject = build_notification(make(publisher=LONG, target_host=LONG), LOCATION).subject
    assert len(subject) <= SUBJECT_MAX
    assert subject.startswith(("[VERIFIED IN SYNC] ", "[STILL DRIFTING] "))
    assert subject.endswith((": no mismatches", ": 4 mismatches"))


def test_the_remediation_attribute_carries_the_verdict_or_failed() -> None:
    failed = errored(
        ErrorInfo(type="ResyncTimedOut", message="m"),
        remediation=remediation(verdict=None, remaining_total=None, error="ResyncTimedOut: m"),
    )
    assert build_notification(verified(), LOCATION).attributes["remediation"] == "VERIFIED_IN_SYNC"
    assert build_notification(still_drifting(), LOCATION).attributes["remediation"] == "STILL_DRIFTING"
    assert build_notification(failed, LOCATION).attributes["remediation"] == "FAILED"
    assert build_notification(verified(), LOCATION).sns_message_attributes()["remediation"] == {
        "DataType": "String",
        "StringValue": "VERIFIED_IN_SYNC",
    }


def test_a_check_without_a_remediation_has_no_remediation_attribute_or_lines() -> None:
    notification = build_notification(summary(), LOCATION)
    assert "remediation" not in notification.attributes
    assert "Remediation" not in notification.message


def test_the_remediation_lines_say_what_the_resync_did() -> None:
    lines = build_notification(verified(), LOCATION).message.splitlines()
    start = lines.index("Remediation:    VERIFIED_IN_SYNC (remediate: auto)")
    assert lines[start - 1] == ""
    assert lines[start + 1 : start + 4] == [
        "Before resync:  9 mismatches not ignored",
        "After resync:   0 mismatches not ignored",
        "Resync started: 2024-05-01T10:03:00Z",
    ]
    assert "Report before:  reports/dx.example.com/sub-1/2024/05/01/exec-1/summary.json" in lines
    assert "Approved by" not in "\n".join(lines), "auto: nobody approved"


def test_the_remediation_lines_name_who_approved_and_which_operations_failed() -> None:
    record = remediation(
        mode=RemediateMode.ASK,
        verdict=RemediationVerdict.STILL_DRIFTING,
        remaining_total=4,
        approved_by="alice@example.com",
        operations=OperationTally(
            succeeded=2, failed=6, failed_functions=[f"syncStaging{i}Content" for i in range(6)]
        ),
    )
    s = summary(counts={"RENDITION": {"CREATE": 4}}, total=4, remediation=record)
    message = build_notification(s, LOCATION).message
    assert "Remediation:    STILL_DRIFTING (remediate: ask)" in message.splitlines()
    assert "Approved by:    alice@example.com" in message.splitlines()
    assert "After resync:   4 mismatches not ignored" in message.splitlines()
    assert "2 succeeded, 6 failed (syncStaging0Content, syncStaging1Content, syncStaging2Content, " in message
    assert "syncStaging4Content)" in message and "syncStaging5Content" not in message, "at most five named"


def test_a_failed_remediation_shows_no_after_count() -> None:
    record = remediation(verdict=None, remaining_total=None, operations=None, error="ResyncFailed: x")
    message = build_notification(
        errored(ErrorInfo(type="ResyncFailed", message="x"), remediation=record), "x"
    )
    lines = message.message.splitlines()
    assert "Remediation:    FAILED (remediate: auto)" in lines
    assert "Before resync:  9 mismatches not ignored" in lines
    assert not any(line.startswith(("After resync", "Sync operations")) for line in lines)


def test_remediation_values_cannot_break_the_layout() -> None:
    record = remediation(approved_by="alice\nStatus: IN_SYNC\x1b[2J", initial_summary_key="k\r\nEvil: 1")
    lines = build_notification(verified(remediation=record), LOCATION).message.splitlines()
    assert "Approved by:    alice Status: IN_SYNC[2J" in lines
    assert "Report before:  k Evil: 1" in lines
    assert "Status: IN_SYNC" not in lines and "Evil: 1" not in lines


def test_the_sync_operations_line_separates_its_label_from_the_value() -> None:
    lines = build_notification(verified(), LOCATION).message.splitlines()
    assert "Sync operations: 3 succeeded, 0 failed" in lines
