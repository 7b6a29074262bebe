"""ReportStore against moto's S3: documents, files, and failures that say what is stored."""

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from damdrift.errors import ReportStorageError, StorageAccessDenied
from damdrift.report.ingest.upload import upload_report_files
from damdrift.report_history import put_summary
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET
from tests.report_samples import PREFIX, drift_summary, report_files

BUCKET = REPORT_BUCKET


def test_a_failing_s3_raises_report_storage_error_listing_what_is_already_stored(
    s3: Any, store: ReportStore, tmp_path: Path
) -> None:
    stored = upload_report_files(store, PREFIX, report_files(tmp_path))
    for key in stored.values():  # the bucket goes away between two steps
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)

    with pytest.raises(ReportStorageError) as caught:
        put_summary(store, PREFIX, drift_summary())
    message = str(caught.value)
    assert f"storing s3://{BUCKET}/{PREFIX}summary.json failed (NoSuchBucket" in message
    assert f"s3://{BUCKET}/{PREFIX}records.jsonl.gz" in message
    assert f"s3://{BUCKET}/{PREFIX}report.csv" in message
    assert caught.value.__cause__ is not None


def test_an_upload_to_a_missing_bucket_says_nothing_was_stored(s3: Any, tmp_path: Path) -> None:
    store = ReportStore(s3, "no-such-bucket")
    with pytest.raises(ReportStorageError, match=r"records\.jsonl\.gz failed .*NoSuchBucket.*: nothing$"):
        upload_report_files(store, PREFIX, report_files(tmp_path))


def test_stored_keys_of_other_checks_are_not_listed(s3: Any, store: ReportStore, tmp_path: Path) -> None:
    other = "reports/dx.example.com/sub-2/2024/05/01/exec-1/"
    upload_report_files(store, other, report_files(tmp_path / "a"))
    upload_report_files(store, PREFIX, report_files(tmp_path / "b"))
    broken = ReportStore(s3, "no-such-bucket")
    broken._recent.extend(store._recent)  # as if the same store had stored them
    with pytest.raises(ReportStorageError) as caught:
        put_summary(broken, PREFIX, drift_summary())
    assert "sub-1" in str(caught.value) and "sub-2" not in str(caught.value)


def test_download_streams_an_object_to_a_file_and_says_when_there_is_none(
    store: ReportStore, tmp_path: Path
) -> None:
    store.put_bytes("reports/x/keys.bin", b"\x00\x01" * 1000, "application/octet-stream", check_prefix="x")

    assert store.download("reports/x/keys.bin", tmp_path / "got.bin")
    assert (tmp_path / "got.bin").read_bytes() == b"\x00\x01" * 1000
    assert not store.download("reports/x/missing.bin", tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


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
