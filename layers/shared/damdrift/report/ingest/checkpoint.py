"""What of one check's report is stored in S3, part by part: the checkpoint a retried download resumes from.

Pure models (no I/O): :mod:`damdrift.report.ingest.download` reads the checkpoint and resumes after it,
:mod:`damdrift.report.ingest.upload` stores each next part and the checkpoint that lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from damdrift.model_base import WireModel
from damdrift.report.ingest.writer import CSV_FILENAME, RECORDS_FILENAME

CHECKPOINT_FILENAME = "_checkpoint.json"
PARTS_DIRNAME = "_parts"


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


def merge_counts(into: dict[str, dict[str, int]], more: Mapping[str, Mapping[str, int]]) -> None:
    for record_type, actions in more.items():
        target = into.setdefault(record_type, {})
        for action, n in actions.items():
            target[action] = target.get(action, 0) + n


def checkpoint_key(prefix: str) -> str:
    return prefix + CHECKPOINT_FILENAME
