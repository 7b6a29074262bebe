"""A baseline: today's drift of one subscriber, accepted, as ignore rules (like driftctl's gen-driftignore).

From a baseline on, a check only alarms about drift the baseline does not list; the baselined records
stay in every report, counted as ignored. One rule per record type and action lists the exact record
ids (``recordIds``: a set look-up however many), scoped to the run's publisher and subscriber, so a
baseline of one subscriber never hides another's drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from damdrift.models.summary import Summary, counts_table
from damdrift.report.records.fields import field_value, record_action, record_type
from damdrift.report.records.ignore import IgnoreRule, IgnoreRules


@dataclass(frozen=True)
class Baseline:
    rules: list[IgnoreRule]
    records: int
    #: Records without a string id: a rule cannot name them without ignoring their whole type/action.
    skipped: int


def baseline_rules(
    summary: Summary,
    records: Iterable[Mapping[str, Any]],
    *,
    comment: str | None = None,
    expires: date | datetime | None = None,
) -> Baseline:
    """Rules that ignore exactly the ``records`` of the check ``summary`` describes."""
    ids: dict[tuple[str, str], dict[str, None]] = {}  # a dict keeps the ids in report order, once each
    count = skipped = 0
    for raw in records:
        record_id = field_value(raw, "recordId")
        count += 1
        if not isinstance(record_id, str):
            skipped += 1
            continue
        ids.setdefault((record_type(raw), record_action(raw)), {})[record_id] = None
    note = comment or f"baseline of check {summary.execution} ({count} records)"
    order = {(rtype, action): i for i, (rtype, action, _n) in enumerate(counts_table(_counts(ids)))}
    rules = [
        IgnoreRule(
            publisher=summary.publisher,
            subscriber_id=summary.subscriber_id,
            record_type=rtype,
            record_action=action,
            record_ids=tuple(found),
            expires=expires,
            comment=note,
        )
        for (rtype, action), found in sorted(ids.items(), key=lambda item: order[item[0]])
    ]
    return Baseline(rules, count, skipped)


def merged(existing: IgnoreRules | None, baseline: Baseline) -> IgnoreRules:
    """``existing`` rules with the baseline's appended (indices of existing rules do not move)."""
    return IgnoreRules(rules=[*(existing.rules if existing else []), *baseline.rules])


def _counts(ids: Mapping[tuple[str, str], Mapping[str, None]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for (rtype, action), found in ids.items():
        counts.setdefault(rtype, {})[action] = len(found)
    return counts


def records_of(lines: Iterable[bytes | str]) -> Iterable[dict[str, Any]]:
    """Records from JSON lines (a ``records.jsonl.gz`` opened with gzip)."""
    for line in lines:
        if line.strip():
            yield json.loads(line)
