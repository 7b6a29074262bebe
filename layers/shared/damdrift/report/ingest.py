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

import contextlib
import queue
import shutil
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

from pydantic import Field, ValidationError

from damdrift.errors import DxError, ReportStorageError, UnexpectedResponse
from damdrift.model_base import WireModel
from damdrift.observability import logger
from damdrift.report.upload import CSV_CONTENT_TYPE, RECORDS_CONTENT_TYPE, compose, upload_report_files
from damdrift.report.writer import CSV_FILENAME, RECORDS_FILENAME, RecordObserver, ReportFiles, ReportWriter
from damdrift.store import ReportStore

CHECKPOINT_FILENAME = "_checkpoint.json"
PARTS_DIRNAME = "_parts"
#: S3 multipart limits: every part but the last at least 5 MiB, at most 10,000 parts.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
#: Records handed from the download thread to the writer at a time (one DX page at the default size), and
#: how many such batches the thread may fetch ahead of the writer (a few MB of records at most).
READ_AHEAD_BATCH = 1000
READ_AHEAD_DEPTH = 4
#: The GIL switch interval while the download thread runs (CPython's default is 5 ms). See read_ahead().
_SWITCH_INTERVAL = 0.0002
T = TypeVar("T")
_END = object()

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
            raise ReportStorageError(f"{error.message}; {described}") from error
        if error is not None:
            raise error

    def _run(self) -> None:
        try:
            self._keys = store_report(self._store, self._prefix, self._download)
        except BaseException as exc:  # raised in the caller's thread by __exit__
            self._error = exc


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
    checkpoint = load_checkpoint(store, prefix)
    resumed_at = checkpoint.offset
    if resumed_at:
        logger.info("resuming the download from the checkpoint", extra={"offset": resumed_at})
    with _Assembly(workdir) as assembly, contextlib.ExitStack() as stack:
        sizes = [assembly.append_stored(store, part) for part in checkpoint.parts]
        # The report's distinct (type, action) pairs so far, stored parts included: the bound is the
        # whole report's, also when a retry resumes.
        pairs_seen = {(rtype, action) for rtype, actions in checkpoint.counts.items() for action in actions}
        first: list[Mapping[str, Any]] = []
        fetched_records: Iterator[Mapping[str, Any]] = iter(source(resumed_at, checkpoint.first_record))
        if max_records is not None:
            fetched_records = _capped(fetched_records, max_records, resumed_at)
        records = _noting_first(fetched_records, first, resumed_at == 0)
        stack.callback(records.close)
        while True:
            part_dir = workdir / f"part-{len(checkpoint.parts) + 1:05d}"
            writer = ReportWriter(
                part_dir, csv_header=checkpoint.offset == 0, observer=observer, pairs_seen=pairs_seen
            )
            try:
                with writer, contextlib.closing(read_ahead(records, part_records)) as fetched:
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
        upload_report_files(store, part.prefix, files, check_prefix=prefix)
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


def read_ahead(
    source: Iterator[T], limit: int, batch: int = READ_AHEAD_BATCH, depth: int = READ_AHEAD_DEPTH
) -> Generator[T]:
    """Yields the next ``limit`` items of ``source``, while a thread pulls up to ``depth`` batches ahead.

    Why: DX takes its time over every page (here the simulator needs ~25 ms a page, a real DX a query
    and a network), and writing a page costs about as much again; one after the other, each waits for
    the other. With the next pages downloading while this one is written, the download takes little
    longer than DX itself. An error of ``source`` is raised after every item before it, so a partial
    report still holds each record that arrived. Closing the generator stops the thread and waits for
    it, so the client is never used by two threads at once; and the thread never takes more than
    ``limit`` items, so DX is asked for exactly the pages it would be asked for without it (a part ends
    where it did, and nothing past a failed part is downloaded and thrown away).

    While the thread runs the GIL switch interval is 0.2 ms instead of 5 ms (restored when the last
    running read-ahead ends, however it ends): the thread reads each page from its socket in ~10 KB
    reads, and every read would otherwise wait up to 5 ms for the writer to let go of the GIL — that
    wait, not the GIL itself, is what made an earlier read-ahead no faster.
    """
    ready: queue.Queue[list[T] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: list[T] | BaseException | None) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return True
        return False

    def produce() -> None:
        left = limit
        while left > 0:
            want = min(batch, left)
            chunk: list[T] = []
            try:
                # extend() keeps what it appended when the source raises (C speed, no loop here).
                chunk.extend(islice(source, want))
            except BaseException as exc:  # handed to the writer, which raises it after the records before
                if not chunk or put(chunk):
                    put(exc)
                return
            if chunk and not put(chunk):
                return
            if len(chunk) < want:
                break
            left -= want
        put(None)

    with _SHORT_SWITCH_INTERVAL:
        thread = threading.Thread(target=produce, name="dx-read-ahead", daemon=True)
        thread.start()
        try:
            while (got := ready.get()) is not None:
                if isinstance(got, BaseException):
                    raise got
                yield from got
        finally:
            stop.set()
            thread.join()


class _ShortSwitchInterval:
    """Lowers the process's GIL switch interval while at least one read-ahead thread runs.

    ``sys.setswitchinterval`` is process-wide, so it is scoped by a count: the first read-ahead to start
    saves the interval and lowers it, the last to end restores it (downloads may overlap, e.g. the local
    runner's parallel subscriber checks, and one ending must neither restore it under another nor leave
    it lowered for good).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, _SWITCH_INTERVAL))
            self._running += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                sys.setswitchinterval(self._saved)


_SHORT_SWITCH_INTERVAL = _ShortSwitchInterval()


def _capped(
    records: Iterator[Mapping[str, Any]], max_records: int, resumed_at: int
) -> Generator[Mapping[str, Any]]:
    """``records`` up to the report's ``max_records``; one more is an ``UnexpectedResponse``."""
    room = max_records - resumed_at
    if room <= 0:  # a retry after the cap was met: stop before asking DX for anything
        raise UnexpectedResponse(_too_many(max_records))
    yield from islice(records, room)
    if next(records, _END) is not _END:  # one record past the cap
        raise UnexpectedResponse(_too_many(max_records))


def _too_many(max_records: int) -> str:
    return (
        f"DX's mismatch log has more than {max_records} records (REPORT_MAX_RECORDS): a log that does not "
        "end, or a report bigger than this stack allows; the records before the cap are kept"
    )


def _noting_first(
    records: Iterator[Mapping[str, Any]], first: list[Mapping[str, Any]], note: bool
) -> Generator[Mapping[str, Any]]:
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

    def append_stored(self, store: ReportStore, part: StoredPart) -> tuple[int, int]:
        """Appends a stored part; returns the bytes of its records and CSV."""
        records = store.append_object(part.prefix + RECORDS_FILENAME, self._records)
        csv = store.append_object(part.prefix + CSV_FILENAME, self._csv)
        self.written = True
        return records, csv

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
