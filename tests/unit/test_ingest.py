"""The fetch step's download in checkpointed parts, against moto's S3: a failure keeps what arrived, and
the next attempt resumes after it instead of starting over."""

import csv
import gzip
import io
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from damdrift.errors import DxUnavailable, ReportStorageError, UnexpectedResponse
from damdrift.report.ingest import download as ingest
from damdrift.report.ingest.checkpoint import CHECKPOINT_FILENAME
from damdrift.report.ingest.download import (
    Download,
    StoringReport,
    discard_parts,
    download_report,
    load_checkpoint,
    salvage,
    store_report,
)
from damdrift.report.ingest.stream import read_ahead
from damdrift.report.records.fields import CSV_COLUMNS, MAX_PAIRS
from damdrift.store import ReportStore
from damdrift_cli.local.aws_faults import AwsFaults

BUCKET = "dam-drift-reports"
PREFIX = "reports/dx.example.com/sub-1/2024/05/01/exec-1/"
TYPES = ("COLLECTION", "MEDIA_ITEM", "RENDITION")


def records(n: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"row-{i}",
            "subscriberId": "sub-1",
            "recordType": TYPES[i % 3],
            "recordAction": "CREATE",
            "recordId": f"rec-{i}",
            "created": "2024-05-01T00:00:00Z",
        }
        for i in range(n)
    ]


class FlakyDx:
    """A record source like ``DxClient.iter_mismatches``: fails once after ``fail_after`` records."""

    def __init__(self, log: list[dict[str, str]], fail_after: int | None = None) -> None:
        self.log = log
        self.fail_after = fail_after
        self.calls: list[tuple[int, Mapping[str, Any] | None]] = []

    def __call__(self, offset: int, known_first: Mapping[str, Any] | None) -> Iterator[dict[str, str]]:
        self.calls.append((offset, known_first))
        for index in range(offset, len(self.log)):
            if self.fail_after is not None and index == self.fail_after:
                self.fail_after = None
                raise DxUnavailable("GET /staging/mismatches: HTTP 503")
            yield self.log[index]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReportStore]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield ReportStore(client, BUCKET)


@pytest.fixture
def s3_faults() -> Iterator[AwsFaults]:
    faults = AwsFaults()
    with faults.installed():
        yield faults


def stored_keys(store: ReportStore) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read_report(download: Download) -> tuple[list[dict[str, Any]], list[list[str]]]:
    lines = gzip.decompress(download.files.records_path.read_bytes()).splitlines()
    rows = list(csv.reader(io.StringIO(download.files.csv_path.read_text(encoding="utf-8"))))
    return [json.loads(line) for line in lines], rows


def test_a_report_smaller_than_a_part_is_downloaded_in_one_piece_and_stores_no_part(
    store: ReportStore, tmp_path: Path
) -> None:
    log = records(5)

    download = download_report(FlakyDx(log), store, PREFIX, tmp_path, part_records=8)

    assert read_report(download) == (log, [list(CSV_COLUMNS), *([r[k] for k in CSV_COLUMNS] for r in log)])
    assert (download.files.total, download.checkpoint.parts, download.resumed_at) == (5, [], 0)
    assert download.files.counts == {
        "COLLECTION": {"CREATE": 2},
        "MEDIA_ITEM": {"CREATE": 2},
        "RENDITION": {"CREATE": 1},
    }
    assert stored_keys(store) == []


def test_an_empty_log_gives_a_header_only_csv_and_an_empty_gzip(store: ReportStore, tmp_path: Path) -> None:
    download = download_report(FlakyDx([]), store, PREFIX, tmp_path, part_records=8)

    assert read_report(download) == ([], [list(CSV_COLUMNS)])
    assert download.files.total == 0


