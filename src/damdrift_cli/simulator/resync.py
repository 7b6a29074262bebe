"""What a resync does on the subscriber: the ``syncStaging*`` operations it runs, and the drift each repairs.

A resync that RESYNC_TRIGGER_COMPLETED has only *created* its operations (MISMATCH-DOC); the records
are written while they run on the subscriber. So the simulator plans one operation per sync function
the drift needs (plus the two every resync runs), each TODO → PROCESSING → an end, over
``operationDurationSeconds``, and each clears the drift of its record types when it ends in SUCCESS.

How the operations end is the subscriber's ``resyncOutcome``:

* ``complete``: every operation succeeds;
* ``partial``: the operation syncing the *last* drifted record type (enum order) goes through RETRY and
  ends FAILED with ``retryCounter`` 1 and an ``errorInfo``; the drift of its record types (every type it
  syncs, e.g. MEDIA_ITEM, KEYWORD and CUSTOM_URL share ``syncStagingMediaContent``) remains, the rest
  is repaired. Without drift there is nothing to fail and it behaves like ``complete``;
* ``stuck``: every operation stays PROCESSING forever and nothing is repaired;
* ``fail``: the resync itself ends RESYNC_TRIGGER_FAILED and creates no operation (never planned here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from damdrift.dx.models import OperationStatus, RecordType
from damdrift_cli.simulator.dataset import Drift
from damdrift_cli.simulator.operations import Step

ResyncOutcome = Literal["complete", "fail", "partial", "stuck"]

#: Outcomes whose operations only a subscriber DAM can show (without one they would be invisible).
OUTCOMES_NEEDING_A_DAM: frozenset[str] = frozenset({"partial", "stuck"})

#: Which ``syncStaging*`` operation a resync creates for drift of each record type (MISMATCH-DOC names).
SYNC_FUNCTIONS = {
    RecordType.COLLECTION: "syncStagingCollectionContent",
    RecordType.COLLECTION_MEDIA_RELATION: "syncStagingCollectionContent",
    RecordType.MEDIA_ITEM: "syncStagingMediaContent",
    RecordType.KEYWORD: "syncStagingMediaContent",
    RecordType.CUSTOM_URL: "syncStagingMediaContent",
    RecordType.RENDITION: "syncStagingRenditionContent",
    RecordType.VERSION: "syncStagingVersionContent",
    RecordType.FAVORITE: "syncStagingFavoriteContent",
    RecordType.MEDIA_TYPE: "syncStagingMediaTypeContent",
    RecordType.MEDIA_TYPE_GROUP: "syncStagingMediaTypeGroupContent",
    RecordType.PERMISSION: "syncStagingPermissionResource",
    RecordType.RESOURCE: "syncStagingPermissionResource",
}
_ALWAYS_SYNCED = ("syncStagingCollectionContent", "syncStagingMediaContent")


@dataclass(frozen=True)
class SyncOperation:
    """One planned operation: its whole timeline, and the record types it repairs if it succeeds."""

    trigger_function: str
    steps: list[Step]
    repairs: frozenset[RecordType]

    @property
    def succeeds_at(self) -> float | None:
        """When it reaches SUCCESS; ``None`` if it never does."""
        last = self.steps[-1]
        return last.at if last.status is OperationStatus.SUCCESS else None


def plan_sync_operations(
    drift: Drift, outcome: ResyncOutcome, start: float, duration: float
) -> list[SyncOperation]:
    """The operations a resync of ``drift`` creates at ``start`` (its RESYNC_TRIGGER_COMPLETED)."""
    functions = dict.fromkeys(_ALWAYS_SYNCED)
    functions.update(dict.fromkeys(SYNC_FUNCTIONS[b.record_type] for b in drift.blocks))
    failing = SYNC_FUNCTIONS[drift.blocks[-1].record_type] if outcome == "partial" and drift.blocks else None
    half = duration / 2
    planned = []
    for name in functions:
        steps = [Step(start, OperationStatus.TODO), Step(start + half, OperationStatus.PROCESSING)]
        if name == failing:
            # ASSUMPTION: resync-creates-sync-operations (a failed one ends FAILED with retryCounter > 0,
            # as MISMATCH-DOC's "no FAILED sync* operations" precondition implies; errorInfo is invented)
            error = {"code": "SYNC_STAGING_FAILED", "message": f"{name} could not write to the subscriber"}
            steps.append(Step(start + 1.5 * half, OperationStatus.RETRY, retry_counter=1))
            steps.append(Step(start + duration, OperationStatus.FAILED, retry_counter=1, error_info=error))
        elif outcome != "stuck":
            steps.append(Step(start + duration, OperationStatus.SUCCESS))
        repairs = frozenset(t for t, function in SYNC_FUNCTIONS.items() if function == name)
        planned.append(SyncOperation(name, steps, repairs))
    return planned
