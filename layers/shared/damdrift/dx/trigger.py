"""The requests that *start* DX background jobs — the least certain part of the DX API.

No public source says which HTTP call dxclient's ``find-staging-mismatch`` and ``start-staging-resync``
send. The evidence (dx-api.md §2.3) points to ``PATCH /staging/subscriber/{id}`` with a new
``resyncStatus``. Everything that depends on that guess lives here, so a DX that differs is one
setting away: ``DX_FIND_MISMATCH_REQUEST`` / ``DX_RESYNC_REQUEST`` (``"METHOD /path {json body}"``,
with ``{subscriberId}`` substituted) override the defaults.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

_SPEC = re.compile(
    r"^(?P<method>GET|POST|PUT|PATCH|DELETE)\s+(?P<path>/\S*)(?:\s+(?P<body>\{.*\}))?\s*$", re.S
)


class TriggerRequest(BaseModel):
    """One HTTP call against the DAM API; ``{subscriberId}`` in path or body is filled in per call."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    body: str | None = None

    @classmethod
    def parse(cls, spec: str, setting: str) -> TriggerRequest:
        """Reads ``"PATCH /staging/subscriber/{subscriberId} {\\"resyncStatus\\": \\"...\\"}"``."""
        match = _SPEC.match(spec.strip())
        if not match:
            raise ValueError(f"{setting}: expected 'METHOD /path [json-body]', got {spec!r}")
        body = match.group("body")
        if body is not None:
            try:
                json.loads(body.replace("{subscriberId}", "x"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{setting}: the body is not JSON ({exc.msg})") from exc
        return cls(method=match.group("method"), path=match.group("path"), body=body)

    def render(self, subscriber_id: str) -> tuple[str, str, Any]:
        # The id may come from DX itself: escaped for its place, it can change neither path nor body.
        path = self.path.replace("{subscriberId}", quote(subscriber_id, safe=""))
        in_json = json.dumps(subscriber_id)[1:-1]
        body = json.loads(self.body.replace("{subscriberId}", in_json)) if self.body else None
        return self.method, path, body


# ASSUMPTION: trigger-via-patch
FIND_MISMATCH_DEFAULT = TriggerRequest(
    method="PATCH", path="/staging/subscriber/{subscriberId}", body='{"resyncStatus": "FIND_MISMATCH_START"}'
)
# ASSUMPTION: trigger-via-patch
RESYNC_DEFAULT = TriggerRequest(
    method="PATCH", path="/staging/subscriber/{subscriberId}", body='{"resyncStatus": "RESYNC_TRIGGER_START"}'
)
