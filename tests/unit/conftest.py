"""The report store the store modules' tests share (test_store, test_report_upload, test_report_history,
test_latest_pointer, test_ignore_rules): moto's S3 holding the empty report bucket. A test module's own
``s3`` wins."""

from collections.abc import Iterator
from typing import Any

import pytest

from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET, s3_with_report_bucket


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from s3_with_report_bucket(monkeypatch)


@pytest.fixture
def store(s3: Any) -> ReportStore:
    return ReportStore(s3, REPORT_BUCKET)
