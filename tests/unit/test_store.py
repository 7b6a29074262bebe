"""ReportStore against moto's S3: key layout, content types, multipart, latest pointer, failures."""

import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.stub import Stubber

from damdrift.errors import ReportStorageError, StorageAccessDenied
from damdrift.report.summary import CheckStatus, Summary
from damdrift.report.writer import ReportFiles, ReportWriter
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET, s3_with_report_bucket

BUCKET = REPORT_BUCKET
STARTED = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
PREFIX = "reports/dx.example.com/sub-1/2024/05/01/exec-1/"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from s3_with_report_bucket(monkeypatch)


@pytest.fixture
def store(s3: Any) -> ReportStore:
    return ReportStore(s3, BUCKET)


def report_files(tmp_path: Path, n: int = 3) -> ReportFiles:
    with ReportWriter(tmp_path) as writer:
        writer.add_many(
            {"id": str(i), "subscriberId": "sub-1", "recordType": "COLLECTION", "recordAction": "CREATE"}
            for i in range(n)
        )
    return writer.result


def drift_summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "publisher": "dx.example.com",
        "subscriber_id": "sub-1",
        "status": CheckStatus.DRIFT,
        "counts": {"COLLECTION": {"CREATE": 3}},
        "total": 3,
        "execution": "exec-1",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(minutes=5),
        "report_prefix": PREFIX,
    }
    fields.update(overrides)
    return Summary(**fields)


def test_report_files_are_stored_byte_for_byte_with_their_content_types(
    s3: Any, store: ReportStore, tmp_path: Path
) -> None:
    files = report_files(tmp_path)
    keys = store.upload_report_files(PREFIX, files)
    assert keys == {"records": PREFIX + "records.jsonl.gz", "csv": PREFIX + "report.csv"}

    records = s3.get_object(Bucket=BUCKET, Key=keys["records"])
    assert records["ContentType"] == "application/gzip"
    assert "ContentEncoding" not in records  # the object is the .gz file, not text served compressed
    body = records["Body"].read()
    assert body == files.records_path.read_bytes()
    assert [json.loads(line)["id"] for line in gzip.decompress(body).splitlines()] == ["0", "1", "2"]

    csv_object = s3.get_object(Bucket=BUCKET, Key=keys["csv"])
    assert csv_object["ContentType"] == "text/csv; charset=utf-8"
    assert csv_object["Body"].read() == files.csv_path.read_bytes()


def test_a_file_over_the_threshold_goes_multipart_and_comes_back_identical(
    s3: Any, store: ReportStore, tmp_path: Path
) -> None:
    small = report_files(tmp_path)
    big = tmp_path / "big.jsonl.gz"
    content = os.urandom(9 * 1024 * 1024 + 123)
    big.write_bytes(content)
    files = ReportFiles(big, small.csv_path, {}, 0, len(content), small.csv_bytes)
    eight_mib = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)

    keys = ReportStore(s3, BUCKET, transfer_config=eight_mib).upload_report_files(PREFIX, files)

    head = s3.head_object(Bucket=BUCKET, Key=keys["records"])
    assert head["ETag"].strip('"').endswith("-2")  # S3's ETag of a 2-part multipart upload
    assert head["ContentType"] == "application/gzip"
    assert s3.get_object(Bucket=BUCKET, Key=keys["records"])["Body"].read() == content

    # A report part's size (tens of MB) is one streamed PUT with the default configuration.
    keys = store.upload_report_files(PREFIX, files)
    assert "-" not in s3.head_object(Bucket=BUCKET, Key=keys["records"])["ETag"]
    assert s3.get_object(Bucket=BUCKET, Key=keys["records"])["Body"].read() == content


def test_summary_round_trips_as_camel_case_json(s3: Any, store: ReportStore) -> None:
    summary = drift_summary()
    key = store.put_summary(PREFIX, summary)
    assert key == PREFIX + "summary.json"
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "application/json"
    document = json.loads(stored["Body"].read())
    assert document["subscriberId"] == "sub-1" and document["schemaVersion"] == 1
    assert store.get_summary(key) == summary


def test_latest_pointer_round_trip(store: ReportStore) -> None:
    assert store.get_latest("dx.example.com", "sub-1") is None
    summary = drift_summary()
    key = store.put_latest("dx.example.com", "sub-1", PREFIX + "summary.json", summary)
    assert key == "reports/dx.example.com/sub-1/latest.json"
    pointer = {
        "summaryKey": PREFIX + "summary.json",
        "status": "DRIFT",
        "total": 3,
        "execution": "exec-1",
        "startedAt": "2024-05-01T23:30:00Z",
        "finishedAt": "2024-05-01T23:35:00Z",
    }
    assert store.get_latest("dx.example.com", "sub-1") == {**pointer, "lastGood": pointer}


