"""The fetch step's work directory is its own (``tempfile.mkdtemp``), never a path made of DX text: a
subscriber id of ``/some/dir`` or ``../..`` once had that directory deleted (issue 23, item 1); and one a
killed fetch left is removed at the next cold start, never one a running fetch uses (issue 24)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from damdrift import workdir as workdir_module
from damdrift.dx.client import DxClient
from damdrift.dx.connection import DxConnection
from damdrift.execution_input import BusyPolicy, NotifyPolicy, PollPolicy
from damdrift.settings import FetchReportSettings
from damdrift.state import CheckContext, PollPhase, PollState, StepError, SubscriberRef, SubscriberTask
from damdrift.steps.fetch import fetch_with, record_errored
from damdrift.store import ReportStore
from damdrift.workdir import new_workdir
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


# -- a work directory left by a killed invocation (issue 24) ------------------------------------------------
#
# Lambda keeps /tmp when it resets an execution environment after a timeout or a crash (out of memory
# included): the next invocation there starts a new runtime process and finds the killed one's directory.

_INVOCATION = """
import sys
from pathlib import Path
from damdrift.settings import FetchReportSettings
from damdrift.workdir import new_workdir

settings = FetchReportSettings.from_env({"REPORT_BUCKET": "bucket", "WORK_DIR": sys.argv[1]})
workdir = new_workdir(settings.work_dir)
(workdir / "records.jsonl.gz").write_bytes(b"x" * 1024)
print("WORKDIR", workdir, flush=True)
if sys.argv[2] == "block":
    sys.stdin.read()  # a download under way, until the test kills it or lets it go
"""


def _invocation(work: Path, mode: str) -> subprocess.Popen[str]:
    """A fetch in a process of its own (a Lambda runtime): it makes its work directory and, in mode
    ``block``, stays mid-download."""
    return subprocess.Popen(
        [sys.executable, "-c", _INVOCATION, str(work), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _workdir_of(invocation: subprocess.Popen[str]) -> Path:
    assert invocation.stdout is not None
    for line in invocation.stdout:  # the log's lines come first
        if line.startswith("WORKDIR "):
            return Path(line.removeprefix("WORKDIR ").strip())
    raise AssertionError("the invocation ended before it had a work directory")


def test_the_next_cold_start_removes_the_work_directory_a_killed_fetch_left_but_no_running_ones(
    work: Path,
) -> None:
    killed = _invocation(work, "block")
    killed_dir = _workdir_of(killed)
    killed.kill()  # what Lambda does at the function's timeout, or the kernel when memory runs out
    killed.wait()
    running = _invocation(work, "block")  # another process's check, still downloading
    running_dir = _workdir_of(running)
    (work / "dam-drift-ingest-bench").mkdir()  # not a fetch's: the benchmark's, say

    try:
        after_cold_start = _invocation(work, "exit")
        next_dir = _workdir_of(after_cold_start)
        after_cold_start.wait()

        assert not killed_dir.exists()
        assert running_dir.is_dir() and (running_dir / "records.jsonl.gz").is_file()
        assert next_dir.is_dir()
        assert (work / "keep.txt").read_text() == "not the fetch step's"
        assert (work / "dam-drift-ingest-bench").is_dir()
    finally:
        running.communicate("")


def test_a_directory_left_by_an_earlier_runtime_with_this_process_id_goes_and_a_sibling_check_stays(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A re-initialised Lambda runtime may get the process id the killed one had: its directory is older
    # than this process. A check running beside this one in the same process (the local runner runs a
    # run's subscriber checks in parallel) made its directory after this process started.
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    sibling = new_workdir(settings.work_dir)  # a check of this process, under way
    earlier = work / f"{sibling.name.rsplit('-', 1)[0]}-earlier"  # this process's id, an hour ago
    earlier.mkdir()
    long_ago = time.time() - 3600
    os.utime(earlier, (long_ago, long_ago))
    # This process started a minute ago; its first work directory is the one to come.
    monkeypatch.setattr(workdir_module, "_COLD_START", workdir_module.ColdStart(started=time.time() - 60))

    new_workdir(settings.work_dir)

    assert not earlier.exists()
    assert sibling.is_dir()


def _cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process started a minute ago and has not looked at WORK_DIR yet."""
    monkeypatch.setattr(workdir_module, "_COLD_START", workdir_module.ColdStart(started=time.time() - 60))


def test_a_work_directory_another_user_owns_is_never_removed_even_when_its_process_is_gone(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shared /tmp on a developer's machine: another user's killed check is theirs to clean up, and a
    # check run as root could otherwise remove it.
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    gone = _invocation(work, "exit")
    theirs = _workdir_of(gone)
    gone.wait()
    _cold_start(monkeypatch)
    monkeypatch.setattr(workdir_module.os, "getuid", lambda: theirs.stat().st_uid + 1)

    new_workdir(settings.work_dir)

    assert theirs.is_dir()


def test_a_work_directory_that_goes_while_the_cold_start_looks_does_not_fail_the_fetch(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local runner's parallel checks share this process: one may end, and remove its directory,
    # between the cold start's listing and its look at that directory.
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    sibling = new_workdir(settings.work_dir)
    listed = list(os.scandir(work))
    sibling.rmdir()
    monkeypatch.setattr(workdir_module.os, "scandir", lambda _path: _Listing(listed))
    _cold_start(monkeypatch)

    assert new_workdir(settings.work_dir).is_dir()


@pytest.mark.parametrize("pid", ["99999999999999999999999", "0"])
def test_a_work_directory_named_after_no_possible_process_neither_fails_the_fetch_nor_goes(
    work: Path, monkeypatch: pytest.MonkeyPatch, pid: str
) -> None:
    settings = FetchReportSettings.from_env({"REPORT_BUCKET": REPORT_BUCKET, "WORK_DIR": str(work)})
    odd = work / f"dam-drift-fetch-{pid}-abc"
    odd.mkdir()
    _cold_start(monkeypatch)

    assert new_workdir(settings.work_dir).is_dir()
    assert odd.is_dir()


class _Listing(list[os.DirEntry[str]]):
    """What ``os.scandir`` returned a moment ago, as a context manager."""

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
