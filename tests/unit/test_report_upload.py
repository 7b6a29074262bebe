"""A check's report files into S3 (report.upload): byte for byte, with their content types."""

import gzip
import json
import os
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from damdrift.report.ingest.upload import upload_report_files
from damdrift.report.ingest.writer import ReportFiles
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET
from tests.report_samples import PREFIX, report_files

BUCKET = REPORT_BUCKET


def test_report_files_are_stored_byte_for_byte_with_their_content_types(
    s3: Any, store: ReportStore, tmp_path: Path
) -> None:
    files = report_files(tmp_path)
    keys = upload_report_files(store, PREFIX, files)
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

    keys = upload_report_files(ReportStore(s3, BUCKET, transfer_config=eight_mib), PREFIX, files)

    head = s3.head_object(Bucket=BUCKET, Key=keys["records"])
    assert head["ETag"].strip('"').endswith("-2")  # S3's ETag of a 2-part multipart upload
    assert head["ContentType"] == "application/gzip"
    assert s3.get_object(Bucket=BUCKET, Key=keys["records"])["Body"].read() == content

    # A report part's size (tens of MB) is one streamed PUT with the default configuration.
    keys = upload_report_files(store, PREFIX, files)
    assert "-" not in s3.head_object(Bucket=BUCKET, Key=keys["records"])["ETag"]
    assert s3.get_object(Bucket=BUCKET, Key=keys["records"])["Body"].read() == content
