"""The fetch step's download: the mismatch report in parts, checkpointed in S3, so that a record that was
downloaded is never lost and a retried step resumes where the failed attempt stopped.

Records stream from DX into local files (:class:`~damdrift.report.writer.ReportWriter`: gzip JSON Lines
and a dxclient-style CSV). Every ``part_records`` records, the part is stored under
``<check prefix>_parts/<n>/`` and the checkpoint ``<check prefix>_checkpoint.json`` says how many records
are stored and how they count. Then, whatever fails:

* **DX fails mid-download**: the records downloaded so far are stored as one more part (however few),
  the checkpoint moves on and the error goes up. Step Functions retries ``DxUnavailable`` and
  ``UnexpectedResponse``; the retry asks DX only for what follows (``iter_mismatches(start_offset=…)``).
* **S3 refuses a part**: ``ReportStorageError`` says what the checkpoint holds; the retry downloads again
  only the records of the part that was not stored.
* **The retries run out**: RecordErrored calls :func:`salvage`, which turns the stored parts into the
  report, marked ``partial``: every record that reached S3 stays where readers look for the report.

A report smaller than one part never has parts: one upload, as before. A bigger one is assembled from its
parts when the download ends: ``records.jsonl.gz`` is the parts' gzip members one after another (a valid
gzip file, RFC 1952 §2.2: gzip, zcat, Python, Spark and Athena read it whole) and ``report.csv`` the
parts' rows after the header. Once the summary is stored, :func:`discard_parts` removes the parts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field, ValidationError

from damdrift.errors import DxError, ReportStorageError
from damdrift.model_base import WireModel
from damdrift.observability import logger
from damdrift.report.writer import CSV_FILENAME, RECORDS_FILENAME, RecordObserver, ReportFiles, ReportWriter
from damdrift.store import ReportStore

CHECKPOINT_FILENAME = "_checkpoint.json"
PARTS_DIRNAME = "_parts"

#: Records from ``offset`` on, as DX sends them; when resuming, also the report's first record, so that a
#: server ignoring ``offset`` is caught (``DxClient.iter_mismatches(start_offset=…, known_first=…)``).
RecordSource = Callable[[int, Mapping[str, Any] | None], Iterable[Mapping[str, Any]]]


class StoredPart(WireModel):
    """Records ``first_record .. first_record + records - 1`` of the report, stored under ``prefix``."""

    number: int = Field(ge=1)
    first_record: int = Field(ge=0)
    records: int = Field(ge=1)
    counts: dict[str, dict[str, int]]
    prefix: str

    @property
    def keys(self) -> list[str]:
        return [self.prefix + RECORDS_FILENAME, self.prefix + CSV_FILENAME]


class Checkpoint(WireModel):
    """What of one check's report is stored in S3, in order. Written after every stored part."""

    schema_version: Literal[1] = 1
    parts: list[StoredPart] = Field(default_factory=list)
    #: Record 0 as DX sent it: a resumed page that starts with it again means DX ignores ``offset``.
    first_record: dict[str, Any] | None = None

    @property
    def offset(self) -> int:
        """How many records are stored: where the next download starts."""
        return sum(part.records for part in self.parts)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        merged: dict[str, dict[str, int]] = {}
        for part in self.parts:
            merge_counts(merged, part.counts)
        return merged

    def describe(self, bucket: str, prefix: str) -> str:
        """One line for an error message: what is stored and where a retry starts."""
        if not self.parts:
            return "no record of this report is stored yet; a retry downloads it from the start"
        return (
            f"records 0-{self.offset - 1} are stored in {len(self.parts)} part(s) under "
            f"s3://{bucket}/{prefix}{PARTS_DIRNAME}/ (checkpoint s3://{bucket}/{checkpoint_key(prefix)}); "
            f"a retry resumes at record {self.offset}"
        )


@dataclass(frozen=True)
class Download:
    """The whole report as local files (stored parts included), and the checkpoint it ended with."""

    files: ReportFiles
    checkpoint: Checkpoint
    resumed_at: int


def merge_counts(into: dict[str, dict[str, int]], more: Mapping[str, Mapping[str, int]]) -> None:
    for record_type, actions in more.items():
        target = into.setdefault(record_type, {})
        for action, n in actions.items():
            target[action] = target.get(action, 0) + n


def checkpoint_key(prefix: str) -> str:
    return prefix + CHECKPOINT_FILENAME


def load_checkpoint(store: ReportStore, prefix: str) -> Checkpoint:
    """The check's checkpoint, or an empty one before its first stored part."""
    key = checkpoint_key(prefix)
    document = store.get_document(key)
    if document is None:
        return Checkpoint()
    try:
        return Checkpoint.model_validate(document)
    except ValidationError as exc:
        raise ReportStorageError(
            f"s3://{store.bucket}/{key} is not a dam-drift checkpoint ({exc.error_count()} problems)"
        ) from None


