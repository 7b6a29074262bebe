"""The run's notices (damdrift.fleet): at most one drift and one ops notice per run at any fleet size,
each naming every subscriber that needs attention, within SNS's limits."""

from datetime import UTC, datetime, timedelta

from damdrift.fleet.digest import MESSAGE_MAX_BYTES, RunLinks, run_notices
from damdrift.fleet.records import NoticeTopic, RunRecord, SubscriberNotice
from damdrift.fleet.run import summarise
from damdrift.models.summary import CheckStatus
from damdrift.report.rendering.overview import OverviewRow
from damdrift.state import SubscriberResult

T0 = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
PUBLISHER = "dx.example.com"


def record(
    subscriber_id: str, status: CheckStatus, *, new: int | None = 0, attention: bool = True
) -> RunRecord:
    return RunRecord(
        subscriber_id=subscriber_id,
        row=OverviewRow(
            subscriber_id=subscriber_id,
            target_host=f"{subscriber_id}.example.com",
            status=status,
            mismatches=0 if status is CheckStatus.IN_SYNC else 10 + (new or 0),
            new=new,
            resolved=None if new is None else 1,
            error_type="FindMismatchFailed" if status is CheckStatus.ERRORED else None,
            execution="run-1",
            report=f"{subscriber_id}/2026/12/05/run-1/report.html",
        ),
        attention=attention,
        notice=SubscriberNotice(
            topic=NoticeTopic.OPS if status is CheckStatus.ERRORED else NoticeTopic.DRIFT,
            subject=f"[{status}] {PUBLISHER} -> {subscriber_id}",
            message=f"the detailed notice of {subscriber_id}",
            attributes={"status": str(status), "subscriberId": subscriber_id, "publisher": PUBLISHER},
        ),
    )


def fleet(statuses: dict[CheckStatus, int]) -> tuple[list[SubscriberResult], dict[str, RunRecord]]:
    results, records = [], {}
    for status, count in statuses.items():
        for i in range(count):
            sid = f"{status.lower().replace('_', '-')}-{i:04d}"
            results.append(SubscriberResult(subscriber_id=sid, status=status))
            new = {CheckStatus.DRIFT: i % 5, CheckStatus.IN_SYNC: 0}.get(status)
            records[sid] = record(sid, status, new=new, attention=status is not CheckStatus.IN_SYNC)
    return results, records


def test_a_100_subscriber_run_sends_one_drift_and_one_ops_notice_naming_everyone_needing_attention() -> None:
    results, records = fleet({CheckStatus.IN_SYNC: 80, CheckStatus.DRIFT: 17, CheckStatus.ERRORED: 3})
    run = summarise("run-1", PUBLISHER, T0, results, records, T0 + timedelta(minutes=9))
    links = RunLinks(overview="https://viewer.example/o/1/sig/reports/dx.example.com/overview.html")

    notices = run_notices(run, records, links)

    assert [n.topic for n in notices] == [NoticeTopic.DRIFT, NoticeTopic.OPS]
    drift, ops = notices
    assert drift.subject == "[DRIFT] dx.example.com: 17 drift (+31 new), 3 errored, 80 in sync"
    assert ops.subject.startswith("[ERRORED] dx.example.com: 3 errored")
    assert all(len(n.subject) < 100 for n in notices)
    assert all(f"drift-{i:04d}.example.com" in drift.message for i in range(17))
    assert "in-sync-" not in drift.message and "errored-" not in drift.message
    assert all(
        f"errored-{i:04d}.example.com" in ops.message and "FindMismatchFailed" in ops.message
        for i in range(3)
    )
    assert links.overview and links.overview in drift.message and links.overview in ops.message
    assert drift.attributes == {
        "status": "DRIFT",
        "kind": "run",
        "publisher": PUBLISHER,
        "execution": "run-1",
    }
    assert (drift.subscribers, ops.subscribers) == (17, 3)


def test_a_fleet_too_large_for_one_message_lists_the_worst_and_counts_the_rest() -> None:
    results, records = fleet({CheckStatus.DRIFT: 5000})
    run = summarise("run-1", PUBLISHER, T0, results, records, T0)
    long_link = "https://viewer.example/r/1/" + "s" * 400
    links = RunLinks(overview="https://viewer.example/o", reports={sid: long_link for sid in records})

    (notice,) = run_notices(run, records, links)

    assert len(notice.message.encode("utf-8")) <= MESSAGE_MAX_BYTES < 256 * 1024
    assert "more: every one is on the overview." in notice.message
    assert "drift-0004.example.com" in notice.message  # most new first (i % 5 == 4)
    assert len(notice.chat.encode("utf-8")) < 256 * 1024


