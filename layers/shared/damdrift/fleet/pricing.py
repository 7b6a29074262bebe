"""What a run costs at us-east-1 list prices: pure arithmetic over counted usage (no API calls).

The figures, from AWS's price pages for US East (N. Virginia), without free tiers or volume tiers:

- Step Functions Standard (aws.amazon.com/step-functions/pricing): $0.025 per 1,000 state transitions.
- Lambda (aws.amazon.com/lambda/pricing): $0.20 per 1M requests; duration, rounded up to 1 ms, at
  $0.0000133334 per GB-second on arm64 (the template's default ``Architecture``) and $0.0000166667 on
  x86_64 (the first tier of each).
- S3 Standard (aws.amazon.com/s3/pricing, "Requests & data retrievals"): PUT, COPY, POST, LIST requests
  $0.005 per 1,000; GET, SELECT and all other requests $0.0004 per 1,000; DELETE and CANCEL requests
  are free. Multipart uploads' create/part/complete are POST/PUT, ListParts is a LIST, HEAD is "other".
- SNS (aws.amazon.com/sns/pricing): $0.50 per 1M publish requests (each 64 KB chunk of a message is one
  request); deliveries (e-mail $2.00 per 100,000, SQS and Lambda free) depend on who subscribes and
  are left out.
- Secrets Manager (aws.amazon.com/secrets-manager/pricing): $0.05 per 10,000 API calls.

``damdrift check`` prints :meth:`Usage.line` (counted from the real calls of a local run:
``damdrift_cli.local.usage``); ``bench/fanout.py`` divides it by the subscriber checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

TRANSITION: Final = 0.025 / 1000
LAMBDA_REQUEST: Final = 0.20 / 1_000_000
GB_SECOND: Final = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
S3_PUT_CLASS: Final = 0.005 / 1000
S3_GET_CLASS: Final = 0.0004 / 1000
SNS_PUBLISH: Final = 0.50 / 1_000_000
SNS_CHUNK_BYTES: Final = 64 * 1024
SECRETS_CALL: Final = 0.05 / 10_000

S3Kind = Literal["PUT", "LIST", "GET", "HEAD", "DELETE", "OTHER"]
#: How S3 bills each operation dam-drift makes (anything else is "other": the GET price).
_S3_KINDS: Final[Mapping[str, S3Kind]] = {
    "PutObject": "PUT",
    "CopyObject": "PUT",
    "CreateMultipartUpload": "PUT",
    "UploadPart": "PUT",
    "UploadPartCopy": "PUT",
    "CompleteMultipartUpload": "PUT",
    "ListObjects": "LIST",
    "ListObjectsV2": "LIST",
    "ListObjectVersions": "LIST",
    "ListParts": "LIST",
    "ListMultipartUploads": "LIST",
    "ListBuckets": "LIST",
    "GetObject": "GET",
    "HeadObject": "HEAD",
    "DeleteObject": "DELETE",
    "DeleteObjects": "DELETE",
    "AbortMultipartUpload": "DELETE",
}
_S3_PRICE: Final[Mapping[S3Kind, float]] = {
    "PUT": S3_PUT_CLASS,
    "LIST": S3_PUT_CLASS,
    "GET": S3_GET_CLASS,
    "HEAD": S3_GET_CLASS,
    "OTHER": S3_GET_CLASS,
    "DELETE": 0.0,
}


def s3_kind(operation: str) -> S3Kind:
    return _S3_KINDS.get(operation, "OTHER")


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation: how long it ran and the memory its function is configured with."""

    seconds: float
    memory_mb: int

    @property
    def gb_seconds(self) -> float:
        return math.ceil(self.seconds * 1000) / 1000 * self.memory_mb / 1024


@dataclass
class Usage:
    state_transitions: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    #: S3 requests by operation name (``PutObject``...).
    s3: dict[str, int] = field(default_factory=dict)
    #: The size in bytes of each SNS message published (a message is billed per 64 KB chunk).
    sns_messages: list[int] = field(default_factory=list)
    secrets_calls: int = 0
    architecture: Literal["arm64", "x86_64"] = "arm64"

    @property
    def gb_seconds(self) -> float:
        return sum(i.gb_seconds for i in self.invocations)

    def s3_by_kind(self) -> dict[S3Kind, int]:
        kinds: dict[S3Kind, int] = {}
        for operation, count in self.s3.items():
            kind = s3_kind(operation)
            kinds[kind] = kinds.get(kind, 0) + count
        return kinds

    @property
    def s3_requests(self) -> int:
        return sum(self.s3.values())

    @property
    def sns_requests(self) -> int:
        return sum(max(1, math.ceil(size / SNS_CHUNK_BYTES)) for size in self.sns_messages)

    def costs(self) -> dict[str, float]:
        """Dollars per service."""
        return {
            "states": self.state_transitions * TRANSITION,
            "lambda": len(self.invocations) * LAMBDA_REQUEST + self.gb_seconds * GB_SECOND[self.architecture],
            "s3": sum(_S3_PRICE[kind] * n for kind, n in self.s3_by_kind().items()),
            "sns": self.sns_requests * SNS_PUBLISH,
            "secrets": self.secrets_calls * SECRETS_CALL,
        }

    @property
    def total(self) -> float:
        return sum(self.costs().values())

    def line(self) -> str:
        """``cost: transitions=... lambda=... s3=PUT:.. GET:.. sns=... total=$...`` on one line."""
        costs = self.costs()
        kinds = " ".join(f"{kind}:{n}" for kind, n in sorted(self.s3_by_kind().items()))
        return (
            f"cost: transitions={self.state_transitions} (${costs['states']:.6f}) "
            f"lambda={len(self.invocations)} invocations {self.gb_seconds:.3f} GB-s (${costs['lambda']:.6f}) "
            f"s3={self.s3_requests} [{kinds or 'none'}] (${costs['s3']:.6f}) "
            f"sns={self.sns_requests} (${costs['sns']:.6f}) secrets={self.secrets_calls} "
            f"(${costs['secrets']:.6f}) total=${self.total:.6f} at us-east-1 list prices"
        )


def per_subscriber(usage: Usage, subscribers: int) -> float:
    return usage.total / max(subscribers, 1)


def merge(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for mapping in counts:
        for key, value in mapping.items():
            merged[key] = merged.get(key, 0) + value
    return merged
