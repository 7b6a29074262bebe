"""A local reports folder, as ``damdrift check --out DIR`` writes it (the S3 key layout, on disk).

``DIR/reports/<publisher>/<subscriber>/<YYYY>/<MM>/<DD>/<execution>/`` is one check ("a run");
``DIR/reports/<publisher>/<subscriber>/latest.json`` points at the newest.
"""

from __future__ import annotations

import gzip
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from damdrift.models.summary import Summary
from damdrift.report.analysis.diff import DIFF_FILENAME, RunDiff
from damdrift.report.ingest.writer import RECORDS_FILENAME
from damdrift.report.records.keyset import KEYS_FILENAME, SortedKeys
from damdrift.report.rendering.html import TrendPoint
from damdrift.report_layout import HTML_FILENAME, LATEST_FILENAME, ROOT, SUMMARY_FILENAME
from damdrift_cli.local.paths import DEFAULT_REPORTS, inside

__all__ = [
    "DEFAULT_REPORTS",
    "ReportsError",
    "Run",
    "inside",
    "latest_run",
    "resolve_run",
    "resolve_runs",
    "runs_of",
    "subscriber_directories",
    "trend",
]


class ReportsError(Exception):
    """A run or subscriber that cannot be found or read; the message says what to do."""


@dataclass(frozen=True)
class Run:
    """One stored check on disk."""

    directory: Path
    summary: Summary

    @classmethod
    def at(cls, path: Path) -> Run:
        """The run in a folder, or the run a ``summary.json`` belongs to."""
        directory = path.parent if path.name == SUMMARY_FILENAME else path
        summary_path = directory / SUMMARY_FILENAME
        if not summary_path.is_file():
            raise ReportsError(f"{path} is not a run: there is no {summary_path}")
        try:
            summary = Summary.model_validate_json(summary_path.read_bytes())
        except ValidationError as exc:
            raise ReportsError(
                f"{summary_path} is not a dam-drift summary ({exc.error_count()} problems)"
            ) from None
        return cls(directory, summary)

    @property
    def records(self) -> Path:
        return self.directory / RECORDS_FILENAME

    @property
    def html(self) -> Path:
        return self.directory / HTML_FILENAME

    def diff(self) -> RunDiff | None:
        path = self.directory / DIFF_FILENAME
        return RunDiff.model_validate_json(path.read_bytes()) if path.is_file() else None

    def sorted_keys(self) -> SortedKeys:
        """This run's record keys: its record-keys.bin, or its records when there is none."""
        path = self.directory / KEYS_FILENAME
        if path.is_file():
            return SortedKeys.read(path.read_bytes())
        if not self.records.is_file():
            raise ReportsError(f"{self.directory} has no {RECORDS_FILENAME}: the check stored no records")
        with open(self.records, "rb") as stream:
            return SortedKeys.from_records_gz(stream)

    def iter_records(self) -> Iterator[dict[str, object]]:
        if not self.records.is_file():
            raise ReportsError(f"{self.directory} has no {RECORDS_FILENAME}: the check stored no records")
        with gzip.open(self.records, "rb") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    def subscriber_directory(self) -> Path:
        """``.../reports/<publisher>/<subscriber>/`` (four levels up: day, month, year, execution)."""
        return self.directory.parents[3]


def subscriber_directories(reports: Path, subscriber: str) -> list[Path]:
    """Folders of ``subscriber`` (its id, or its target host as the latest summary names it)."""
    root = reports / ROOT
    if not root.is_dir() and reports.name == ROOT and reports.is_dir():
        root, reports = reports, reports.parent  # given DIR/reports instead of DIR: no reports/reports/
    if not root.is_dir():
        here = sorted(
            str(p.parent) for p in Path().glob(f"*/{ROOT}") if any(p.glob(f"*/*/{LATEST_FILENAME}"))
        )
        then = (
            f"{', '.join(here)} {'does' if len(here) == 1 else 'do'}: add --reports {shlex.quote(here[0])}"
            if here
            else f"run `damdrift check --out {shlex.quote(str(reports))}` first"
        )
        raise ReportsError(f"{reports} holds no reports (no {root}/); {then}")
    found = [path for path in root.glob(f"*/{subscriber}") if path.is_dir()] if _plain(subscriber) else []
    if found:
        return sorted(found)
    for latest in sorted(root.glob(f"*/*/{LATEST_FILENAME}")):
        run = latest_run(latest.parent)
        if run is not None and run.summary.target_host == subscriber:
            found.append(latest.parent)
    if not found:
        known = sorted({path.parent.name for path in root.glob(f"*/*/{LATEST_FILENAME}")})
        raise ReportsError(
            f"no reports for {subscriber!r} in {reports}; subscribers there: {', '.join(known) or 'none'}"
        )
    return found


