"""Streams mismatch records to the two report files while they are being downloaded.

A report can hold a million records and Lambda has little memory, so nothing is kept: each record is
written to ``records.jsonl.gz`` (the evidence, lossless) and ``report.csv`` (what dxclient users open),
counted, and forgotten. The files go to a local directory (Lambda's ``/tmp``) and are uploaded
afterwards by :mod:`damdrift.report.ingest.upload`.

If the download fails half-way, closing the writer still leaves two valid files holding every record
added so far: a partial report is evidence too.

Compression level, measured on the dev box (2 vCPU; 1,000,000 records of ~270 bytes = 260 MiB of JSON
lines): zlib alone took 1.6 s at level 1 (55.1 MB), 2.3 s at level 3 (52.9 MB), 4.8 s at level 6, gzip's
default (48.2 MB); the whole writer took 5.4 s, 5.6 s and 8.3 s. Level 1 is the default: Lambda time
per million records is worth more than 10% of a few tens of MB in S3. Peak memory stays ~2 MB.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import json.encoder
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from damdrift.report.records.fields import CSV_COLUMNS, check_new_pair, record_action, record_type

RECORDS_FILENAME = "records.jsonl.gz"
CSV_FILENAME = "report.csv"
DEFAULT_COMPRESSLEVEL = 1

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); a leading
# single quote makes it plain text.
_FORMULA_START = frozenset("=+-@\t\r")
_FORMULA_AFTER_COMMA = re.compile(r",[-=+@\t\r]")
# JSON lines are joined and compressed in batches: one gzip write per batch, not per record.
_BATCH_RECORDS = 1024
_BATCH_CHARS = 1 << 20
_IO_BUFFER = 1 << 20

# Lone surrogates (a JSON "\ud800" escape, or bytes a lenient decoder smuggled through) cannot be UTF-8
# encoded. records.jsonl.gz keeps them exactly, as \u escapes; report.csv shows U+FFFD instead.
_CSV_ERRORS = "damdrift.csv-replace"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_with_fffd(error: UnicodeError) -> tuple[bytes, int]:
    # Bytes, not "\ufffd": CPython's UTF-8 encoder only accepts an ASCII str as a replacement.
    if isinstance(error, UnicodeEncodeError):
        return "\ufffd".encode() * (error.end - error.start), error.end
    raise error


codecs.register_error(_CSV_ERRORS, _replace_with_fffd)


def _json_line_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, minus the per-call set-up.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which is 40% of the encoding time for
    a small record; this builds stdlib's own C encoder once. It is private API, so anything unexpected
    (no accelerator, another signature, other output) falls back to ``JSONEncoder.encode``.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
    try:
        iterencode = make_c_encoder(  # type: ignore[misc]
            None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def encode(value: Any) -> str:
            return "".join(iterencode(value, 0))

        probe = {"a": [1, 2.5, None, True, "é\n"], "b": {}}
        if encode(probe) == encoder.encode(probe):
            return encode
    except Exception:  # noqa: S110 - any surprise means: use the public API  # nosec B110
        pass
    return encoder.encode


_compact_json = _json_line_encoder()

#: Told each written record's ``(recordType, recordAction)`` and recordId (see
#: damdrift.report.ingest.tracker).
RecordObserver = Callable[[tuple[str, str], Any], None]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The two local report files and what was counted while writing them."""

    records_path: Path
    csv_path: Path
    counts: dict[str, dict[str, int]]
    total: int
    records_bytes: int
    csv_bytes: int


