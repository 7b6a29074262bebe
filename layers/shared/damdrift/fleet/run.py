"""``run.json``: one drift-check run, every subscriber on one line, built from the Map's results and the
run records (:mod:`damdrift.fleet.records`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from damdrift.fleet.records import Camel, NoticeTopic, RunRecord
from damdrift.models.summary import CheckStatus
from damdrift.report_layout import ROOT, key_segment
from damdrift.state import SubscriberResult

_ORDER = {CheckStatus.ERRORED: 0, CheckStatus.DRIFT: 1, CheckStatus.IN_SYNC: 2}


class RunEntry(Camel):
    """One subscriber of the run."""

    subscriber_id: str
    target_host: str | None = None
    status: CheckStatus
    #: Mismatches no ignore rule matches; None when unknown (ERRORED, or no record).
    mismatches: int | None = None
    new: int | None = None
    resolved: int | None = None
    #: The HTML report's key in the bucket.
    report: str | None = None
    error: str | None = None
    attention: bool
    notified_separately: bool = False

    @property
    def topic(self) -> NoticeTopic:
        return NoticeTopic.OPS if self.status is CheckStatus.ERRORED else NoticeTopic.DRIFT

    @property
    def name(self) -> str:
        return self.target_host or self.subscriber_id


class NoticeSent(Camel):
    topic: NoticeTopic
    subject: str
    subscribers: int
    #: SENT, FAILED (logged) or SKIPPED (no topic configured).
    status: str


class RunSummary(Camel):
    execution: str
    publisher: str
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    by_status: dict[str, int]
    new_total: int
    resolved_total: int
    subscribers: list[RunEntry]
    overview: str | None = None
    notices: list[NoticeSent] = []

    def needing_notice(self, topic: NoticeTopic) -> list[RunEntry]:
        """The subscribers the run's notice on ``topic`` lists: worst first (most new, then most
        mismatches), leaving out those whose own notice already went out."""
        chosen = [
            e for e in self.subscribers if e.topic is topic and e.attention and not e.notified_separately
        ]
        return sorted(chosen, key=lambda e: (_ORDER[e.status], -(e.new or 0), -(e.mismatches or 0), e.name))


def summarise(
    execution: str,
    publisher: str,
    started_at: datetime,
    results: Sequence[SubscriberResult],
    records: Mapping[str, RunRecord],
    now: datetime,
) -> RunSummary:
    """The run from the Map's results (every subscriber, even one whose check failed as a whole) and the
    records (the details, where the subscriber check stored one)."""
    entries = [_entry(result, records.get(result.subscriber_id), publisher) for result in results]
    tally = {str(status): sum(1 for e in entries if e.status is status) for status in CheckStatus}
    return RunSummary(
        execution=execution,
        publisher=publisher,
        started_at=started_at,
        finished_at=now,
        duration_seconds=round(max(0.0, (now - started_at).total_seconds()), 3),
        by_status=tally,
        new_total=sum(e.new or 0 for e in entries),
        resolved_total=sum(e.resolved or 0 for e in entries),
        subscribers=entries,
    )


def _entry(result: SubscriberResult, record: RunRecord | None, publisher: str) -> RunEntry:
    if record is None or record.row.status is not result.status:
        # No record (the check failed before storing one) or a stale one: the Map's result decides.
        return RunEntry(
            subscriber_id=result.subscriber_id,
            status=result.status,
            error=result.error,
            attention=result.status is not CheckStatus.IN_SYNC,
        )
    row = record.row
    return RunEntry(
        subscriber_id=result.subscriber_id,
        target_host=row.target_host,
        status=row.status,
        mismatches=None if row.status is CheckStatus.ERRORED else row.mismatches,
        new=row.new,
        resolved=row.resolved,
        report=f"{ROOT}/{key_segment('publisher', publisher)}/{row.report}" if row.report else None,
        error=row.error_type or result.error,
        attention=record.attention,
        notified_separately=record.notified_separately,
    )
