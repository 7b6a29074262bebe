"""The local runner reads and writes only under --out: a crafted summaryKey or object key with ``..``
(or a symlink out of the folder) is refused, never followed."""

import json
from pathlib import Path

from damdrift_cli.local.runner import LocalAws


def keys(aws: LocalAws) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=aws._deployed.bucket).get("Contents", [])
    return [item["Key"] for item in listed]


def test_upload_history_refuses_a_summary_key_that_climbs_out_of_the_folder(
    aws: LocalAws, tmp_path: Path
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    (outside / "record-keys.bin").write_bytes(b"not yours")
    (outside / "records.jsonl.gz").write_bytes(b"not yours either")
    subscriber = out / "reports" / "dx.example.com" / "sub-1"
    subscriber.mkdir(parents=True)
    (subscriber / "latest.json").write_text(json.dumps({"summaryKey": "../outside/summary.json"}))

    uploaded = aws.upload_history(out)

    assert uploaded == 1  # latest.json itself
    assert keys(aws) == ["reports/dx.example.com/sub-1/latest.json"]


def test_upload_history_refuses_a_symlink_out_of_the_folder(aws: LocalAws, tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    (outside / "2026" / "01" / "02" / "run-1").mkdir(parents=True)
    (outside / "2026" / "01" / "02" / "run-1" / "summary.json").write_text("{}")
    publisher = out / "reports" / "dx.example.com"
    publisher.mkdir(parents=True)
    (publisher / "sub-1").symlink_to(outside, target_is_directory=True)

    assert aws.upload_history(out) == 0
    assert keys(aws) == []


def test_download_reports_refuses_an_object_key_that_climbs_out_of_the_folder(
    aws: LocalAws, tmp_path: Path
) -> None:
    s3, bucket = aws.client("s3"), aws._deployed.bucket
    s3.put_object(Bucket=bucket, Key="reports/dx.example.com/sub-1/latest.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="reports/../../escaped.txt", Body=b"outside")
    out = tmp_path / "a" / "out"

    written = aws.download_reports(out)

    assert written == [out / "reports/dx.example.com/sub-1/latest.json"]
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "a" / "escaped.txt").exists()
    assert aws.refused_keys == ["reports/../../escaped.txt"]
