"""latest.json (latest_pointer): it only moves forward, keeps the last good check, and is written
conditionally."""

import json
from datetime import timedelta
from typing import Any

import pytest

from damdrift.errors import ReportStorageError
from damdrift.latest_pointer import LatestPointer, put_latest
from damdrift.models.summary import CheckStatus
from damdrift.report_history import get_latest
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET
from tests.report_samples import PREFIX, STARTED, drift_summary

BUCKET = REPORT_BUCKET


def test_latest_pointer_round_trip(store: ReportStore) -> None:
    assert get_latest(store, "dx.example.com", "sub-1") is None
    summary = drift_summary()
    key = put_latest(store, "dx.example.com", "sub-1", PREFIX + "summary.json", summary)
    assert key == "reports/dx.example.com/sub-1/latest.json"
    pointer = {
        "summaryKey": PREFIX + "summary.json",
        "status": "DRIFT",
        "total": 3,
        "execution": "exec-1",
        "startedAt": "2024-05-01T23:30:00Z",
        "finishedAt": "2024-05-01T23:35:00Z",
    }
    assert store.get_document(key) == {**pointer, "lastGood": pointer}
    assert get_latest(store, "dx.example.com", "sub-1") == LatestPointer.model_validate(
        {**pointer, "lastGood": pointer}
    )


def test_the_pointer_is_stored_as_these_bytes(store: ReportStore) -> None:
    errored = drift_summary(
        status=CheckStatus.ERRORED,
        counts={},
        total=0,
        execution="exec-2",
        error={"type": "X", "message": "m"},
    )
    put_latest(store, "dx.example.com", "sub-1", PREFIX + "summary.json", drift_summary())
    good = get_latest(store, "dx.example.com", "sub-1")
    assert good is not None

    key = put_latest(
        store, "dx.example.com", "sub-1", "reports/x/summary.json", errored, last_good=good.last_good
    )

    assert store.get_bytes(key) == (
        b"{\n"
        b'  "summaryKey": "reports/x/summary.json",\n'
        b'  "status": "ERRORED",\n'
        b'  "total": 0,\n'
        b'  "execution": "exec-2",\n'
        b'  "startedAt": "2024-05-01T23:30:00Z",\n'
        b'  "finishedAt": "2024-05-01T23:35:00Z",\n'
        b'  "lastGood": {\n'
        b'    "summaryKey": "reports/dx.example.com/sub-1/2024/05/01/exec-1/summary.json",\n'
        b'    "status": "DRIFT",\n'
        b'    "total": 3,\n'
        b'    "execution": "exec-1",\n'
        b'    "startedAt": "2024-05-01T23:30:00Z",\n'
        b'    "finishedAt": "2024-05-01T23:35:00Z"\n'
        b"  }\n"
        b"}"
    )


def test_a_check_without_times_and_before_any_good_one_is_stored_with_nulls(store: ReportStore) -> None:
    errored = drift_summary(
        status=CheckStatus.ERRORED,
        counts={},
        total=0,
        started_at=None,
        finished_at=None,
        error={"type": "X", "message": "m"},
    )
    key = put_latest(store, "p", "s", "reports/p/s/summary.json", errored)
    assert json.loads(store.get_bytes(key) or b"") == {
        "summaryKey": "reports/p/s/summary.json",
        "status": "ERRORED",
        "total": 0,
        "execution": "exec-1",
        "startedAt": None,
        "finishedAt": None,
        "lastGood": None,
    }


#: latest.json as the first versions wrote it: no lastGood, then no startedAt.
WITHOUT_LAST_GOOD = {
    "summaryKey": "reports/p/s/2024/05/01/one/summary.json",
    "status": "DRIFT",
    "total": 3,
    "execution": "one",
    "finishedAt": "2024-05-01T23:35:00Z",
}
WITHOUT_STARTED_AT = {**WITHOUT_LAST_GOOD, "lastGood": WITHOUT_LAST_GOOD}


@pytest.mark.parametrize(
    "older", [WITHOUT_LAST_GOOD, WITHOUT_STARTED_AT], ids=["without-lastGood", "without-startedAt"]
)
def test_an_older_pointer_is_read_and_its_last_good_carried_over_as_it_was_written(
    store: ReportStore, older: dict[str, Any]
) -> None:
    key = "reports/p/s/latest.json"
    store.put_document(key, older, check_prefix="reports/p/s/")
    latest = get_latest(store, "p", "s")
    assert latest is not None and latest.last_good is not None
    assert (latest.last_good.summary_key, latest.last_good.started_at) == (older["summaryKey"], None)
    errored = drift_summary(
        status=CheckStatus.ERRORED, counts={}, total=0, execution="two", error={"type": "X", "message": "m"}
    )

    two = "reports/p/s/2024/05/02/two/summary.json"
    put_latest(store, "p", "s", two, errored, last_good=latest.last_good)

    stored = (store.get_bytes(key) or b"").decode()
    assert json.loads(stored)["execution"] == "two"  # a pointer without startedAt counts as older
    assert json.dumps(WITHOUT_LAST_GOOD, indent=2).replace("\n", "\n  ") in stored


def test_an_older_pointer_to_an_errored_check_has_no_last_good(store: ReportStore) -> None:
    errored = {**WITHOUT_LAST_GOOD, "status": "ERRORED", "total": 0}
    store.put_document("reports/p/s/latest.json", errored, check_prefix="reports/p/s/")
    latest = get_latest(store, "p", "s")
    assert latest is not None and latest.execution == "one" and latest.last_good is None