def test_a_newer_check_moves_the_latest_pointer(store: ReportStore) -> None:
    store.put_latest("p", "s", "reports/p/s/2024/05/01/one/summary.json", drift_summary())
    in_sync = drift_summary(status=CheckStatus.IN_SYNC, counts={}, total=0, execution="two")
    store.put_latest("p", "s", "reports/p/s/2024/05/02/two/summary.json", in_sync)
    latest = store.get_latest("p", "s")
    assert latest is not None
    assert (latest["status"], latest["execution"], latest["total"]) == ("IN_SYNC", "two", 0)


def test_a_failing_s3_raises_report_storage_error_listing_what_is_already_stored(
    s3: Any, store: ReportStore, tmp_path: Path
) -> None:
    stored = store.upload_report_files(PREFIX, report_files(tmp_path))
    for key in stored.values():  # the bucket goes away between two steps
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)

    with pytest.raises(ReportStorageError) as caught:
        store.put_summary(PREFIX, drift_summary())
    message = str(caught.value)
    assert f"storing s3://{BUCKET}/{PREFIX}summary.json failed (NoSuchBucket" in message
    assert f"s3://{BUCKET}/{PREFIX}records.jsonl.gz" in message
    assert f"s3://{BUCKET}/{PREFIX}report.csv" in message
    assert caught.value.__cause__ is not None


def test_an_upload_to_a_missing_bucket_says_nothing_was_stored(s3: Any, tmp_path: Path) -> None:
    store = ReportStore(s3, "no-such-bucket")
    with pytest.raises(ReportStorageError, match=r"records\.jsonl\.gz failed .*NoSuchBucket.*: nothing$"):
        store.upload_report_files(PREFIX, report_files(tmp_path))


def test_stored_keys_of_other_checks_are_not_listed(s3: Any, store: ReportStore, tmp_path: Path) -> None:
    other = "reports/dx.example.com/sub-2/2024/05/01/exec-1/"
    store.upload_report_files(other, report_files(tmp_path / "a"))
    store.upload_report_files(PREFIX, report_files(tmp_path / "b"))
    broken = ReportStore(s3, "no-such-bucket")
    broken._recent.extend(store._recent)  # as if the same store had stored them
    with pytest.raises(ReportStorageError) as caught:
        broken.put_summary(PREFIX, drift_summary())
    assert "sub-1" in str(caught.value) and "sub-2" not in str(caught.value)


def test_a_missing_summary_is_a_storage_error(store: ReportStore) -> None:
    with pytest.raises(ReportStorageError, match="no summary at"):
        store.get_summary(PREFIX + "summary.json")


def test_an_object_that_is_not_a_summary_is_a_storage_error(s3: Any, store: ReportStore) -> None:
    s3.put_object(Bucket=BUCKET, Key="x.json", Body=b'{"hello": "world"}')
    with pytest.raises(ReportStorageError, match="is not a dam-drift summary"):
        store.get_summary("x.json")


def test_reading_latest_from_a_missing_bucket_is_a_storage_error(s3: Any) -> None:
    with pytest.raises(ReportStorageError, match=r"reading .*NoSuchBucket"):
        ReportStore(s3, "no-such-bucket").get_latest("p", "s")