def test_a_bigger_report_is_checkpointed_in_parts_and_assembled_as_one_gzip_and_one_csv(
    store: ReportStore, tmp_path: Path
) -> None:
    log = records(19)

    download = download_report(FlakyDx(log), store, PREFIX, tmp_path, part_records=8)

    got, rows = read_report(download)
    assert got == log  # the gzip members of the parts read as one stream
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 20  # one header, then every record
    assert [(p.first_record, p.records) for p in download.checkpoint.parts] == [(0, 8), (8, 8)]
    assert download.checkpoint.first_record == log[0]
    assert PREFIX + CHECKPOINT_FILENAME in stored_keys(store)

    discard_parts(store, PREFIX, download.checkpoint)

    assert stored_keys(store) == []


def test_dx_failing_mid_part_stores_what_arrived_and_the_retry_resumes_after_it(
    store: ReportStore, tmp_path: Path
) -> None:
    log = records(19)
    dx = FlakyDx(log, fail_after=11)

    with pytest.raises(DxUnavailable):
        download_report(dx, store, PREFIX, tmp_path / "first", part_records=8)

    checkpoint = load_checkpoint(store, PREFIX)
    assert [(p.first_record, p.records) for p in checkpoint.parts] == [(0, 8), (8, 3)]

    download = download_report(dx, store, PREFIX, tmp_path / "retry", part_records=8)

    assert dx.calls == [(0, None), (11, log[0])]  # the retry asked only for record 11 on
    assert download.resumed_at == 11
    assert read_report(download)[0] == log
    assert download.files.total == 19
    assert sum(download.files.counts["COLLECTION"].values()) == 7


def test_s3_refusing_a_part_says_what_is_stored_and_the_retry_resumes_there(
    store: ReportStore, tmp_path: Path, s3_faults: AwsFaults
) -> None:
    log = records(19)
    s3_faults.fail(
        "s3", "PutObject", code="AccessDenied", status=403, path_contains="/_parts/00002/", times=1
    )
    dx = FlakyDx(log)

    with pytest.raises(ReportStorageError) as refused:
        download_report(dx, store, PREFIX, tmp_path / "first", part_records=8)

    message = str(refused.value)
    assert "AccessDenied" in message
    assert "records 0-7 are stored in 1 part(s)" in message and "a retry resumes at record 8" in message

    download = download_report(dx, store, PREFIX, tmp_path / "retry", part_records=8)

    assert [offset for offset, _ in dx.calls] == [0, 8]
    assert read_report(download)[0] == log


def test_nothing_stored_yet_is_said_plainly(store: ReportStore, tmp_path: Path, s3_faults: AwsFaults) -> None:
    s3_faults.fail("s3", "PutObject", code="AccessDenied", status=403)

    with pytest.raises(ReportStorageError, match="no record of this report is stored yet"):
        download_report(FlakyDx(records(9)), store, PREFIX, tmp_path, part_records=8)


def test_a_resumed_page_that_starts_over_is_left_to_the_client_to_catch(
    store: ReportStore, tmp_path: Path
) -> None:
    # DxClient.iter_mismatches raises UnexpectedResponse when a resumed page repeats known_first;
    # the download keeps what it had and lets the error go up.
    log = records(12)

    def ignoring_offset(offset: int, known_first: Mapping[str, Any] | None) -> Iterator[dict[str, str]]:
        if known_first is not None:
            raise UnexpectedResponse("the server ignores 'offset'")
        yield from log[:4]
        raise UnexpectedResponse("the server ignores 'offset'")

    with pytest.raises(UnexpectedResponse):
        download_report(ignoring_offset, store, PREFIX, tmp_path / "a", part_records=8)
    with pytest.raises(UnexpectedResponse):
        download_report(ignoring_offset, store, PREFIX, tmp_path / "b", part_records=8)

    assert load_checkpoint(store, PREFIX).offset == 4