def resolve_runs(reports: Path, reference: str, publisher: str | None = None) -> list[Run]:
    """The runs a command-line reference names, newest last: a run folder or its ``summary.json``
    (as a path, or as the stored key ``reports/<publisher>/...`` under ``reports``), else a subscriber
    (id or target host): its runs. A subscriber checked against several publishers is ambiguous
    unless ``publisher`` says which."""
    candidates = [Path(reference), reports / reference]
    if Path(reference).parts[:1] == (ROOT,):  # a stored key: also in a reports folder right here
        candidates += sorted(Path().glob(f"*/{Path(reference).as_posix()}"))
    for candidate in candidates:
        directory = candidate.parent if candidate.name == SUMMARY_FILENAME else candidate
        if (directory / SUMMARY_FILENAME).is_file():
            return [Run.at(directory)]
    if not _plain(reference):
        raise ReportsError(
            f"{reference} is not a run: there is no {Path(reference) / SUMMARY_FILENAME} here or under "
            f"{reports} (--reports names the folder damdrift check --out wrote)"
        )
    directories = subscriber_directories(reports, reference)
    if publisher is not None:
        directories = [d for d in directories if d.parent.name == publisher]
    publishers = sorted({d.parent.name for d in directories})
    if len(publishers) > 1:
        raise ReportsError(
            f"{reference!r} was checked against {len(publishers)} publishers ({', '.join(publishers)}): "
            f"add --publisher {publishers[-1]} (or another of them)"
        )
    runs = [run for directory in directories for run in runs_of(directory)]
    if not runs:
        where = f" from {publisher}" if publisher else ""
        raise ReportsError(f"no checks of {reference!r}{where} in {reports}")
    return runs


def resolve_run(reports: Path, reference: str, publisher: str | None = None) -> Run:
    """:func:`resolve_runs`' newest: a run as given, or a subscriber's latest check."""
    runs = resolve_runs(reports, reference, publisher)
    if len(runs) == 1:
        return runs[0]
    latest = latest_run(runs[-1].subscriber_directory())
    return latest if latest is not None else runs[-1]


def latest_run(subscriber_directory: Path) -> Run | None:
    """The run ``latest.json`` points at (else the newest summary found)."""
    pointer = subscriber_directory / LATEST_FILENAME
    if pointer.is_file():
        try:
            key = json.loads(pointer.read_text(encoding="utf-8"))["summaryKey"]
        except (ValueError, KeyError, TypeError):
            key = None
        reports = subscriber_directory.parents[2]  # DIR/reports/<publisher>/<subscriber> -> DIR
        path = inside(reports, key) if isinstance(key, str) else None
        if path is not None and path.is_file():
            return Run.at(path)
    runs = runs_of(subscriber_directory)
    return runs[-1] if runs else None


def runs_of(subscriber_directory: Path) -> list[Run]:
    """Every stored run of a subscriber, oldest first (by date folder, then finish time)."""
    runs = [Run.at(path) for path in subscriber_directory.glob(f"*/*/*/*/{SUMMARY_FILENAME}")]
    return sorted(runs, key=lambda run: (run.directory.parts[-4:-1], run.summary.finished_at or 0))


def trend(run: Run, limit: int = 30) -> list[TrendPoint]:
    """The trend up to ``run``: it and the runs before it, at most ``limit``, oldest first."""
    earlier = [r for r in runs_of(run.subscriber_directory()) if r.directory != run.directory]
    earlier = [r for r in earlier if _before(r, run)]
    if limit <= 0:
        return []
    kept = earlier[max(0, len(earlier) - (limit - 1)) :]
    return [*(TrendPoint.of(r.summary) for r in kept), TrendPoint.of(run.summary)]


def _before(candidate: Run, run: Run) -> bool:
    mine, theirs = run.summary.finished_at, candidate.summary.finished_at
    return mine is None or theirs is None or theirs <= mine


def _plain(value: str) -> bool:
    return bool(value) and not any(char in value for char in "*?[]/\\") and value not in {".", ".."}
