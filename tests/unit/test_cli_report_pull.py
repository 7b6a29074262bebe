"""`damdrift report pull`: a deployed stack's bucket (moto's S3) into the folder `report show` reads."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from damdrift_cli.exit_status import TOOL_FAILED
from tests.aws import REPORT_BUCKET, s3_with_report_bucket
from tests.unit.test_cli_reports import HOST, PUBLISHER, SUBSCRIBER, cli, store_run


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from s3_with_report_bucket(monkeypatch)


def upload_folder(s3: Any, folder: Path) -> list[str]:
    """What the deployed functions leave in the bucket: the same files under the same keys."""
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        s3.upload_file(str(path), REPORT_BUCKET, key)
        keys.append(key)
    return keys


@pytest.fixture
def deployed(s3: Any, tmp_path: Path) -> Any:
    source = tmp_path / "written-by-the-stack"
    store_run(source, "run-1", ["a", "b", "c"], hours=0)
    store_run(source, "run-2", ["b", "c", "d", "e"], hours=24)
    upload_folder(s3, source)
    checkpoint = f"reports/{PUBLISHER}/{SUBSCRIBER}/2026/11/28/run-3/"
    s3.put_object(Bucket=REPORT_BUCKET, Key=checkpoint + "_parts/00001.jsonl.gz", Body=b"partial")
    s3.put_object(Bucket=REPORT_BUCKET, Key=checkpoint + "_checkpoint.json", Body=b"{}")
    s3.put_object(Bucket=REPORT_BUCKET, Key="approvals/not-a-report.json", Body=b"{}")
    return s3


def test_pull_brings_the_reports_down_in_the_layout_report_show_reads(deployed: Any, tmp_path: Path) -> None:
    out = tmp_path / "pulled"
    code, stdout, stderr = cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))
    assert (code, stderr) == (0, "")
    assert f"subscribers: {SUBSCRIBER}" in stdout
    assert f"next: damdrift report show {SUBSCRIBER} --reports {out}" in stdout
    code, shown, stderr = cli("report", "show", HOST, "--reports", str(out))
    assert (code, stderr) == (0, "")
    assert "run-2" in shown
    assert "Mismatches:     4" in shown
    code, diffed, _ = cli(
        "report",
        "diff",
        str(out / f"reports/{PUBLISHER}/{SUBSCRIBER}/2026/11/27/run-1"),
        str(out / f"reports/{PUBLISHER}/{SUBSCRIBER}/2026/11/27/run-2"),
    )
    assert code == 0
    assert "+2 new, -1 resolved, 2 unchanged" in diffed


def test_pull_leaves_out_checkpoints_of_downloads_in_progress_and_everything_but_reports(
    deployed: Any, tmp_path: Path
) -> None:
    out = tmp_path / "pulled"
    assert cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))[0] == 0
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not [n for n in names if "_parts" in n or "_checkpoint" in n or n.endswith(".part")]
    assert all(n.startswith("reports/") for n in names)
    assert f"reports/{PUBLISHER}/{SUBSCRIBER}/latest.json" in names


def test_a_second_pull_fetches_only_what_changed(deployed: Any, tmp_path: Path) -> None:
    out = tmp_path / "pulled"
    cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))
    latest = f"reports/{PUBLISHER}/{SUBSCRIBER}/latest.json"
    pointer = b'{"summaryKey": "reports/dx.example.com/sub-1/2026/11/27/run-1/summary.json"}'
    deployed.put_object(Bucket=REPORT_BUCKET, Key=latest, Body=pointer)
    code, stdout, _ = cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))
    assert code == 0
    assert stdout.startswith("1 files downloaded, ")
    assert (out / latest).read_bytes() == pointer


def test_pull_of_one_publisher_brings_only_its_reports(deployed: Any, tmp_path: Path) -> None:
    deployed.put_object(Bucket=REPORT_BUCKET, Key="reports/other.example.com/s/latest.json", Body=b"{}")
    out = tmp_path / "pulled"
    cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out), "--publisher", PUBLISHER)
    assert sorted(p.name for p in (out / "reports").iterdir()) == [PUBLISHER]


def test_pull_never_writes_outside_out_whatever_a_key_says(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/../../escaped.json", Body=b"{}")
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/p/s/latest.json", Body=b"{}")
    out = tmp_path / "a" / "pulled"
    code, _, stderr = cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))
    assert code == TOOL_FAILED  # 2 would read as "a check errored"
    assert "skipped 'reports/../../escaped.json': it would be written outside" in stderr
    assert not list(tmp_path.rglob("escaped.json"))
    assert (out / "reports/p/s/latest.json").is_file()


def test_pull_from_a_bucket_that_does_not_exist_says_so_in_one_line(s3: Any, tmp_path: Path) -> None:
    code, stdout, stderr = cli("report", "pull", "--bucket", "no-such-bucket", "--out", str(tmp_path))
    assert (code, stdout) == (TOOL_FAILED, "")
    assert stderr.splitlines() == [
        "damdrift report pull: cannot list s3://no-such-bucket/reports/: no such bucket "
        "(the stack's output ReportBucketName names it)"
    ]


@pytest.mark.parametrize(
    "key", ["reports/../.viewer-key", "reports/./../.viewer-key", "reports/p/../../x.json"]
)
def test_pull_never_writes_beside_reports_in_out_such_as_the_local_link_key(
    s3: Any, tmp_path: Path, key: str
) -> None:
    out = tmp_path / "pulled"
    out.mkdir()
    (out / ".viewer-key").write_bytes(b"the-local-link-key")
    s3.put_object(Bucket=REPORT_BUCKET, Key=key, Body=b"chosen-by-whoever-writes-the-bucket")
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/p/s/latest.json", Body=b"{}")
    code, _, stderr = cli("report", "pull", "--bucket", REPORT_BUCKET, "--out", str(out))
    assert code == TOOL_FAILED
    assert f"skipped {key!r}: it would be written outside" in stderr
    assert (out / ".viewer-key").read_bytes() == b"the-local-link-key"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        ".viewer-key",
        "reports/p/s/latest.json",
    ]
