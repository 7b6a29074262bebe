"""Where reports live in the report bucket: the key layout, as pure functions (no boto3).

Layout (one prefix per check, so runs never overwrite each other)::

    reports/<publisher>/<subscriber>/<YYYY>/<MM>/<DD>/<execution>/records.jsonl.gz
                                                                  /report.csv
                                                                  /summary.json
                                                                  /report.html
                                                                  /record-keys.bin, diff.json,
                                                                   new.jsonl.gz, resolved.jsonl.gz
                                                                  /_parts/, _checkpoint.json while
                                                                   the report downloads
                                                                   (report.ingest.download)
    reports/<publisher>/<subscriber>/latest.json     -> the newest summary's key, status and total,
                                                        and lastGood: the newest usable check's
                                                        (damdrift.latest_pointer)
    reports/<publisher>/<subscriber>/overview.json   -> the subscriber's row of the overview
    reports/<publisher>/overview.html                -> every subscriber's row (report.rendering.overview)

Who reads and writes them: :mod:`damdrift.store` (the S3 I/O), :mod:`damdrift.report.ingest.upload` (the
report files), :mod:`damdrift.report_history` (listing the stored checks).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

SUMMARY_FILENAME = "summary.json"
HTML_FILENAME = "report.html"
LATEST_FILENAME = "latest.json"
ROOT = "reports"

_SEGMENT = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def key_segment(name: str, value: str) -> str:
    """``value`` as one S3 key segment; ValueError naming ``name`` unless it is plainly safe.

    Also the rule for every id DX assigns (:data:`damdrift.dx.models.DxId`): such ids name report keys,
    and no id that passes it can name a path (no ``/``, no ``..``, nothing empty)."""
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value) or ".." in value or value == ".":
        shown = (
            repr(value[:60]) + ("…" if len(value) > 60 else "") if isinstance(value, str) else "a non-string"
        )
        raise ValueError(
            f"{name} {shown} cannot be used in a report key: "
            "use 1-200 of A-Z a-z 0-9 . _ : - (not '.' or '..')"
        )
    return value


def subscriber_prefix(publisher: str, subscriber_id: str) -> str:
    """``reports/<publisher>/<subscriber>/``: every check of one subscriber, and its latest.json."""
    return f"{ROOT}/{key_segment('publisher', publisher)}/{key_segment('subscriberId', subscriber_id)}/"


def prefix_for(publisher: str, subscriber_id: str, started_at: datetime, execution: str) -> str:
    """``reports/<publisher>/<subscriber>/<YYYY>/<MM>/<DD>/<execution>/``, dated in UTC."""
    day = (started_at.replace(tzinfo=UTC) if started_at.tzinfo is None else started_at).astimezone(UTC)
    return (
        f"{subscriber_prefix(publisher, subscriber_id)}{day:%Y/%m/%d}/{key_segment('execution', execution)}/"
    )