def download_report(
    source: RecordSource,
    store: ReportStore,
    prefix: str,
    workdir: Path,
    part_records: int,
    *,
    observer: RecordObserver | None = None,
) -> Download:
    """Downloads every record the checkpoint does not hold yet, storing a part every ``part_records``.

    Raises what DX raised (after storing what had arrived), or ``ReportStorageError`` saying what is
    stored. ``workdir`` must be empty; the caller removes it. ``observer`` sees the records this call
    downloads (not those of parts stored by an earlier attempt: ``resumed_at`` says how many those are).
    """
    if part_records < 1:
        raise ValueError("part_records must be at least 1")
    checkpoint = load_checkpoint(store, prefix)
    resumed_at = checkpoint.offset
    if resumed_at:
        logger.info("resuming the download from the checkpoint", extra={"offset": resumed_at})
    with _Assembly(workdir) as assembly:
        for part in checkpoint.parts:
            assembly.append_stored(store, part)
        first: list[Mapping[str, Any]] = []
        records = _noting_first(iter(source(resumed_at, checkpoint.first_record)), first, resumed_at == 0)
        while True:
            part_dir = workdir / f"part-{len(checkpoint.parts) + 1:05d}"
            writer = ReportWriter(part_dir, csv_header=checkpoint.offset == 0, observer=observer)
            try:
                with writer:
                    writer.add_many(islice(records, part_records))
            except DxError:
                if writer.total:
                    checkpoint = _store_after_failure(store, prefix, checkpoint, writer.result, first)
                raise
            files = writer.result
            if files.total == part_records:
                checkpoint = store_part(store, prefix, checkpoint, files, first)
            if files.total or not assembly.written:
                assembly.append_local(files)
            shutil.rmtree(part_dir, ignore_errors=True)
            if files.total < part_records:
                break  # the log ended: this last, short part stays local
    counts = checkpoint.counts
    merge_counts(counts, files.counts)
    return Download(assembly.result(counts, checkpoint.offset + files.total), checkpoint, resumed_at)


def salvage(store: ReportStore, prefix: str, workdir: Path) -> Download | None:
    """The stored parts as the (partial) report's local files; None when no part was stored."""
    checkpoint = load_checkpoint(store, prefix)
    if not checkpoint.parts:
        return None
    with _Assembly(workdir) as assembly:
        for part in checkpoint.parts:
            assembly.append_stored(store, part)
    return Download(assembly.result(checkpoint.counts, checkpoint.offset), checkpoint, checkpoint.offset)


def discard_parts(store: ReportStore, prefix: str, checkpoint: Checkpoint) -> None:
    """Removes the parts and the checkpoint once the whole report and its summary are stored.

    Best effort: the report is complete either way, and leftover parts only cost storage.
    """
    if not checkpoint.parts:
        return
    keys = [key for part in checkpoint.parts for key in part.keys] + [checkpoint_key(prefix)]
    try:
        for start in range(0, len(keys), 1000):
            store.delete_objects(keys[start : start + 1000])
    except ReportStorageError as exc:
        logger.warning("the report's parts could not be removed", extra={"error": exc.message})


def store_part(
    store: ReportStore,
    prefix: str,
    checkpoint: Checkpoint,
    files: ReportFiles,
    first: list[Mapping[str, Any]] | None = None,
) -> Checkpoint:
    """Stores ``files`` as the next part, then the checkpoint that lists it; returns that checkpoint.

    ``first`` holds the report's first record once the first part has been written.
    """
    number = len(checkpoint.parts) + 1
    part = StoredPart(
        number=number,
        first_record=checkpoint.offset,
        records=files.total,
        counts=files.counts,
        prefix=f"{prefix}{PARTS_DIRNAME}/{number:05d}/",
    )
    first_record = checkpoint.first_record or (dict(first[0]) if first else None)
    updated = Checkpoint(parts=[*checkpoint.parts, part], first_record=first_record)
    try:
        store.upload_report_files(part.prefix, files, check_prefix=prefix)
        store.put_document(checkpoint_key(prefix), updated.to_wire(), check_prefix=prefix)
    except ReportStorageError as exc:
        raise ReportStorageError(f"{exc.message}; {checkpoint.describe(store.bucket, prefix)}") from exc
    return updated


def _store_after_failure(
    store: ReportStore,
    prefix: str,
    checkpoint: Checkpoint,
    files: ReportFiles,
    first: list[Mapping[str, Any]],
) -> Checkpoint:
    try:
        return store_part(store, prefix, checkpoint, files, first)
    except ReportStorageError as exc:
        # The DX error is the one to report (and retry); this one only means fewer records are kept.
        logger.error("could not store the records downloaded before DX failed", extra={"error": exc.message})
        return checkpoint


def _noting_first(
    records: Iterator[Mapping[str, Any]], first: list[Mapping[str, Any]], note: bool
) -> Iterator[Mapping[str, Any]]:
    """``records`` unchanged; the first one is also put in ``first`` (when ``note``)."""
    if note:
        for record in records:
            first.append(record)
            yield record
            break
    yield from records


class _Assembly:
    """The report's two local files, built by appending parts in order."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.records_path = workdir / RECORDS_FILENAME
        self.csv_path = workdir / CSV_FILENAME
        self._records: BinaryIO = open(self.records_path, "wb")  # noqa: SIM115 - closed by __exit__
        self._csv: BinaryIO = open(self.csv_path, "wb")  # noqa: SIM115
        self.written = False

    def __enter__(self) -> _Assembly:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._records.close()
        finally:
            self._csv.close()

    def append_stored(self, store: ReportStore, part: StoredPart) -> None:
        store.append_object(part.prefix + RECORDS_FILENAME, self._records)
        store.append_object(part.prefix + CSV_FILENAME, self._csv)
        self.written = True

    def append_local(self, files: ReportFiles) -> None:
        for source, target in ((files.records_path, self._records), (files.csv_path, self._csv)):
            with open(source, "rb") as part:
                shutil.copyfileobj(part, target, 1 << 20)
        self.written = True

    def result(self, counts: dict[str, dict[str, int]], total: int) -> ReportFiles:
        return ReportFiles(
            records_path=self.records_path,
            csv_path=self.csv_path,
            counts=counts,
            total=total,
            records_bytes=self.records_path.stat().st_size,
            csv_bytes=self.csv_path.stat().st_size,
        )
