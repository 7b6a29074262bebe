"""Run-scoped records: what each subscriber check leaves for the fleet step after the Map.

Layout (one folder per drift-check execution, beside ``reports/``)::

    runs/<publisher>/<execution>/subscribers/<subscriber>.json   -> RunRecord (fetch-report writes it)
    runs/<publisher>/<execution>/run.json                         -> RunSummary (summarise-run writes it)

A record is a few KB: the subscriber's overview row, whether its check needs attention, whether its own
notice already went out, and that notice (so a run with one subscriber to tell sends it as it is). A
remediation's verifying check writes the same key later, so the record holds the newest outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from damdrift.errors import ReportStorageError
from damdrift.observability import logger
from damdrift.report.rendering.overview import OverviewRow
from damdrift.report_layout import key_segment

if TYPE_CHECKING:
    from damdrift.store import ReportStore

RUNS = "runs"
RUN_FILENAME = "run.json"


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class NoticeTopic(StrEnum):
    DRIFT = "drift"
    OPS = "ops"


class SubscriberNotice(Camel):
    """The subscriber's own notice, as its check built it (subject, message, SNS attributes, chat)."""

    topic: NoticeTopic
    subject: str
    message: str
    attributes: dict[str, str]
    #: The chat event's JSON (AWS Chatbot's custom notification), when the stack has a chat topic.
    chat: str | None = None


class RunRecord(Camel):
    subscriber_id: str
    row: OverviewRow
    #: The notify policy says this check is worth telling (ERRORED always is).
    attention: bool
    #: Its own notice went out from the subscriber check (per-subscriber notices, or a remediation).
    notified_separately: bool = False
    notice: SubscriberNotice | None = None


def run_prefix(publisher: str, execution: str) -> str:
    return f"{RUNS}/{key_segment('publisher', publisher)}/{key_segment('execution', execution)}/"


def record_key(publisher: str, execution: str, subscriber_id: str) -> str:
    return f"{run_prefix(publisher, execution)}subscribers/{key_segment('subscriberId', subscriber_id)}.json"


def put_record(store: ReportStore, publisher: str, execution: str, record: RunRecord) -> None:
    """Stores the record; ReportStorageError if S3 refuses (the fetch step's retry writes it again)."""
    store.put_document(
        record_key(publisher, execution, record.subscriber_id),
        record.model_dump(mode="json", by_alias=True, exclude_none=True),
        check_prefix=run_prefix(publisher, execution),
    )


def read_records(
    store: ReportStore, publisher: str, execution: str, subscriber_ids: Iterable[str]
) -> dict[str, RunRecord]:
    """One GET per subscriber of the run. A missing or unreadable record is left out (logged): the Map's
    result still says that subscriber's status."""
    found: dict[str, RunRecord] = {}
    for subscriber_id in subscriber_ids:
        try:
            document = store.get_document(record_key(publisher, execution, subscriber_id))
            if document is not None:
                found[subscriber_id] = RunRecord.model_validate(document)
        except (ReportStorageError, ValidationError, ValueError) as exc:
            logger.warning(
                "a subscriber's run record could not be read",
                extra={"subscriberId": subscriber_id[:200], "error": str(exc)[:300]},
            )
    return found
