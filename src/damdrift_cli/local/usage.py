"""Counts the AWS calls a local run makes, where they are made: a botocore ``before-call`` hook.

Every boto3 client of the run carries it — the functions' (their S3, SNS and Secrets Manager clients,
s3transfer's multipart calls included) and the state machine's own service integrations (moto's
interpreter: ``sns:publish`` of the Notify states) — except the local operator's, which only inspects
the run (polling the execution, reading histories, copying reports) and is not part of what a deployed
stack would pay for. The prices are :mod:`damdrift.fleet.pricing`'s.

One hook per API call, before botocore's retries: a retried request is billed again on AWS but
counted once here (the local run's S3 and SNS do not fail unless a test makes them).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

EVENT = "before-call"


@dataclass
class Calls:
    """What the hook saw: calls by (service, operation), and the size of each SNS message published."""

    by_operation: Counter[tuple[str, str]] = field(default_factory=Counter)
    sns_messages: list[int] = field(default_factory=list)

    def of(self, service: str) -> dict[str, int]:
        return {op: n for (svc, op), n in self.by_operation.items() if svc == service}


class CallMeter:
    def __init__(self, ignored_access_keys: set[str]) -> None:
        self._ignored = ignored_access_keys
        self._lock = threading.Lock()
        self.calls = Calls()

    def __call__(self, model: Any = None, params: Any = None, request_signer: Any = None, **_: Any) -> None:
        credentials = getattr(request_signer, "_credentials", None)
        if getattr(credentials, "access_key", None) in self._ignored or model is None:
            return
        service, operation = model.service_model.service_name, model.name
        with self._lock:
            self.calls.by_operation[(service, operation)] += 1
            if (service, operation) == ("sns", "Publish"):
                body = params.get("body") if isinstance(params, dict) else None
                message = body.get("Message", "") if isinstance(body, dict) else ""
                self.calls.sns_messages.append(len(str(message).encode("utf-8")))

    def take(self) -> Calls:
        """What was counted since the last ``take`` (the run's own calls)."""
        with self._lock:
            taken, self.calls = self.calls, Calls()
        return taken

    @contextlib.contextmanager
    def installed(self) -> Iterator[CallMeter]:
        """On every botocore session created from now on, and on boto3's default session if one exists."""
        entry = (EVENT, self)
        BUILTIN_HANDLERS.append(entry)
        existing = boto3.DEFAULT_SESSION
        if existing is not None:
            existing.events.register(EVENT, self, unique_id="damdrift-call-meter")
        try:
            yield self
        finally:
            BUILTIN_HANDLERS.remove(entry)
            if existing is not None:
                existing.events.unregister(EVENT, unique_id="damdrift-call-meter")
