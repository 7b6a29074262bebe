"""How a check's two report files, ``records.jsonl.gz`` and ``report.csv``, get into the report bucket.

While the report downloads, each full part is stored under its own prefix, then the checkpoint that lists
it (:func:`store_part`). Once it has downloaded, either the local files are uploaded
(:func:`upload_report_files`: a report without parts, or one whose parts are too small to join), or S3
joins the parts already stored (:func:`compose`, multipart ``UploadPartCopy``) so the bytes are not
uploaded twice; :func:`damdrift.report.ingest.download.store_report` chooses. All of them write through
:meth:`ReportStore.storing <damdrift.store.ReportStore.storing>`, so a failure says what of the check is
already stored.

``records.jsonl.gz`` is stored as ``application/gzip`` *without* ``Content-Encoding: gzip``: with that
header browsers, curl and presigned-URL downloads decompress on the fly and save plain text under a
``.gz`` name. The object is the file, byte for byte.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from damdrift.errors import ReportStorageError
from damdrift.report.ingest.checkpoint import PARTS_DIRNAME, Checkpoint, StoredPart, checkpoint_key
from damdrift.report.ingest.writer import CSV_FILENAME, RECORDS_FILENAME, ReportFiles
from damdrift.store import STORAGE_ERRORS, ReportStore

RECORDS_CONTENT_TYPE = "application/gzip"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


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
        raise exc.stored_so_far(checkpoint.describe(store.bucket, prefix)) from exc
    return updated


def upload_report_files(
    store: ReportStore, prefix: str, files: ReportFiles, *, check_prefix: str | None = None
) -> dict[str, str]:
    """Upload both report files under ``prefix``; returns ``{"records": key, "csv": key}``.

    ``check_prefix`` (default ``prefix``): the check whose stored keys a failure lists.
    """
    uploads = (
        ("records", files.records_path, RECORDS_FILENAME, RECORDS_CONTENT_TYPE),
        ("csv", files.csv_path, CSV_FILENAME, CSV_CONTENT_TYPE),
    )
    return {
        name: store.put_file(prefix + filename, path, content_type, check_prefix=check_prefix or prefix)
        for name, path, filename, content_type in uploads
    }


def compose(
    store: ReportStore,
    key: str,
    copies: list[str],
    last: Path | None,
    content_type: str,
    *,
    check_prefix: str,
) -> str:
    """Store at ``key`` the objects ``copies`` one after another, then the local file ``last``.

    S3 joins them itself (multipart ``UploadPartCopy``, 4 parts at a time): nothing is downloaded or
    uploaded again. Every part but the last must be at least 5 MiB (S3 refuses the upload otherwise). A
    failure aborts the upload, so no orphaned parts are left behind; returns the key.
    """
    s3, bucket = store.client, store.bucket

    def run() -> None:
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
        upload_id = upload["UploadId"]
        try:
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-compose") as pool:
                copied = pool.map(
                    lambda numbered: s3.upload_part_copy(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=numbered[0],
                        CopySource={"Bucket": bucket, "Key": numbered[1]},
                    )["CopyPartResult"]["ETag"],
                    enumerate(copies, 1),
                )
                etags = list(copied)
            if last is not None:
                with open(last, "rb") as body:
                    answer = s3.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(etags) + 1, Body=body
                    )
                etags.append(answer["ETag"])
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": tag} for n, tag in enumerate(etags, 1)]},
            )
        except BaseException:
            with contextlib.suppress(*STORAGE_ERRORS):
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    store.storing(key, run, check_prefix=check_prefix)
    return key