def test_the_newest_summaries_are_found_walking_back_through_months_and_years(
    s3: Any, store: ReportStore
) -> None:
    stored = []
    for day, execution in [
        ("2023/12/31", "a"),
        ("2024/01/02", "b"),
        ("2024/02/10", "c"),
        ("2024/02/10", "d"),
    ]:
        key = f"reports/p/s/{day}/{execution}/summary.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
        s3.put_object(Bucket=BUCKET, Key=key.replace("summary.json", "report.csv"), Body=b"")
        stored.append(key)
    s3.put_object(Bucket=BUCKET, Key="reports/p/s/latest.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="reports/p/other/2024/03/01/x/summary.json", Body=b"{}")

    assert store.newest_summary_keys("p", "s", 3) == [stored[3], stored[2], stored[1]]
    assert store.newest_summary_keys("p", "s", 10) == stored[::-1]
    assert store.newest_summary_keys("p", "nobody", 10) == []


def test_an_errored_check_moves_latest_but_keeps_the_last_good_pointer(store: ReportStore) -> None:
    good_key = "reports/p/s/2024/05/01/one/summary.json"
    store.put_latest("p", "s", good_key, drift_summary())
    good = store.get_latest("p", "s")
    assert good is not None and good["lastGood"]["summaryKey"] == good_key
    errored = drift_summary(
        status=CheckStatus.ERRORED, counts={}, total=0, execution="two", error={"type": "X", "message": "m"}
    )

    store.put_latest("p", "s", "reports/p/s/2024/05/02/two/summary.json", errored, last_good=good["lastGood"])

    latest = store.get_latest("p", "s")
    assert latest is not None
    assert (latest["status"], latest["execution"]) == ("ERRORED", "two")
    assert latest["lastGood"] == good["lastGood"]


def test_download_streams_an_object_to_a_file_and_says_when_there_is_none(
    store: ReportStore, tmp_path: Path
) -> None:
    store.put_bytes("reports/x/keys.bin", b"\x00\x01" * 1000, "application/octet-stream", check_prefix="x")

    assert store.download("reports/x/keys.bin", tmp_path / "got.bin")
    assert (tmp_path / "got.bin").read_bytes() == b"\x00\x01" * 1000
    assert not store.download("reports/x/missing.bin", tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


def test_a_check_that_started_earlier_but_finished_later_does_not_move_the_pointer_back(
    store: ReportStore,
) -> None:
    newer = drift_summary(execution="newer", started_at=STARTED + timedelta(hours=1))
    store.put_latest("p", "s", "reports/p/s/2024/05/02/newer/summary.json", newer)
    older = drift_summary(execution="older", finished_at=STARTED + timedelta(hours=2))

    store.put_latest("p", "s", "reports/p/s/2024/05/01/older/summary.json", older)

    latest = store.get_latest("p", "s")
    assert latest is not None and latest["execution"] == "newer"


def test_a_verifying_check_of_the_same_execution_moves_the_pointer_forward(store: ReportStore) -> None:
    store.put_latest("p", "s", "reports/p/s/2024/05/01/exec-1/summary.json", drift_summary())
    verify = drift_summary(
        execution="exec-1-verify",
        status=CheckStatus.IN_SYNC,
        counts={},
        total=0,
        finished_at=STARTED + timedelta(minutes=20),
    )

    store.put_latest("p", "s", "reports/p/s/2024/05/01/exec-1-verify/summary.json", verify)

    latest = store.get_latest("p", "s")
    assert latest is not None and (latest["execution"], latest["status"]) == ("exec-1-verify", "IN_SYNC")


def test_the_pointer_is_written_conditionally_and_a_lost_race_is_retried(
    s3: Any, store: ReportStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_latest("p", "s", "reports/p/s/2024/05/01/one/summary.json", drift_summary(execution="one"))
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

    store.put_latest("p", "s", "reports/p/s/2024/05/02/two/summary.json", later)

    assert len(conditions) == 2 and all("IfMatch" in c for c in conditions)
    assert conditions[0]["IfMatch"] != conditions[1]["IfMatch"]
    latest = store.get_latest("p", "s")
    assert latest is not None and latest["execution"] == "two"


# -- a missing object read without s3:ListBucket: S3 answers 403, never to be taken for "absent" -----------


def refused_reads(s3: Any, times: int = 1) -> Stubber:
    """S3's answer to a GetObject of a missing key by a role without s3:ListBucket (or of any key by a
    role without s3:GetObject): 403 AccessDenied, exactly as botocore raises it."""
    stubber = Stubber(s3)
    for _ in range(times):
        stubber.add_client_error(
            "get_object",
            service_error_code="AccessDenied",
            service_message="Access Denied",
            http_status_code=403,
        )
    return stubber


def test_a_missing_object_is_absent_when_s3_answers_404(store: ReportStore) -> None:
    assert store.get_document("reports/nothing-here.json") is None
    assert store.get_document_version("reports/nothing-here.json") == (None, None)


@pytest.mark.parametrize("read", ["get_document", "get_document_version", "get_bytes"])
def test_a_403_is_never_read_as_absent_but_storage_access_denied_naming_list_bucket(
    s3: Any, store: ReportStore, read: str
) -> None:
    with refused_reads(s3), pytest.raises(StorageAccessDenied) as caught:
        getattr(store, read)("remediations/p/s/2026-11-01.json")

    message = caught.value.message
    assert isinstance(caught.value, ReportStorageError)  # still a storage failure for callers
    assert "AccessDenied" in message and "s3:ListBucket" in message and "s3:GetObject" in message
    assert f"s3://{BUCKET}/remediations/p/s/2026-11-01.json" in message
