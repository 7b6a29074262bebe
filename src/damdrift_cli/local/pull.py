"""Brings a deployed stack's reports down from its bucket into the folder layout ``damdrift report`` reads.

The bucket's keys are the local layout (``reports/<publisher>/<subscriber>/...``), so each object lands at
``OUT/<its key>``: ``aws s3 cp`` of a sub-prefix drops the leading levels and gives a folder the report
commands cannot read. A second pull fetches only what changed (size or modification time differ). Keys
are untrusted: one that would resolve outside ``OUT/reports`` (``..``, an absolute key, a symlink;
:func:`~damdrift_cli.local.paths.inside`, the rule every local command uses) is skipped, never written:
``reports/../.viewer-key`` would otherwise replace the local link key. Checkpoint parts of a
download still in progress (``_parts/``, ``_checkpoint.json``) are not reports and are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from damdrift.report_layout import ROOT
from damdrift_cli.local.paths import inside

#: Pieces of a large report's download in progress (``store``'s checkpoints), not part of any report.
PARTIAL_MARKERS = ("/_parts/", "/_checkpoint.json")


class PullError(Exception):
    """The bucket could not be listed or an object not downloaded; the message names the cause."""


@dataclass
class PullResult:
    downloaded: list[Path] = field(default_factory=list)
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)


def pull_reports(s3: Any, bucket: str, out: Path, publisher: str | None = None) -> PullResult:
    """Mirrors ``reports/`` (or ``reports/<publisher>/``) of ``bucket`` into ``out``."""
    prefix = f"{ROOT}/{publisher}/" if publisher else f"{ROOT}/"
    result = PullResult()
    for item in _objects(s3, bucket, prefix):
        key: str = item["Key"]
        if key.endswith("/") or any(marker in key for marker in PARTIAL_MARKERS):
            continue
        target = inside(out / ROOT, key.removeprefix(f"{ROOT}/")) if key.startswith(f"{ROOT}/") else None
        if target is None:
            result.refused.append(key)
            continue
        modified = item["LastModified"].timestamp()
        if _unchanged(target, item["Size"], modified):
            result.unchanged += 1
            continue
        _download(s3, bucket, key, target, modified)
        result.downloaded.append(target)
    return result


def _objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])
    except ClientError as exc:
        raise PullError(f"cannot list s3://{bucket}/{prefix}: {_reason(exc)}") from None
    except BotoCoreError as exc:
        raise PullError(f"cannot list s3://{bucket}/{prefix}: {exc}") from None


def _unchanged(target: Path, size: int, modified: float) -> bool:
    try:
        stat = target.stat()
    except FileNotFoundError:
        return False
    return stat.st_size == size and stat.st_mtime == modified


def _download(s3: Any, bucket: str, key: str, target: Path, modified: float) -> None:
    """Downloads beside the target and renames, so an interrupted pull leaves no half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        s3.download_file(bucket, key, str(partial))
    except ClientError as exc:
        partial.unlink(missing_ok=True)
        raise PullError(f"cannot download s3://{bucket}/{key}: {_reason(exc)}") from None
    except BotoCoreError as exc:
        partial.unlink(missing_ok=True)
        raise PullError(f"cannot download s3://{bucket}/{key}: {exc}") from None
    os.utime(partial, (modified, modified))
    partial.replace(target)


def _reason(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "?"), error.get("Message", "")
    hints = {
        "NoSuchBucket": "no such bucket (the stack's output ReportBucketName names it)",
        "AccessDenied": "access denied (your credentials need s3:ListBucket and s3:GetObject on it)",
        "403": "access denied (your credentials need s3:ListBucket and s3:GetObject on it)",
        "404": "not found",
    }
    return hints.get(code, f"{code}: {message}".rstrip(": "))