class ReportWriter:
    """Writes records to ``records.jsonl.gz`` and ``report.csv`` in ``directory``, counting them.

    The files are open from construction until :meth:`close` (which ``with`` calls, also on error)::

        with ReportWriter(tmp_dir) as writer:
            writer.add_many(records)
        files = writer.result
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        compresslevel: int = DEFAULT_COMPRESSLEVEL,
        csv_header: bool = True,
        observer: RecordObserver | None = None,
        pairs_seen: set[tuple[str, str]] | None = None,
    ) -> None:
        directory = Path(directory)
        self._observer = observer
        #: The report's distinct (type, action) pairs, shared by the writers of its parts: the bound
        #: (records.MAX_PAIRS) is the whole report's.
        self._pairs_seen = pairs_seen if pairs_seen is not None else set()
        directory.mkdir(parents=True, exist_ok=True)
        self.records_path = directory / RECORDS_FILENAME
        self.csv_path = directory / CSV_FILENAME
        self._pairs: dict[tuple[str, str], int] = {}
        self._total = 0
        self._pending: list[str] = []
        self._pending_chars = 0
        self._files: ReportFiles | None = None
        self._gz = gzip.open(self.records_path, "wb", compresslevel=compresslevel)  # noqa: SIM115
        try:
            self._csv_file = open(  # noqa: SIM115 - closed by close()
                self.csv_path, "w", encoding="utf-8", errors=_CSV_ERRORS, newline="", buffering=_IO_BUFFER
            )
        except BaseException:
            self._gz.close()
            raise
        self._csv = csv.writer(self._csv_file)
        # A later part of a report (see damdrift.report.ingest.download) continues the first's CSV.
        if csv_header:
            self._csv.writerow(CSV_COLUMNS)

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def total(self) -> int:
        """Records written so far."""
        return self._total

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Records written so far, by record type, then record action."""
        nested: dict[str, dict[str, int]] = {}
        for (rtype, action), n in self._pairs.items():
            nested.setdefault(rtype, {})[action] = n
        return nested

    @property
    def result(self) -> ReportFiles:
        """What :meth:`close` returned; only available once the writer is closed."""
        if self._files is None:
            raise RuntimeError("the report writer is still open")
        return self._files

    def add(self, raw: Mapping[str, Any]) -> None:
        """Write one record as DX sent it (see :meth:`add_many`)."""
        self.add_many((raw,))

    def add_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Write each record as DX sent it; returns how many this call wrote.

        A record without a type or action, with one longer than ``records.MAX_NAME_CHARS``, or whose
        pair would be the report's ``records.MAX_PAIRS + 1``-th distinct one raises
        :class:`~damdrift.errors.UnexpectedResponse` before any of it is written, so the files always
        hold exactly :attr:`total` records.
        """
        if self._files is not None:
            raise RuntimeError("the report writer is closed")
        # The hot loop, run once per record. The csv module needs ~2.5 us a row; most rows need no
        # quoting and no formula guard, so they are joined by hand, which gives the same bytes as
        # csv.writer (a test compares them) in a fifth of the time. Other rows go through csv.writer.
        pairs, pending, encode, observe = self._pairs, self._pending, _compact_json, self._observer
        seen = self._pairs_seen
        write, writerow, eol = self._csv_file.write, self._csv.writerow, self._csv.dialect.lineterminator
        formula_after_comma, formula_start = _FORMULA_AFTER_COMMA.search, _FORMULA_START
        written = 0
        try:
            for raw in records:
                rtype = record_type(raw)
                action = record_action(raw)
                key = (rtype, action)
                count = pairs.get(key)
                if count is None:  # a pair new to this writer: bounded (the one look-up a record costs)
                    check_new_pair(key, seen)
                    count = 0
                line = encode(raw)
                # Spellings as in records.FIELD_ALIASES (a test checks every one reaches the CSV).
                subscriber = raw.get("subscriberId")
                if subscriber is None:
                    subscriber = raw.get("subscriber_id")
                record_id = raw.get("recordId")
                if record_id is None:
                    record_id = raw.get("record_id")
                row = (subscriber, rtype, action, record_id, raw.get("created"))
                try:
                    text = ",".join(row)  # type: ignore[arg-type]  # TypeError is the test for "all str"
                except TypeError:  # a null or non-string value: the slow path converts it
                    text = ""
                if (
                    text.count(",") == 4
                    and text[0] not in formula_start
                    and '"' not in text
                    and "\n" not in text
                    and "\r" not in text
                    and formula_after_comma(text) is None
                ):
                    write(text + eol)
                else:
                    writerow([_cell(value) for value in row])
                pending.append(line)
                self._pending_chars += len(line)
                pairs[key] = count + 1
                if observe is not None:
                    observe(key, record_id)
                written += 1
                if len(pending) >= _BATCH_RECORDS or self._pending_chars >= _BATCH_CHARS:
                    self._flush_records()
        finally:
            self._total += written
        return written

    def close(self) -> ReportFiles:
        """Flush and close both files (after an error too: the partial files stay); idempotent."""
        if self._files is not None:
            return self._files
        try:
            self._flush_records()
        finally:
            try:
                self._gz.close()
            finally:
                self._csv_file.close()
        self._files = ReportFiles(
            records_path=self.records_path,
            csv_path=self.csv_path,
            counts=self.counts,
            total=self._total,
            records_bytes=self.records_path.stat().st_size,
            csv_bytes=self.csv_path.stat().st_size,
        )
        return self._files

    def _flush_records(self) -> None:
        if not self._pending:
            return
        self._pending.append("")  # so that the batch ends with a newline
        text = "\n".join(self._pending)
        self._pending.clear()
        self._pending_chars = 0
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            # JSON text can only hold a lone surrogate inside a string, where its \u escape means the
            # same thing: json.loads gives back the very same Python string.
            data = _SURROGATE.sub(_escape_surrogate, text).encode("utf-8")
        self._gz.write(data)


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _cell(value: Any) -> str:
    """A CSV cell: text as is, null as empty, anything else as JSON; never a spreadsheet formula."""
    text = value if isinstance(value, str) else "" if value is None else _compact_json(value)
    if text and text[0] in _FORMULA_START:
        return "'" + text
    return text
