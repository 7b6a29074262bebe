"""report/filing: a check's own pages are stored in one order — report.html, summary.json, then
latest.json (it points at them), then the overview row, an extra that never fails the check."""

from typing import Any

import pytest

from damdrift.errors import ReportStorageError
from damdrift.report.filing import file_check
from damdrift.report.rendering.overview import ROW_FILENAME, OverviewRow
from damdrift.report_history import get_latest, get_summary
from damdrift.store import ReportStore
from tests.report_samples import PREFIX, drift_summary

PAGE = b"<!DOCTYPE html><p>report</p>"
FOLDER = "reports/dx.example.com/sub-1/"


class Recording(ReportStore):
    """The moto-backed store, noting every key written, in order; ``failing`` ones raise instead."""

    def __init__(self, store: ReportStore, failing: str = "") -> None:
        super().__init__(store._s3, store.bucket)
        self.written: list[str] = []
        self._failing = failing

    def put_bytes(self, key: str, body: bytes, content_type: str, *, check_prefix: str) -> str:
        self._note(key)
        return super().put_bytes(key, body, content_type, check_prefix=check_prefix)

    def put_document(self, key: str, document: dict[str, Any], **options: Any) -> bool:
        self._note(key)
        return super().put_document(key, document, **options)

    def _note(self, key: str) -> None:
        if self._failing and key.endswith(self._failing):
            raise ReportStorageError(f"storing s3://{self.bucket}/{key} failed (test)")
        self.written.append(key)


def _file(store: ReportStore) -> tuple[str, str]:
    summary = drift_summary()
    return file_check(
        store, PREFIX, summary, PAGE, OverviewRow.of(summary, [], PREFIX + "report.html"), last_good=None
    )


def test_the_pointer_moves_only_after_the_page_and_summary_are_stored_and_the_row_comes_last(
    store: ReportStore,
) -> None:
    recording = Recording(store)
    html_key, summary_key = _file(recording)
    assert (html_key, summary_key) == (PREFIX + "report.html", PREFIX + "summary.json")
    assert recording.written == [html_key, summary_key, FOLDER + "latest.json", FOLDER + ROW_FILENAME]
    assert get_summary(store, summary_key) == drift_summary()
    latest = get_latest(store, "dx.example.com", "sub-1")
    assert latest is not None and latest.summary_key == summary_key


def test_a_summary_that_cannot_be_stored_fails_the_check_and_leaves_the_pointer_where_it_was(
    store: ReportStore,
) -> None:
    with pytest.raises(ReportStorageError, match=r"summary\.json failed"):
        _file(Recording(store, failing="summary.json"))
    assert get_latest(store, "dx.example.com", "sub-1") is None


def test_a_row_that_cannot_be_stored_is_logged_and_the_check_is_filed(store: ReportStore) -> None:
    recording = Recording(store, failing=ROW_FILENAME)
    _html_key, summary_key = _file(recording)
    assert recording.written[-1] == FOLDER + "latest.json"
    latest = get_latest(store, "dx.example.com", "sub-1")
    assert latest is not None and latest.summary_key == summary_key