def test_salvage_turns_the_stored_parts_into_the_partial_report(store: ReportStore, tmp_path: Path) -> None:
    assert salvage(store, PREFIX, tmp_path / "none") is None
    log = records(19)
    with pytest.raises(DxUnavailable):
        download_report(FlakyDx(log, fail_after=10), store, PREFIX, tmp_path / "first", part_records=8)

    salvaged = salvage(store, PREFIX, tmp_path / "salvage")

    assert salvaged is not None
    assert read_report(salvaged)[0] == log[:10]
    assert salvaged.files.total == 10


def test_a_checkpoint_that_is_not_ours_is_a_storage_error(store: ReportStore, tmp_path: Path) -> None:
    store.put_document(PREFIX + CHECKPOINT_FILENAME, {"parts": "nonsense"}, check_prefix=PREFIX)

    with pytest.raises(ReportStorageError, match="not a dam-drift checkpoint"):
        download_report(FlakyDx(records(3)), store, PREFIX, tmp_path, part_records=8)


def stored_object(key: str) -> tuple[bytes, str]:
    got = boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=key)
    return got["Body"].read(), got["ETag"]


@pytest.fixture
def small_s3_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3's 5 MiB minimum part, scaled down so that a few records make a part S3 accepts."""
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 128)
    monkeypatch.setattr(ingest, "MIN_PART_BYTES", 128)


@pytest.mark.parametrize("size", [19, 24])  # a short last part, and none
def test_a_report_in_parts_is_assembled_in_s3_from_them_byte_for_byte(
    store: ReportStore, tmp_path: Path, small_s3_parts: None, size: int
) -> None:
    download = download_report(FlakyDx(records(size)), store, PREFIX, tmp_path, part_records=8)

    keys = store_report(store, PREFIX, download)

    records_body, records_etag = stored_object(keys["records"])
    csv_body, csv_etag = stored_object(keys["csv"])
    assert records_body == download.files.records_path.read_bytes()
    assert csv_body == download.files.csv_path.read_bytes()
    # S3 joined three parts: two copied and the short last one uploaded, or three copied.
    assert records_etag.strip('"').endswith("-3") and csv_etag.strip('"').endswith("-3")


def test_parts_too_small_for_s3_are_uploaded_whole_instead(store: ReportStore, tmp_path: Path) -> None:
    download = download_report(FlakyDx(records(19)), store, PREFIX, tmp_path, part_records=8)

    keys = store_report(store, PREFIX, download)  # parts of ~1 KB: S3 would refuse to join them

    records_body, records_etag = stored_object(keys["records"])
    assert records_body == download.files.records_path.read_bytes()
    assert "-" not in records_etag
    assert stored_object(keys["csv"])[0] == download.files.csv_path.read_bytes()


def test_a_failed_assembly_says_what_is_stored_and_leaves_no_upload_behind(
    store: ReportStore, tmp_path: Path, small_s3_parts: None, s3_faults: AwsFaults
) -> None:
    download = download_report(FlakyDx(records(19)), store, PREFIX, tmp_path, part_records=8)
    s3_faults.fail("s3", "CompleteMultipartUpload", code="InternalError", status=500, times=10)

    with pytest.raises(ReportStorageError, match="InternalError"):
        store_report(store, PREFIX, download)

    uploads = boto3.client("s3", region_name="us-east-1").list_multipart_uploads(Bucket=BUCKET)
    assert not uploads.get("Uploads")