def test_a_latest_json_that_is_no_pointer_is_a_storage_error(store: ReportStore) -> None:
    store.put_document("reports/p/s/latest.json", {"lastGood": "x"}, check_prefix="reports/p/s/")
    with pytest.raises(ReportStorageError, match=r"latest\.json is not a dam-drift latest pointer"):
        get_latest(store, "p", "s")


def test_a_newer_check_moves_the_latest_pointer(store: ReportStore) -> None:
    put_latest(store, "p", "s", "reports/p/s/2024/05/01/one/summary.json", drift_summary())
    in_sync = drift_summary(status=CheckStatus.IN_SYNC, counts={}, total=0, execution="two")
    put_latest(store, "p", "s", "reports/p/s/2024/05/02/two/summary.json", in_sync)
    latest = get_latest(store, "p", "s")
    assert latest is not None
    assert (latest.status, latest.execution, latest.total) == ("IN_SYNC", "two", 0)


def test_reading_latest_from_a_missing_bucket_is_a_storage_error(s3: Any) -> None:
    with pytest.raises(ReportStorageError, match=r"reading .*NoSuchBucket"):
        get_latest(ReportStore(s3, "no-such-bucket"), "p", "s")


def test_an_errored_check_moves_latest_but_keeps_the_last_good_pointer(store: ReportStore) -> None:
    good_key = "reports/p/s/2024/05/01/one/summary.json"
    put_latest(store, "p", "s", good_key, drift_summary())
    good = get_latest(store, "p", "s")
    assert good is not None and good.last_good is not None and good.last_good.summary_key == good_key
    errored = drift_summary(
        status=CheckStatus.ERRORED, counts={}, total=0, execution="two", error={"type": "X", "message": "m"}
    )

    put_latest(store, "p", "s", "reports/p/s/2024/05/02/two/summary.json", errored, last_good=good.last_good)

    latest = get_latest(store, "p", "s")
    assert latest is not None
    assert (latest.status, latest.execution) == ("ERRORED", "two")
    assert latest.last_good == good.last_good


def test_a_check_that_started_earlier_but_finished_later_does_not_move_the_pointer_back(
    store: ReportStore,
) -> None:
    newer = drift_summary(execution="newer", started_at=STARTED + timedelta(hours=1))
    put_latest(store, "p", "s", "reports/p/s/2024/05/02/newer/summary.json", newer)
    older = drift_summary(execution="older", finished_at=STARTED + timedelta(hours=2))

    put_latest(store, "p", "s", "reports/p/s/2024/05/01/older/summary.json", older)

    latest = get_latest(store, "p", "s")
    assert latest is not None and latest.execution == "newer"


def test_a_verifying_check_of_the_same_execution_moves_the_pointer_forward(store: ReportStore) -> None:
    put_latest(store, "p", "s", "reports/p/s/2024/05/01/exec-1/summary.json", drift_summary())
    verify = drift_summary(
        execution="exec-1-verify",
        status=CheckStatus.IN_SYNC,
        counts={},
        total=0,
        finished_at=STARTED + timedelta(minutes=20),
    )

    put_latest(store, "p", "s", "reports/p/s/2024/05/01/exec-1-verify/summary.json", verify)

    latest = get_latest(store, "p", "s")
    assert latest is not None and (latest.execution, latest.status) == ("exec-1-verify", "IN_SYNC")


def test_the_pointer_is_written_conditionally_and_a_lost_race_is_retried(
    s3: Any, store: ReportStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_latest(store, "p", "s", "reports/p/s/2024/05/01/one/summary.json", drift_summary(execution="one"))
    conditions: list[dict[str, Any]] = []
    real_put = s3.put_object

    def racing_put(**kwargs: Any) -> Any:
        if kwargs["Key"].endswith("latest.json"):
            conditions.append({k: v for k, v in kwargs.items() if k.startswith("If")})
            if len(conditions) == 1:  # another execution writes between our read and our write
                real_put(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"{}")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", racing_put)
    later = drift_summary(execution="two", started_at=STARTED + timedelta(days=1))

    put_latest(store, "p", "s", "reports/p/s/2024/05/02/two/summary.json", later)

    assert len(conditions) == 2 and all("IfMatch" in c for c in conditions)
    assert conditions[0]["IfMatch"] != conditions[1]["IfMatch"]
    latest = get_latest(store, "p", "s")
    assert latest is not None and latest.execution == "two"


def test_a_pointer_a_later_version_wrote_with_a_field_this_one_does_not_know_is_read(
    store: ReportStore,
) -> None:
    # After a rollback the stack reads pointers a later version wrote: an unknown field is no reason to
    # lose lastGood (the check the next run compares with).
    put_latest(store, "p", "s", "reports/p/s/2024/05/01/one/summary.json", drift_summary())
    key = "reports/p/s/latest.json"
    written = store.get_document(key)
    assert written is not None
    store.put_document(key, {**written, "addedLater": 1}, check_prefix="reports/p/s/")

    latest = get_latest(store, "p", "s")

    assert latest is not None and latest.last_good is not None
    assert latest.last_good.summary_key == "reports/p/s/2024/05/01/one/summary.json"
