"""schemathesis hooks for the conformance run: where the simulator keeps an assumption about DX that is
stricter than HCL's spec, generated values are mapped into what DX is assumed to accept, so every other
check (server errors, status codes, schemas, headers, negative data) still runs on these operations.

- ``resyncStatus`` (any string in the spec): ASSUMPTION patch-rejects-unknown-resync-status, a value
  outside MISMATCH-DOC's six is 400. Mapped to FIND_MISMATCH_COMPLETED (no job starts: a START would
  make later requests meet ASSUMPTION second-trigger-409, which the spec does not declare).
- ``offset``/``limit`` on ``GET /staging/mismatches`` (any string in the spec): ASSUMPTION
  offset-limit-integers. Text that is not a non-negative integer is mapped to its length.
- ``status`` on ``GET /operations`` (any string in the spec): ASSUMPTION operations-unknown-status-400.
  Values outside the spec's operation statuses are mapped to FAILED.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from damdrift.dx.models import OperationStatus, ResyncStatus


def _is(ctx: Any, method: str, path: str) -> bool:
    operation = ctx.operation
    return bool(operation.method.upper() == method and operation.path == path)


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    status = body.get("resyncStatus") if isinstance(body, dict) else None
    if isinstance(status, str) and status not in ResyncStatus.__members__:
        body["resyncStatus"] = ResyncStatus.FIND_MISMATCH_COMPLETED.value
    return body


@schemathesis.hook
def map_query(ctx: Any, query: Any) -> Any:
    if not isinstance(query, dict):
        return query
    if _is(ctx, "GET", "/staging/mismatches"):
        for name in ("offset", "limit"):
            value = query.get(name)
            if isinstance(value, str) and value and not value.isdigit():
                query[name] = str(len(value))
    if _is(ctx, "GET", "/operations"):
        status = query.get("status")
        if (
            isinstance(status, str)
            and status
            and any(s.strip() not in OperationStatus.__members__ for s in status.split(",") if s.strip())
        ):
            query["status"] = OperationStatus.FAILED.value
    return query
