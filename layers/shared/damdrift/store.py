"""Where reports live in S3, and the only code that writes them there.

The key layout is :mod:`damdrift.report_layout` (pure functions, no boto3).

``records.jsonl.gz`` is stored as ``application/gzip`` *without* ``Content-Encoding: gzip``: with that
header browsers, curl and presigned-URL downloads decompress on the fly and save plain text under a
``.gz`` name. The object is the file, byte for byte. Encryption is the bucket's default.

A failure raises ``ReportStorageError`` saying which objects of that check are already stored: the store
remembers the keys it wrote recently (a bounded list, since a Lambda keeps one store across invocations).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from damdrift.errors import ReportStorageError, StorageAccessDenied
from damdrift.report.summary import CheckStatus, Summary
from damdrift.report.writer import CSV_FILENAME, RECORDS_FILENAME, ReportFiles
from damdrift.report_layout import (
    LATEST_FILENAME,
    ROOT,
    SUMMARY_FILENAME,
    key_segment,
    subscriber_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RECORDS_CONTENT_TYPE = "application/gzip"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

_MIB = 1024 * 1024
#: One PUT up to 64 MiB (a report part of 250k records is ~15 MB gzip + ~25 MB CSV), streamed from the
#: file: measured against moto, ~2 MB of memory instead of ~11 MB for 8 MiB multipart pieces (they are
#: buffered), and ~30% faster. Bigger files go multipart in 8 MiB parts, 4 at a time (~32 MiB of buffers).
DEFAULT_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=64 * _MIB, multipart_chunksize=8 * _MIB, max_concurrency=4, use_threads=True
)

_STORAGE_ERRORS = (BotoCoreError, ClientError, Boto3Error, OSError)
_RECENT_KEYS = 64
_MISSING = frozenset({"NoSuchKey", "404"})
_DENIED = frozenset({"AccessDenied", "403"})


class ReportStore:
    """Reads and writes report objects in one bucket."""

    def __init__(
        self, s3_client: S3Client, bucket: str, *, transfer_config: TransferConfig | None = None
    ) -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self._transfer_config = transfer_config or DEFAULT_TRANSFER_CONFIG
        self._recent: deque[str] = deque(maxlen=_RECENT_KEYS)

    def upload_report_files(
        self, prefix: str, files: ReportFiles, *, check_prefix: str | None = None
    ) -> dict[str, str]:
        """Upload both report files under ``prefix``; returns ``{"records": key, "csv": key}``.

        ``check_prefix`` (default ``prefix``): the check whose stored keys a failure lists.
        """
        uploads = (
            ("records", files.records_path, RECORDS_FILENAME, RECORDS_CONTENT_TYPE),
            ("csv", files.csv_path, CSV_FILENAME, CSV_CONTENT_TYPE),
        )
        return {
            name: self.put_file(prefix + filename, path, content_type, check_prefix=check_prefix or prefix)
            for name, path, filename, content_type in uploads
        }

    def compose(
        self, key: str, copies: list[str], last: Path | None, content_type: str, *, check_prefix: str
    ) -> str:
        """Store at ``key`` the objects ``copies`` one after another, then the local file ``last``.

        S3 joins them itself (multipart ``UploadPartCopy``): nothing is downloaded or uploaded again.
        Every part but the last must be at least 5 MiB (S3 refuses the upload otherwise). A failure
        aborts the upload, so no orphaned parts are left behind; returns the key.
        """

        def run() -> None:
            upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
            upload_id = upload["UploadId"]
            try:
                with ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-compose") as pool:
                    copied = pool.map(
                        lambda numbered: self._s3.upload_part_copy(
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=numbered[0],
                            CopySource={"Bucket": self.bucket, "Key": numbered[1]},
                        )["CopyPartResult"]["ETag"],
                        enumerate(copies, 1),
                    )
                    etags = list(copied)
                if last is not None:
                    with open(last, "rb") as body:
                        answer = self._s3.upload_part(
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=len(etags) + 1,
                            Body=body,
                        )
                    etags.append(answer["ETag"])
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [{"PartNumber": n, "ETag": tag} for n, tag in enumerate(etags, 1)]
                    },
                )
            except BaseException:
                with contextlib.suppress(*_STORAGE_ERRORS):
                    self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                raise

        self._storing(key, run, check_prefix=check_prefix)
        return key

    def put_summary(self, prefix: str, summary: Summary) -> str:
        """Store ``summary`` as ``<prefix>summary.json``; returns the key."""
        key = prefix + SUMMARY_FILENAME
        self._put_json(key, summary.model_dump(by_alias=True, mode="json"), check_prefix=prefix)
        return key

    def get_summary(self, key: str) -> Summary:
        """The summary stored at ``key``."""
        body = self._get(key)
        if body is None:
            raise ReportStorageError(f"there is no summary at s3://{self.bucket}/{key}")
        try:
            return Summary.model_validate_json(body)
        except ValidationError as exc:
            raise ReportStorageError(
                f"s3://{self.bucket}/{key} is not a dam-drift summary: {exc.error_count()} problems, first: "
                f"{exc.errors()[0]['msg']}"
            ) from exc

    def put_latest(
        self,
        publisher: str,
        subscriber_id: str,
        summary_key: str,
        summary: Summary,
        *,
        last_good: dict[str, Any] | None = None,
    ) -> str:
        """Point ``reports/<publisher>/<subscriber>/latest.json`` at ``summary_key``; returns its key.

        ``lastGood`` points at the newest *usable* check (not ERRORED: a complete report), the one the
        next run compares itself with: this check if it is usable, else ``last_good`` carried over.

        The pointer only moves forward: two executions finishing out of order must not leave it on the
        older one. It is replaced with a conditional write (``If-Match`` the version read, or
        ``If-None-Match`` when there is none) unless it already holds a check that started later.
        """
        key = subscriber_prefix(publisher, subscriber_id) + LATEST_FILENAME
        pointer = {
            "summaryKey": summary_key,
            **summary.model_dump(
                by_alias=True,
                mode="json",
                include={"status", "total", "execution", "started_at", "finished_at"},
            ),
        }
        good = dict(pointer) if summary.status is not CheckStatus.ERRORED else last_good
        check_prefix = summary_key.rpartition("/")[0] + "/"
        for _ in range(_LATEST_ATTEMPTS):
            current, etag = self.get_document_version(key)
            if current is not None and _started_later(current, pointer):
                return key  # a check that started after this one is already recorded
            document = {**pointer, "lastGood": good}
            if self.put_document(key, document, check_prefix=check_prefix, replacing=etag, only_new=not etag):
                return key
        raise ReportStorageError(f"s3://{self.bucket}/{key} kept changing while being updated; not moved")

    def subscriber_prefixes(self, publisher: str) -> list[str]:
        """``reports/<publisher>/<subscriber>/`` of every subscriber with stored checks (one listing)."""
        root = f"{ROOT}/{key_segment('publisher', publisher)}/"
        return self._child_prefixes(root, r"[A-Za-z0-9._:-]{1,200}")

    def get_latest(self, publisher: str, subscriber_id: str) -> dict[str, Any] | None:
        """The subscriber's ``latest.json``, or None before its first stored check."""
        return self.get_document(subscriber_prefix(publisher, subscriber_id) + LATEST_FILENAME)

    # -- the fetch step's checkpoint and report parts (damdrift.report.ingest) -----------------------

    def put_document(
        self,
        key: str,
        document: dict[str, Any],
        *,
        check_prefix: str,
        replacing: str | None = None,
        only_new: bool = False,
    ) -> bool:
        """Store a JSON object at ``key`` (``check_prefix``: whose stored keys a failure lists).

        Conditional when asked: ``replacing`` the version read (an ETag from
        :meth:`get_document_version`), or ``only_new`` (create, never replace). Returns False when
        another writer got there first; True when stored.
        """
        condition: dict[str, Any] = {}
        if replacing is not None:
            condition = {"IfMatch": replacing}
        elif only_new:
            condition = {"IfNoneMatch": "*"}
        try:
            self._put_json(key, document, check_prefix=check_prefix, condition=condition)
        except ReportStorageError as exc:
            if condition and isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) in _LOST_RACE:
                return False
            raise
        return True

    def get_document_version(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """The JSON object at ``key`` and its ETag, or (None, None) when there is no such key.

        For a read-then-replace (:meth:`put_document` ``replacing``): an object that is not a JSON
        object reads as ``{}``, so it gets replaced like any other.
        """
        found = self._get_object(key)
        if found is None:
            return None, None
        body, etag = found
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        return (document if isinstance(document, dict) else {}), etag or None

    def keys_under(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        return [str(item["Key"]) for item in self._list(prefix)]

    def get_document(self, key: str) -> dict[str, Any] | None:
        """The JSON object at ``key``, or None when there is no such key."""
        body = self._get(key)
        if body is None:
            return None
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise ReportStorageError(f"s3://{self.bucket}/{key} is not JSON") from exc
        if not isinstance(document, dict):
            raise ReportStorageError(f"s3://{self.bucket}/{key} is not a JSON object")
        return document

    def append_object(self, key: str, target: BinaryIO) -> int:
        """Stream the object at ``key`` onto the end of ``target``; returns the number of bytes."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            copied = 0
            while chunk := body.read(_MIB):
                target.write(chunk)
                copied += len(chunk)
        except _STORAGE_ERRORS as exc:
            raise self._read_error(key, exc) from exc
        return copied

    def delete_objects(self, keys: list[str]) -> None:
        """Delete ``keys`` (at most 1000); a key that is already gone is not an error."""
        if not keys:
            return
        try:
            answer = self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except _STORAGE_ERRORS as exc:
            raise ReportStorageError(f"deleting {len(keys)} objects failed ({_describe(exc)})") from exc
        failed = answer.get("Errors", [])
        if failed:
            first = failed[0]
            raise ReportStorageError(
                f"deleting {len(failed)} of {len(keys)} objects failed, first s3://{self.bucket}/"
                f"{first.get('Key')}: {first.get('Code')}"
            )

    # -- history and the diff's inputs (damdrift.report.insight) ---------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str, *, check_prefix: str) -> str:
        """Upload a local file (multipart when large); returns the key."""
        upload = partial(
            self._s3.upload_file,
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
            Config=self._transfer_config,
        )
        self._storing(key, upload, check_prefix=check_prefix)
        return key

    def put_bytes(self, key: str, body: bytes, content_type: str, *, check_prefix: str) -> str:
        """Store ``body`` at ``key``; returns the key."""
        put = partial(self._s3.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        self._storing(key, put, check_prefix=check_prefix)
        return key

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        return self._get(key)

    def download(self, key: str, path: Path) -> bool:
        """Stream the object at ``key`` into the file ``path``; False (and no file) when there is none."""
        try:
            with open(path, "wb") as target:
                self.append_object(key, target)
        except ReportStorageError as exc:
            path.unlink(missing_ok=True)
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def open_object(self, key: str) -> IO[bytes]:
        """The object as a stream (nothing is buffered): read it, then close it."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except _STORAGE_ERRORS as exc:
            raise self._read_error(key, exc) from exc
        return cast(IO[bytes], body)

    def newest_summary_keys(self, publisher: str, subscriber_id: str, limit: int) -> list[str]:
        """The keys of the subscriber's newest ``limit`` summaries, newest first.

        Listing every check of a subscriber gets slower with each run, so this walks the dated key
        layout backwards: years, then months (newest first, by ``/``-delimited listings), listing only
        the months it needs; a month of daily checks is one page. Within a month, summaries are ordered
        by day, then by when they were stored.
        """
        if limit <= 0:
            return []
        root = subscriber_prefix(publisher, subscriber_id)
        found: list[str] = []
        for year in self._child_prefixes(root, r"\d{4}"):
            for month in self._child_prefixes(year, r"\d{2}"):
                summaries = [
                    (item["Key"].split("/")[-3], item["LastModified"], item["Key"])
                    for item in self._list(month)
                    if item["Key"].endswith("/" + SUMMARY_FILENAME)
                    and item["Key"].count("/") == month.count("/") + 2
                ]
                summaries.sort(reverse=True)
                found.extend(key for _day, _modified, key in summaries)
                if len(found) >= limit:
                    return found[:limit]
        return found

    def _child_prefixes(self, prefix: str, name: str) -> list[str]:
        """The ``prefix<name>/`` "folders" under ``prefix`` whose name matches ``name``, newest first."""
        pattern = re.compile(re.escape(prefix) + name + "/")
        folders: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            ):
                folders.extend(
                    p["Prefix"] for p in page.get("CommonPrefixes", []) if pattern.fullmatch(p["Prefix"])
                )
        except _STORAGE_ERRORS as exc:
            raise self._read_error(prefix, exc) from exc
        return sorted(folders, reverse=True)

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                items.extend(dict(item) for item in page.get("Contents", []))
        except _STORAGE_ERRORS as exc:
            raise self._read_error(prefix, exc) from exc
        return items

    def _put_json(
        self,
        key: str,
        document: dict[str, Any],
        *,
        check_prefix: str,
        condition: dict[str, Any] | None = None,
    ) -> None:
        text = json.dumps(document, ensure_ascii=False, indent=2)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate DX sent (a JSON "\ud800"): keep it as an escape
            body = json.dumps(document, ensure_ascii=True, indent=2).encode("ascii")
        put = partial(
            self._s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=JSON_CONTENT_TYPE,
            **(condition or {}),
        )
        self._storing(key, put, check_prefix=check_prefix)

    def _storing(self, key: str, store: Callable[[], object], *, check_prefix: str) -> None:
        """Run ``store``; on failure say what is already stored for the check under ``check_prefix``."""
        try:
            store()
        except _STORAGE_ERRORS as exc:
            done = [f"s3://{self.bucket}/{k}" for k in self._recent if k.startswith(check_prefix)]
            raise ReportStorageError(
                f"storing s3://{self.bucket}/{key} failed ({_describe(exc)}); already stored for this check: "
                + (", ".join(done) or "nothing")
            ) from exc
        self._recent.append(key)

    def _get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        found = self._get_object(key)
        return None if found is None else found[0]

    def _get_object(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None when there is no such key."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), str(response.get("ETag", ""))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._read_error(key, exc) from exc
        except _STORAGE_ERRORS as exc:
            raise self._read_error(key, exc) from exc

    def _read_error(self, key: str, exc: Exception) -> ReportStorageError:
        """A 403 is never read as "absent": S3 answers a missing key with 403 to a caller without
        s3:ListBucket, so absent and forbidden look alike and only the role can tell them apart."""
        if isinstance(exc, ClientError) and _code(exc) in _DENIED:
            return StorageAccessDenied(
                f"reading s3://{self.bucket}/{key} was refused ({_describe(exc)}): the role needs "
                "s3:GetObject on the key and s3:ListBucket on the bucket (without it S3 reports a missing "
                "object as AccessDenied)"
            )
        return ReportStorageError(f"reading s3://{self.bucket}/{key} failed ({_describe(exc)})")


def _describe(exc: Exception) -> str:
    """``Code: message`` for an S3 error, else the exception's class and text (never credentials)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".rstrip(": ")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, Boto3Error) and isinstance(cause, ClientError):
        return _describe(cause)
    return f"{type(exc).__name__}: {exc}"


_LATEST_ATTEMPTS = 5
#: S3's answers when another writer changed the object between our read and our conditional write.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _started_later(current: dict[str, Any], pointer: dict[str, Any]) -> bool:
    """Whether ``current`` (latest.json) records a check that started after ``pointer``'s.

    A verifying check (``<execution>-verify``) shares its execution's start and finishes later, so it
    moves the pointer; a pointer written before ``startedAt`` existed counts as older.
    """

    def moment(document: dict[str, Any], field: str) -> datetime | None:
        value = document.get(field)
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
        except ValueError:
            return None

    current_start, ours = moment(current, "startedAt"), moment(pointer, "startedAt")
    if current_start is None or ours is None:
        return False
    if current_start != ours:
        return current_start > ours
    current_end, our_end = moment(current, "finishedAt"), moment(pointer, "finishedAt")
    return current_end is not None and our_end is not None and current_end > our_end