def test_the_report_is_stored_while_the_caller_goes_on_and_its_keys_are_there_after_the_with(
    store: ReportStore, tmp_path: Path, small_s3_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    download = download_report(FlakyDx(records(19)), store, PREFIX, tmp_path, part_records=8)
    comparing = threading.Event()
    real_store_report = ingest.store_report

    def store_once_the_caller_runs(*args: Any) -> dict[str, str]:
        # Only stores once the body of the with has started: one after the other, this never returns.
        if not comparing.wait(timeout=30):
            raise AssertionError("the report was stored before the caller could go on")
        return real_store_report(*args)

    monkeypatch.setattr(ingest, "store_report", store_once_the_caller_runs)

    with StoringReport(store, PREFIX, download) as storing:
        comparing.set()
        with pytest.raises(RuntimeError, match="still being stored"):
            _ = storing.keys

    assert stored_object(storing.keys["records"])[0] == download.files.records_path.read_bytes()
    assert stored_object(storing.keys["csv"])[0] == download.files.csv_path.read_bytes()


def test_a_failed_store_is_raised_on_leaving_the_with_saying_what_is_stored_even_after_another_error(
    store: ReportStore, tmp_path: Path, small_s3_parts: None, s3_faults: AwsFaults
) -> None:
    download = download_report(FlakyDx(records(19)), store, PREFIX, tmp_path, part_records=8)
    s3_faults.fail("s3", "CompleteMultipartUpload", code="InternalError", status=500, times=10)

    with (
        pytest.raises(ReportStorageError, match="InternalError") as refused,
        StoringReport(store, PREFIX, download),
    ):
        raise ValueError("the comparison failed too")

    assert "records 0-15 are stored in 2 part(s)" in refused.value.message
    assert isinstance(refused.value.__context__, ValueError)


def test_read_ahead_yields_everything_in_order_and_never_takes_more_than_its_limit() -> None:
    taken: list[int] = []

    def source() -> Iterator[int]:
        for n in range(10_000):
            taken.append(n)
            yield n

    items = source()
    first = list(read_ahead(items, 2_500, batch=100, depth=2))
    second = list(read_ahead(items, 10**9, batch=100, depth=2))

    assert first == list(range(2_500)) and second == list(range(2_500, 10_000))
    assert taken == list(range(10_000))


def test_read_ahead_raises_the_sources_error_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(150)
        raise DxUnavailable("HTTP 503")

    got: list[int] = []
    with pytest.raises(DxUnavailable):
        for item in read_ahead(failing(), 10**9, batch=100, depth=2):
            got.append(item)

    assert got == list(range(150))


def test_closing_a_read_ahead_early_stops_its_thread() -> None:
    before = threading.active_count()
    reader = read_ahead(iter(range(10**6)), 10**9, batch=10, depth=1)

    assert next(reader) == 0
    reader.close()

    assert threading.active_count() == before


@pytest.fixture
def switch_interval() -> Iterator[float]:
    """A switch interval of this test's own (not CPython's default), so a restore to the wrong value shows."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0042)
    yield 0.0042
    sys.setswitchinterval(before)


class IntervalSeen(FlakyDx):
    """A FlakyDx that notes the switch interval each time it hands out a record (in the read-ahead thread)."""

    def __init__(self, log: list[dict[str, str]], fail_after: int | None = None) -> None:
        super().__init__(log, fail_after)
        self.seen: set[float] = set()

    def __call__(self, offset: int, known_first: Mapping[str, Any] | None) -> Iterator[dict[str, str]]:
        for record in super().__call__(offset, known_first):
            self.seen.add(sys.getswitchinterval())
            yield record


def test_a_download_lowers_the_switch_interval_only_while_it_runs(
    store: ReportStore, tmp_path: Path, switch_interval: float
) -> None:
    source = IntervalSeen(records(30))

    download = download_report(source, store, PREFIX, tmp_path, part_records=8)

    assert download.files.total == 30
    assert {round(seen, 6) for seen in source.seen} == {0.0002}  # CPython keeps microseconds
    assert sys.getswitchinterval() == pytest.approx(switch_interval)


def test_a_failed_download_restores_the_switch_interval(
    store: ReportStore, tmp_path: Path, switch_interval: float
) -> None:
    source = IntervalSeen(records(30), fail_after=13)

    with pytest.raises(DxUnavailable):
        download_report(source, store, PREFIX, tmp_path, part_records=8)

    assert {round(seen, 6) for seen in source.seen} == {0.0002}  # CPython keeps microseconds
    assert sys.getswitchinterval() == pytest.approx(switch_interval)


def test_overlapping_read_aheads_restore_the_switch_interval_when_the_last_one_ends(
    switch_interval: float,
) -> None:
    first = read_ahead(iter(range(100)), 10**9, batch=10, depth=1)
    second = read_ahead(iter(range(100)), 10**9, batch=10, depth=1)
    assert (next(first), next(second)) == (0, 0)

    first.close()
    assert sys.getswitchinterval() == pytest.approx(0.0002)  # the second still runs
    second.close()

    assert sys.getswitchinterval() == pytest.approx(switch_interval)


def test_a_log_longer_than_the_record_cap_stops_at_the_cap_keeping_every_record_before_it(
    store: ReportStore, tmp_path: Path
) -> None:
    endless = FlakyDx(records(40))  # stands for a DX that pages forever

    with pytest.raises(UnexpectedResponse, match="more than 10 records"):
        download_report(endless, store, PREFIX, tmp_path / "first", part_records=8, max_records=10)

    checkpoint = load_checkpoint(store, PREFIX)
    assert [(p.first_record, p.records) for p in checkpoint.parts] == [(0, 8), (8, 2)]
    # The step's retry resumes at the cap and stops at once, before asking DX for anything more.
    with pytest.raises(UnexpectedResponse, match="more than 10 records"):
        download_report(endless, store, PREFIX, tmp_path / "retry", part_records=8, max_records=10)
    assert load_checkpoint(store, PREFIX).offset == 10


def test_a_log_exactly_as_long_as_the_record_cap_is_whole(store: ReportStore, tmp_path: Path) -> None:
    log = records(10)
    download = download_report(FlakyDx(log), store, PREFIX, tmp_path, part_records=8, max_records=10)
    assert read_report(download)[0] == log


def test_a_null_record_just_past_the_cap_still_ends_the_download_at_the_cap(
    store: ReportStore, tmp_path: Path
) -> None:
    log: list[Any] = [*records(10), None, *records(5)]  # a hostile DX: the 11th record is JSON null

    with pytest.raises(UnexpectedResponse, match="more than 10 records"):
        download_report(FlakyDx(log), store, PREFIX, tmp_path, part_records=8, max_records=10)

    assert load_checkpoint(store, PREFIX).offset == 10


def test_more_distinct_pairs_than_the_bound_ends_the_download_keeping_every_part_before(
    store: ReportStore, tmp_path: Path
) -> None:
    log = [{**record, "recordType": f"TYPE_{i}"} for i, record in enumerate(records(MAX_PAIRS + 20))]

    with pytest.raises(UnexpectedResponse, match=f"more than {MAX_PAIRS} distinct"):
        download_report(FlakyDx(log), store, PREFIX, tmp_path / "first", part_records=30)

    assert load_checkpoint(store, PREFIX).offset == MAX_PAIRS  # every record before the one too many
    # The retry resumes there and meets the same record: the parts stored first still count.
    with pytest.raises(UnexpectedResponse, match="distinct"):
        download_report(FlakyDx(log), store, PREFIX, tmp_path / "retry", part_records=30)
    salvaged = salvage(store, PREFIX, tmp_path / "salvage")
    assert salvaged is not None and salvaged.files.total == MAX_PAIRS


def test_a_long_s3_refusal_never_cuts_off_where_the_retry_resumes(
    store: ReportStore, tmp_path: Path, s3_faults: AwsFaults
) -> None:
    # An error message is capped at 4,000 characters: S3's own words are what gives way, never the part
    # an operator acts on (what is stored, where the retry starts).
    s3_faults.fail(
        "s3", "PutObject", code="AccessDenied" + "x" * 5000, status=403, path_contains="/_parts/00002/"
    )

    with pytest.raises(ReportStorageError) as refused:
        download_report(FlakyDx(records(19)), store, PREFIX, tmp_path / "first", part_records=8)

    message = str(refused.value)
    assert "AccessDenied" in message[:200]  # S3's words first, cut
    assert message.endswith("a retry resumes at record 8") and len(message) <= 4000
