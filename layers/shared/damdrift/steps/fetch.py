"""Step 4: the subscriber check's tail, three stages with typed hand-offs (:mod:`damdrift.stages`):

fetch (download and store, resumable) → ``Ingested`` → analyse (compare, age, summary, HTML, latest
pointer) → ``Analysed`` → announce (metrics, notice and chat decision, run record) → ``FetchResult``.

A check that errored earlier (``$.error`` set by a Catch) takes the same path from what fetch salvaged
(or an empty download), so every subscriber of every run has a ``summary.json``. The parts the download
stored are discarded only once the check is filed.
"""

from __future__ import annotations

from datetime import datetime

from damdrift.check_clients import dx_client
from damdrift.dx.client import DxClient
from damdrift.settings import FetchReportSettings
from damdrift.stages import analyse, fetch
from damdrift.stages.announce import announce, announces_itself, should_notify
from damdrift.state import FetchResult, SubscriberTask
from damdrift.store import ReportStore

__all__ = ["announces_itself", "fetch_report", "fetch_with", "record_errored", "should_notify"]


def fetch_report(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime
) -> FetchResult:
    # A check that errored earlier has no DX client: fetch salvages what an earlier attempt stored.
    client = dx_client(task.check, settings) if task.error is None else None
    return fetch_with(client, task, settings, store, now)


def fetch_with(
    client: DxClient | None,
    task: SubscriberTask,
    settings: FetchReportSettings,
    store: ReportStore,
    now: datetime,
) -> FetchResult:
    """The three stages; ``client`` None: the check errored earlier, fetch salvages what was stored."""
    with fetch.ingested(client, task, settings, store, now) as ingested:
        analysed = analyse.analyse(task, settings, store, now, ingested)
        return announce(task, settings, store, analysed)


def record_errored(
    task: SubscriberTask, settings: FetchReportSettings, store: ReportStore, now: datetime
) -> FetchResult:
    """A check that errored earlier (``$.error`` set by a Catch): the same stages, with no client."""
    assert task.error is not None
    return fetch_with(None, task, settings, store, now)
