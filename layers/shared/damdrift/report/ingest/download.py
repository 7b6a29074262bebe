"""The fetch step's download: the mismatch report in parts, checkpointed in S3, so that a record that was
downloaded is never lost and a retried step resumes where the failed attempt stopped.

Records stream from DX into local files (:class:`~damdrift.report.ingest.writer.ReportWriter`: gzip JSON Lines
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

import contextlib
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from damdrift.errors import DxError, ReportStorageError
from damdrift.observability import logger
from damdrift.report.ingest.checkpoint import Checkpoint, checkpoint_key, merge_counts
from damdrift.report.ingest.stream import capped, noting_first, read_ahead
from damdrift.report.ingest.upload import (
    CSV_CONTENT_TYPE,
    RECORDS_CONTENT_TYPE,
    compose,
    store_part,
    upload_report_files,
)
from damdrift.report.ingest.writer import (
    CSV_FILENAME,
    RECORDS_FILENAME,
    RecordObserver,
    ReportFiles,
    ReportWriter,
)
from damdrift.store import ReportStore

#: S3 multipart limits: every part but the last at least 5 MiB, at most 10,000 parts.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000

#: Records from ``offset`` on, as DX sends them; when resuming, also the report's first record, so that a
#: server ignoring ``offset`` is caught (``DxClient.iter_mismatches(start_offset=…, known_first=…)``).
RecordSource = Callable[[int, Mapping[str, Any] | None], Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Download:
    """The whole report as local files (stored parts included), and the checkpoint it ended with."""

    files: ReportFiles
    checkpoint: Checkpoint
    resumed_at: int
    #: The records after the last stored part, in files of their own (None: no parts, or none after).
    tail: ReportFiles | None = None
    #: Bytes of each stored part's records.jsonl.gz and report.csv, in order.
    part_bytes: tuple[tuple[int, int], ...] = ()


def store_report(store: ReportStore, prefix: str, download: Download) -> dict[str, str]:
    """Stores the whole report under ``prefix``; returns ``{"records": key, "csv": key}``.

    A report stored in parts is assembled in S3 from them (multipart ``UploadPartCopy``, plus the short
    last part uploaded), so its bytes are not uploaded twice. S3 needs every part but the last to be at
    least 5 MiB: with smaller parts (a small ``REPORT_PART_RECORDS``, or a part cut short by a failure)
    the local files are uploaded whole instead, as they are for a report without parts.
    """
    parts, sizes, tail = download.checkpoint.parts, download.part_bytes, download.tail
    inner = sizes if tail is not None else sizes[:-1]
    if (
        not parts
        or len(sizes) != len(parts)
        or len(parts) >= MAX_PARTS
        or any(min(part) < MIN_PART_BYTES for part in inner)
    ):
        return upload_report_files(store, prefix, download.files)
    keys: dict[str, str] = {}
    for name, filename, content_type, local in (
        ("records", RECORDS_FILENAME, RECORDS_CONTENT_TYPE, tail.records_path if tail else None),
        ("csv", CSV_FILENAME, CSV_CONTENT_TYPE, tail.csv_path if tail else None),
    ):
        copies = [part.prefix + filename for part in parts]
        keys[name] = compose(store, prefix + filename, copies, local, content_type, check_prefix=prefix)
    return keys


class StoringReport:
    """The whole report being stored (:func:`store_report`) in a thread while the caller goes on.

    Why: assembling the report in S3 is S3's work (``UploadPartCopy``), seconds at a million records
    that this function would otherwise spend waiting; the keys' merge and the diff that follow read only
    local files, so they run meanwhile. Leaving the ``with`` waits for the store, whatever happened in
    it (the local files it reads stay until then); a storing failure is raised there, in preference to
    an error of the body (which becomes its context), saying what the checkpoint holds, as before.
    """

    def __init__(self, store: ReportStore, prefix: str, download: Download) -> None:
        self._store, self._prefix, self._download = store, prefix, download
        self._keys: dict[str, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-report", daemon=True)

    @property
    def keys(self) -> dict[str, str]:
        """``{"records": key, "csv": key}``, once the ``with`` has ended."""
        if self._keys is None:
            raise RuntimeError("the report is still being stored")
        return self._keys

    def __enter__(self) -> StoringReport:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join()
        error = self._error
        if isinstance(error, ReportStorageError):
            described = self._download.checkpoint.describe(self._store.bucket, self._prefix)
            raise error.stored_so_far(described) from error
        if error is not None:
            raise error

    def _run(self) -> None:
        try:
            self._keys = store_report(self._store, self._prefix, self._download)
        except BaseException as exc:  # raised in the caller's thread by __exit__
            self._error = exc


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
    max_records: int | None = None,
) -> Download:
    """Downloads every record the checkpoint does not hold yet, storing a part every ``part_records``.

    A log longer than ``max_records`` ends the download with ``UnexpectedResponse`` once the first
    ``max_records`` are stored: a DX that pages forever cannot keep a check (or its retries) running.

    Raises what DX raised (after storing what had arrived), or ``ReportStorageError`` saying what is
    stored. ``workdir`` must be empty; the caller removes it. ``observer`` sees the records this call
    downloads (not those of parts stored by an earlier attempt: ``resumed_at`` says how many those are).
    """
    if part_records < 1:
        raise ValueError("part_records must be at least 1")
    with _Assembly(workdir) as assembly, contextlib.ExitStack() as stack:
        checkpoint, sizes = assembly.resume(store, prefix)
        resumed_at = checkpoint.offset
        if resumed_at:
            logger.info("resuming the download from the checkpoint", extra={"offset": resumed_at})
        # The report's distinct (type, action) pairs so far, stored parts included: the bound is the
        # whole report's, also when a retry resumes.
        pairs_seen = {(rtype, action) for rtype, actions in checkpoint.counts.items() for action in actions}
        first: list[Mapping[str, Any]] = []
        fetched_records = capped(iter(source(resumed_at, checkpoint.first_record)), max_records, resumed_at)
        records = noting_first(fetched_records, first, resumed_at == 0)
        stack.callback(records.close)
        while True:
            part_dir = workdir / f"part-{len(checkpoint.parts) + 1:05d}"
            fetched = read_ahead(records, part_records)  # a generator: its thread starts with the writing
            writer = ReportWriter(
                part_dir, csv_header=checkpoint.offset == 0, observer=observer, pairs_seen=pairs_seen
            )
            try:
                with writer, contextlib.closing(fetched):
                    writer.add_many(fetched)
            except DxError:
                if writer.total:
                    checkpoint = _store_after_failure(store, prefix, checkpoint, writer.result, first)
                raise
            files = writer.result
            if files.total == part_records:
                checkpoint = store_part(store, prefix, checkpoint, files, first)
                sizes.append((files.records_bytes, files.csv_bytes))
            if files.total or not assembly.written:
                assembly.append_local(files)
            if files.total < part_records:
                break  # the log ended: this last, short part stays local
            shutil.rmtree(part_dir, ignore_errors=True)
    counts = checkpoint.counts
    merge_counts(counts, files.counts)
    tail = files if files.total and checkpoint.parts else None
    if tail is None:
        shutil.rmtree(part_dir, ignore_errors=True)
    return Download(
        assembly.result(counts, checkpoint.offset + files.total), checkpoint, resumed_at, tail, tuple(sizes)
    )


def salvage(store: ReportStore, prefix: str, workdir: Path) -> Download | None:
    """The stored parts as the (partial) report's local files; None when no part was stored."""
    with _Assembly(workdir) as assembly:
        checkpoint, _ = assembly.resume(store, prefix)
    if not checkpoint.parts:
        return None
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

    def resume(self, store: ReportStore, prefix: str) -> tuple[Checkpoint, list[tuple[int, int]]]:
        """The check's checkpoint, with the parts it lists appended in order (the bytes of each part's
        records and CSV): what an earlier attempt stored, which this one goes on from."""
        checkpoint = load_checkpoint(store, prefix)
        sizes = [
            (
                store.append_object(part.prefix + RECORDS_FILENAME, self._records),
                store.append_object(part.prefix + CSV_FILENAME, self._csv),
            )
            for part in checkpoint.parts
        ]
        self.written = self.written or bool(sizes)
        return checkpoint, sizes

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
