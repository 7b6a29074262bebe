"""What the fetch step learns about each record while writing it: its identity key, and whether an
ignore rule matches it.

:class:`~damdrift.report.ingest.writer.ReportWriter` calls :meth:`RecordTracker.observe` once per
record, so the report is read once: the diff needs no second pass over the current run, and ignored
records are counted as they stream by.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from damdrift.report.records.fields import field_value, record_action, record_type
from damdrift.report.records.identity import KeyCollector, Pair
from damdrift.report.records.ignore import IgnoreMatcher
from damdrift.report.records.keyset import SortedRuns


class RecordTracker:
    """Keys every record (:class:`KeyCollector`) and counts what the ignore rules match.

    With ``spill_dir`` the keys are sorted in chunks and spilled there as they come
    (:class:`~damdrift.report.records.keyset.SortedRuns`): the fetch step's memory then stays flat at any
    size.
    """

    def __init__(self, ignore: IgnoreMatcher | None = None, *, spill_dir: Path | None = None) -> None:
        self.collector = KeyCollector(sink=SortedRuns(spill_dir) if spill_dir is not None else None)
        self._ignore = ignore if ignore else None
        #: Ignored records by (type, action), and by the index of the rule that matched.
        self.ignored: dict[Pair, int] = {}
        self.hits: dict[int, int] = {}
        #: What the writer calls for each record: ``observe((recordType, recordAction), recordId)``.
        self.observe = self._observe_ignoring if self._ignore is not None else self.collector.add

    @property
    def ignore(self) -> IgnoreMatcher | None:
        return self._ignore

    @property
    def ignored_total(self) -> int:
        return sum(self.ignored.values())

    def ignored_counts(self) -> dict[str, dict[str, int]]:
        nested: dict[str, dict[str, int]] = {}
        for (rtype, action), n in self.ignored.items():
            nested.setdefault(rtype, {})[action] = n
        return nested

    def _observe_ignoring(self, pair: Pair, record_id: object) -> None:
        self.collector.add(pair, record_id)
        assert self._ignore is not None
        rule = self._ignore.match(pair[0], pair[1], record_id)
        if rule is not None:
            self.ignored[pair] = self.ignored.get(pair, 0) + 1
            self.hits[rule] = self.hits.get(rule, 0) + 1

    @classmethod
    def from_records_file(
        cls, path: Path, ignore: IgnoreMatcher | None = None, *, spill_dir: Path | None = None
    ) -> RecordTracker:
        """Track a stored report after the fact: for a download resumed from parts stored earlier."""
        tracker = cls(ignore, spill_dir=spill_dir)
        with gzip.open(path, "rb") as lines:
            for line in lines:
                if line.strip():
                    raw = json.loads(line)
                    tracker.observe((record_type(raw), record_action(raw)), field_value(raw, "recordId"))
        return tracker
