"""The fetch step's work directory is its own (``tempfile.mkdtemp``), never a path made of DX text: a
subscriber id of ``/some/dir`` or ``../..`` once had that directory deleted (issue 23, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from damdrift.dx.client import DxClient
from damdrift.dx.connection import DxConnection
from damdrift.execution_input import BusyPolicy, NotifyPolicy, PollPolicy
from damdrift.settings import FetchReportSettings
from damdrift.state import CheckContext, PollPhase, PollState, StepError, SubscriberRef, SubscriberTask
from damdrift.steps.fetch import fetch_with, record_errored
from damdrift.store import ReportStore
from tests.aws import REPORT_BUCKET

NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


class SilentDx:
    """A DX whose mismatch log is empty (the directory is at stake before any record arrives)."""

    def iter_mismatches(self, subscriber_id: str, **_: Any) -> Iterator[dict[str, Any]]:
        return iter(())


def task_for(subscriber_id: str, **extra: Any) -> SubscriberTask:
    check = CheckContext(
        execution="run-1",
        execution_arn="arn:aws:states:eu-central-1:123456789012:execution:dam-drift-drift-check:run-1",
        publisher=DxConnection(hostname="dx.example.com"),
        publisher_id="dx.example.com",
        credentials_secret="dam-drift/dx-credentials",
        poll=PollPolicy(),
        busy_policy=BusyPolicy.WAIT,
        notify_policy=NotifyPolicy.ON_DRIFT,
        max_concurrency=2,
        started_at=NOW,
    )
    subscriber = SubscriberRef(subscriber_id=subscriber_id, target_host="sub.example.com")
    return SubscriberTask(check=check, subscriber=subscriber, **extra)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("not the fetch step's")
    return work


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("the operator's")
    return victim


def hostile_ids(victim: Path) -> list[str]:
    return [str(victim), "../..", "../../../victim"]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["absolute", "dot-dot", "dot-dot-sideways"])
def test_a_subscriber_id_naming_a_directory_never_has_it_deleted_by_the_fetch_step(
    store: ReportStore, work: Path, victim: Path, which: int
) -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    task = task_for(hostile_ids(victim)[which])

    with pytest.raises(ValueError, match=r"subscriberId .* cannot be used in a report key"):
        fetch_with(cast(DxClient, SilentDx()), task, settings, store, NOW)

    assert (victim / "keep.txt").read_text() == "the operator's"
    assert (work / "keep.txt").read_text() == "not the fetch step's"
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt"]  # no work directory left behind


@pytest.mark.parametrize("which", [0, 1, 2], ids=["absolute", "dot-dot", "dot-dot-sideways"])
def test_a_subscriber_id_naming_a_directory_never_has_it_deleted_when_an_error_is_recorded(
    store: ReportStore, work: Path, victim: Path, which: int
) -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    poll = PollState(
        phase=PollPhase.COMPLETED, wait_seconds=0, find_started_at=NOW, deadline=NOW + timedelta(hours=1)
    )
    error = StepError.model_validate({"Error": "DxUnavailable", "Cause": "the download was cut off"})
    task = task_for(hostile_ids(victim)[which], poll=poll, error=error)

    with pytest.raises(ValueError, match=r"subscriberId .* cannot be used in a report key"):
        record_errored(task, settings, store, NOW)

    assert (victim / "keep.txt").read_text() == "the operator's"
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt"]
