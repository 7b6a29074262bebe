"""What a local run kept, checked against what DX delivered: the fault matrix's and the soak's yardstick.

*Delivered* records are those the simulator sent in full in a ``200`` answer to ``GET
/staging/mismatches`` (a truncated, malformed or dropped answer delivers nothing). A subscriber's report
is **lost** when the run gives it no outcome; or a delivered record is not in the report the run stored,
unless the outcome itself says S3 refused to store it (``ReportStorageError``: the run then ends ERRORED
naming what is stored); or a stored report is not what its summary claims (``total`` records in
``records.jsonl.gz`` and ``report.csv``; for IN_SYNC/DRIFT, exactly DX's mismatch log). :func:`audit`
says which.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from damdrift_cli.simulator.dataset import MismatchFilter

if TYPE_CHECKING:
    from damdrift_cli.local.runner import CheckRun, LocalAws
    from damdrift_cli.simulator import Simulator

MISMATCHES_ENDPOINT = "GET /staging/mismatches"


@dataclass(frozen=True)
class StoredReport:
    """The objects under one check's prefix, read back from S3."""

    prefix: str
    keys: list[str]
    summary: dict[str, Any] | None
    records: list[dict[str, Any]] | None  # None: no records.jsonl.gz
    csv_rows: list[list[str]] | None  # without the header; None: no report.csv
    csv_header: list[str] | None = None


@dataclass
class Audit:
    """One subscriber's outcome in one run, and what is wrong with what it kept (nothing, ideally)."""

    subscriber_id: str
    status: str | None
    error_type: str | None
    delivered: int
    stored: int
    problems: list[str] = field(default_factory=list)
    #: Delivered records S3 would not store, in a run whose outcome says so (ReportStorageError).
    refused_by_s3: int = 0
    #: Checkpoint parts still stored next to a finished report (not a loss: only storage).
    leftovers: list[str] = field(default_factory=list)

    @property
    def lost(self) -> bool:
        return bool(self.problems)


def bucket_objects(aws: LocalAws, prefix: str = "") -> dict[str, bytes]:
    """Every object of the report bucket under ``prefix``, by key."""
    s3 = aws.client("s3")
    bucket = aws._deployed.bucket
    objects: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


def stored_report(aws: LocalAws, prefix: str) -> StoredReport:
    objects = bucket_objects(aws, prefix)
    summary = objects.get(prefix + "summary.json")
    records = objects.get(prefix + "records.jsonl.gz")
    table = objects.get(prefix + "report.csv")
    rows = list(csv.reader(io.StringIO(table.decode("utf-8"), newline=""))) if table is not None else None
    return StoredReport(
        prefix=prefix,
        keys=sorted(objects),
        summary=json.loads(summary) if summary is not None else None,
        records=(
            [json.loads(line) for line in gzip.decompress(records).splitlines() if line.strip()]
            if records is not None
            else None
        ),
        csv_rows=rows[1:] if rows else None,
        csv_header=rows[0] if rows else None,
    )


def delivered_record_ids(simulator: Simulator, subscriber_id: str) -> set[str]:
    """Record ids the simulator sent in full for ``subscriber_id`` (needs ``record_exchanges``)."""
    ids: set[str] = set()
    for exchange in simulator.exchanges:
        if exchange.endpoint != MISMATCHES_ENDPOINT or exchange.status != 200:
            continue
        if exchange.query.get("subscriberId", [None])[0] != subscriber_id or exchange.response_truncated:
            continue
        try:
            page = json.loads(exchange.response_body)
        except (ValueError, RecursionError):
            continue  # a spoiled answer: nothing usable reached the client
        limit = exchange.query.get("limit", [""])[0]
        if not isinstance(page, list) or (limit.isdigit() and len(page) > int(limit)):
            continue  # more rows than the client asked for: an answer it refuses whole
        ids.update(str(row["recordId"]) for row in page if isinstance(row, dict) and "recordId" in row)
    return ids


def dx_log(simulator: Simulator, subscriber_id: str) -> list[dict[str, str]]:
    """The subscriber's whole mismatch log as DX holds it now (what a complete report must hold)."""
    _, rows = simulator.state.mismatch_page(MismatchFilter(subscriber_id), 0, None)
    return list(rows)


def audit(aws: LocalAws, simulator: Simulator, run: CheckRun, subscriber_id: str) -> Audit:
    """Checks the promise for one subscriber of one run: a clear outcome, and no delivered record lost."""
    delivered = delivered_record_ids(simulator, subscriber_id)
    item = next((o for o in run.outcomes if o.get("subscriberId") == subscriber_id), None)
    if item is None:
        return Audit(subscriber_id, None, None, len(delivered), 0, ["no outcome in the execution output"])
    status = str(item.get("status"))
    outcome = item.get("outcome") or {}
    error = outcome.get("error") or item.get("error") or {}
    error_type = error.get("type") or error.get("Error")
    result = Audit(subscriber_id, status, error_type, len(delivered), 0)
    summary_key = outcome.get("summaryKey")
    if not summary_key:
        refused = (item.get("recordError") or {}).get("Error") == "ReportStorageError"
        if delivered and refused:
            result.refused_by_s3 = len(delivered)
        elif delivered:
            result.problems.append(f"{len(delivered)} records were delivered but no summary was stored")
        return result
    report = stored_report(aws, summary_key.rpartition("/")[0] + "/")
    if report.summary is None:
        result.problems.append(f"the output names {summary_key}, which is not stored")
        return result
    total = int(report.summary.get("total", -1))
    records = report.records or []
    result.stored = len(records)
    if report.records is None and (total > 0 or status != "ERRORED"):
        result.problems.append("records.jsonl.gz is missing")
    if len(records) != total and report.records is not None:
        result.problems.append(f"summary says {total} records, records.jsonl.gz holds {len(records)}")
    if report.csv_rows is not None and len(report.csv_rows) != len(records):
        result.problems.append(f"report.csv has {len(report.csv_rows)} rows for {len(records)} records")
    missing = delivered - {str(r.get("recordId")) for r in records}
    if missing and error_type == "ReportStorageError":
        result.refused_by_s3 = len(missing)  # the outcome says S3 refused them: an answer, not a loss
    elif missing:
        result.problems.append(f"{len(missing)} delivered records are not in the stored report")
    if status in ("IN_SYNC", "DRIFT") and records != dx_log(simulator, subscriber_id):
        result.problems.append(f"a {status} report differs from DX's mismatch log")
    result.leftovers = [k for k in report.keys if "/_parts/" in k or k.endswith("/_checkpoint.json")]
    return result