def test_one_subscriber_to_tell_gets_its_own_detailed_notice() -> None:
    results, records = fleet({CheckStatus.IN_SYNC: 40, CheckStatus.DRIFT: 1})
    run = summarise("run-1", PUBLISHER, T0, results, records, T0)

    (notice,) = run_notices(run, records, RunLinks())

    assert notice.message == "the detailed notice of drift-0000"
    assert notice.attributes["subscriberId"] == "drift-0000"


def test_subscribers_notified_separately_or_not_needing_attention_are_left_out() -> None:
    results, records = fleet({CheckStatus.DRIFT: 3})
    records["drift-0000"] = records["drift-0000"].model_copy(update={"notified_separately": True})
    records["drift-0001"] = records["drift-0001"].model_copy(update={"attention": False})
    run = summarise("run-1", PUBLISHER, T0, results, records, T0)

    assert [e.subscriber_id for e in run.needing_notice(NoticeTopic.DRIFT)] == ["drift-0002"]


def test_a_subscriber_whose_check_failed_as_a_whole_is_in_the_ops_notice_from_the_maps_result() -> None:
    results, records = fleet({CheckStatus.DRIFT: 2})
    results.append(
        SubscriberResult(subscriber_id="lost", status=CheckStatus.ERRORED, error="States.TaskFailed")
    )
    run = summarise("run-1", PUBLISHER, T0, results, records, T0)

    notices = run_notices(run, records, RunLinks())

    ops = next(n for n in notices if n.topic is NoticeTopic.OPS)
    assert "lost" in ops.message and "States.TaskFailed" in ops.message
    assert run.by_status == {"DRIFT": 2, "ERRORED": 1, "IN_SYNC": 0}


def test_a_publisher_name_too_long_for_the_subject_gives_way_to_the_counts() -> None:
    results, records = fleet({CheckStatus.DRIFT: 2})
    run = summarise("run-1", "p" * 190, T0, results, records, T0)

    (notice,) = run_notices(run, records, RunLinks())

    assert len(notice.subject) < 100 and notice.subject.endswith(": 2 drift (+1 new), 0 errored, 0 in sync")


def test_a_run_whose_listed_subscribers_are_all_in_sync_is_tagged_and_filtered_as_in_sync() -> None:
    """notifyPolicy always/on-change lists IN_SYNC checks: the subject and the status attribute that
    subscriptions filter on must not say DRIFT when nothing drifts."""
    results, records = fleet({CheckStatus.IN_SYNC: 3})
    for rec in records.values():
        rec.attention = True  # as notifyPolicy always has it
    run = summarise("run-1", PUBLISHER, T0, results, records, T0 + timedelta(minutes=1))

    [notice] = run_notices(run, records, RunLinks())

    assert notice.subject == "[IN SYNC] dx.example.com: 0 drift, 0 errored, 3 in sync"
    assert notice.attributes["status"] == "IN_SYNC"


def test_a_run_notice_leaves_out_new_and_resolved_that_count_nothing() -> None:
    """Effective figures (ignore rules applied): a listed subscriber with nothing new or resolved does not
    read "+0 new, -0 resolved" in the e-mail, nor "+0 new" in chat."""
    results, records = fleet({CheckStatus.DRIFT: 2})
    records["drift-0000"] = record("drift-0000", CheckStatus.DRIFT, new=3)
    quiet = record("drift-0001", CheckStatus.DRIFT, new=0)
    records["drift-0001"] = quiet.model_copy(update={"row": quiet.row.model_copy(update={"resolved": 0})})
    run = summarise("run-1", PUBLISHER, T0, results, records, T0)

    (notice,) = run_notices(run, records, RunLinks())

    lines = notice.message.splitlines()
    assert "- DRIFT    drift-0000.example.com (drift-0000): 13 mismatches, +3 new, -1 resolved" in lines
    assert "- DRIFT    drift-0001.example.com (drift-0001): 10 mismatches" in lines
    assert "+0 new" not in notice.message and "-0 resolved" not in notice.message
    assert "+0 new" not in notice.chat and "+3 new" in notice.chat
