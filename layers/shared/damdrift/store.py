"""The report bucket's object I/O, and where S3's errors become ``ReportStorageError``.

``ReportStore`` gets and puts bytes, files and JSON documents (conditionally, by version), and lists
keys; what those objects mean lives elsewhere, one module per concept:

* :mod:`damdrift.report_layout`: the key layout (pure functions, no boto3);
* :mod:`damdrift.report.ingest.upload`: a check's ``records.jsonl.gz`` and ``report.csv`` into S3, uploaded or
  composed in S3 from the stored parts;
* :mod:`damdrift.report_history`: which subscribers and which checks are stored, and their summaries;
* :mod:`damdrift.latest_pointer`: each subscriber's ``latest.json``.

A failed write raises ``ReportStorageError`` saying which objects of that check are already stored: the
store remembers the keys it wrote recently (a bounded list, since a Lambda keeps one store across
invocations). Encryption is the bucket's default.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from damdrift.errors import ReportStorageError, StorageAccessDenied

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JSON_CONTENT_TYPE = "application/json"

_MIB = 1024 * 1024
#: One PUT up to 64 MiB (a report part of 250k records is ~15 MB gzip + ~25 MB CSV), streamed from the
#: file: measured against moto, ~2 MB of memory instead of ~11 MB for 8 MiB multipart pieces (they are
#: buffered), and ~30% faster. Bigger files go multipart in 8 MiB parts, 4 at a time (~32 MiB of buffers).
DEFAULT_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=64 * _MIB, multipart_chunksize=8 * _MIB, max_concurrency=4, use_threads=True
)

#: What S3 calls raise: a write or read failing with one of these becomes a ``ReportStorageError``.
STORAGE_ERRORS = (BotoCoreError, ClientError, Boto3Error, OSError)
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

    @property
    def client(self) -> S3Client:
        """The S3 client, for a write this class has no method for (run it through :meth:`storing`)."""
        return self._s3

    def storing(self, key: str, store: Callable[[], object], *, check_prefix: str) -> None:
        """Run ``store`` (one S3 write of ``key``); on failure raise ``ReportStorageError`` saying what is
        already stored for the check under ``check_prefix``. Every write of this store goes through here."""
        try:
            store()
        except STORAGE_ERRORS as exc:
            done = [f"s3://{self.bucket}/{k}" for k in self._recent if k.startswith(check_prefix)]
            raise ReportStorageError(
                f"storing s3://{self.bucket}/{key} failed ({_describe(exc)}); already stored for this check: "
                + (", ".join(done) or "nothing")
            ) from exc
        self._recent.append(key)

    # -- JSON documents (checkpoints, pointers, approvals, overview rows) ------------------------------------

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

    # -- bytes, files and streams ----------------------------------------------------------------------------

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
        self.storing(key, upload, check_prefix=check_prefix)
        return key

    def put_bytes(self, key: str, body: bytes, content_type: str, *, check_prefix: str) -> str:
        """Store ``body`` at ``key``; returns the key."""
        put = partial(self._s3.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        self.storing(key, put, check_prefix=check_prefix)
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

    def append_object(self, key: str, target: BinaryIO) -> int:
        """Stream the object at ``key`` onto the end of ``target``; returns the number of bytes."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            copied = 0
            while chunk := body.read(_MIB):
                target.write(chunk)
                copied += len(chunk)
        except STORAGE_ERRORS as exc:
            raise self._read_error(key, exc) from exc
        return copied

    def open_object(self, key: str) -> IO[bytes]:
        """The object as a stream (nothing is buffered): read it, then close it."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except STORAGE_ERRORS as exc:
            raise self._read_error(key, exc) from exc
        return cast(IO[bytes], body)

    # -- listing and deleting --------------------------------------------------------------------------------

    def keys_under(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        return [str(item["Key"]) for item in self.list_objects(prefix)]

    def list_objects(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix``, as S3 lists it (``Key``, ``LastModified``, ``Size``, …)."""
        items: list[dict[str, Any]] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                items.extend(dict(item) for item in page.get("Contents", []))
        except STORAGE_ERRORS as exc:
            raise self._read_error(prefix, exc) from exc
        return items

    def list_folders(self, prefix: str) -> list[str]:
        """The ``prefix<name>/`` "folders" directly under ``prefix`` (a ``/``-delimited listing)."""
        folders: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            ):
                folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except STORAGE_ERRORS as exc:
            raise self._read_error(prefix, exc) from exc
        return folders

    def delete_objects(self, keys: list[str]) -> None:
        """Delete ``keys`` (at most 1000); a key that is already gone is not an error."""
        if not keys:
            return
        try:
            answer = self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except STORAGE_ERRORS as exc:
            raise ReportStorageError(f"deleting {len(keys)} objects failed ({_describe(exc)})") from exc
        failed = answer.get("Errors", [])
        if failed:
            first = failed[0]
            raise ReportStorageError(
                f"deleting {len(failed)} of {len(keys)} objects failed, first s3://{self.bucket}/"
                f"{first.get('Key')}: {first.get('Code')}"
            )

    # -- the S3 calls behind the methods above, and their errors ---------------------------------------------

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
        self.storing(key, put, check_prefix=check_prefix)

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
        except STORAGE_ERRORS as exc:
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


#: S3's answers when another writer changed the object between our read and our conditional write.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
