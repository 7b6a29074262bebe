"""Typed views of what DX returns. Unknown fields are kept (DX adds fields between releases)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from damdrift.report_layout import key_segment

#: An id DX assigns (a subscriber's, an operation's, a mismatch row's). It names report keys, so it is
#: checked where it enters, with the report keys' own rule: one plain segment, never a path.
DxId = Annotated[str, AfterValidator(lambda value: key_segment("id", value))]


class ResyncStatus(StrEnum):
    """Values of a subscriber's ``resyncStatus`` (MISMATCH-DOC). ``None`` on the model = never run."""

    FIND_MISMATCH_START = "FIND_MISMATCH_START"
    FIND_MISMATCH_COMPLETED = "FIND_MISMATCH_COMPLETED"
    FIND_MISMATCH_FAILED = "FIND_MISMATCH_FAILED"
    RESYNC_TRIGGER_START = "RESYNC_TRIGGER_START"
    RESYNC_TRIGGER_COMPLETED = "RESYNC_TRIGGER_COMPLETED"
    RESYNC_TRIGGER_FAILED = "RESYNC_TRIGGER_FAILED"


class RecordType(StrEnum):
    COLLECTION = "COLLECTION"
    MEDIA_ITEM = "MEDIA_ITEM"
    COLLECTION_MEDIA_RELATION = "COLLECTION_MEDIA_RELATION"
    RENDITION = "RENDITION"
    VERSION = "VERSION"
    FAVORITE = "FAVORITE"
    KEYWORD = "KEYWORD"
    CUSTOM_URL = "CUSTOM_URL"
    MEDIA_TYPE = "MEDIA_TYPE"
    MEDIA_TYPE_GROUP = "MEDIA_TYPE_GROUP"
    PERMISSION = "PERMISSION"
    RESOURCE = "RESOURCE"


class RecordAction(StrEnum):
    """What a resync would do to the subscriber: CREATE missing, UPDATE differing, DELETE extra."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class OperationStatus(StrEnum):
    TODO = "TODO"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    ABORT = "ABORT"
    FAILED = "FAILED"
    READ = "READ"
    RETRY = "RETRY"
    WAIT = "WAIT"
    PENDING = "PENDING"


#: Operation states HCL counts as "still in progress" (MISMATCH-DOC limitations list).
IN_PROGRESS_OPERATION_STATUSES = frozenset(
    {
        OperationStatus.TODO,
        OperationStatus.PROCESSING,
        OperationStatus.READ,
        OperationStatus.RETRY,
        OperationStatus.WAIT,
        OperationStatus.PENDING,
    }
)

FIND_MISMATCH_TRIGGER_FUNCTION = "findStagingMismatch"
#: The operations staging (and a resync) runs, as HCL's own test selects them (``LIKE 'syncStaging%'``).
STAGING_OPERATION_PREFIX = "syncStaging"
#: MISMATCH-DOC's resync precondition speaks of FAILED ``sync*`` operations: any sync, not staging's only.
SYNC_OPERATION_PREFIX = "sync"


class Subscriber(BaseModel):
    """A registered staging subscriber (DAM-SPEC ``SubscriberRegistration``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: DxId
    target_host: str = Field(alias="targetHost")
    resync_status: ResyncStatus | None = Field(None, alias="resyncStatus")
    last_resync_time: datetime | None = Field(None, alias="lastResyncTime")
    sync_status: str | None = Field(None, alias="syncStatus")
    last_sync_time: datetime | None = Field(None, alias="lastSyncTime")
    cycle_length: float | None = Field(None, alias="cycleLength")
    status: bool | None = None


class Operation(BaseModel):
    """A DAM background operation (DAM-SPEC ``Operation``).

    Built on first use, not at import: only trigger-mismatch and remediation read operations on every
    call; poll-status only when a find failed, the other functions never (cold start).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    id: DxId
    trigger_function: str = Field(alias="triggerFunction")
    status: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    error_info: dict[str, Any] | None = Field(None, alias="errorInfo")
    retry_counter: int = Field(0, alias="retryCounter")
    created: datetime | None = None
    updated: datetime | None = None


class MismatchRecord(BaseModel):
    """One row of the staging mismatch log.

    The JSON shape is not published (ASSUMPTION: mismatch-record-shape); DX's table columns are
    ``type``/``action``, so both spellings are accepted. Everything else DX sends is kept in ``raw``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)  # no function uses it

    record_type: str = Field(validation_alias=AliasChoices("recordType", "type"))
    record_action: str = Field(validation_alias=AliasChoices("recordAction", "action"))
    #: Data, shown in reports and never used as a key or a path: DX may put any text here.
    record_id: str | None = Field(None, validation_alias=AliasChoices("recordId", "record_id"))
    subscriber_id: DxId | None = Field(None, validation_alias=AliasChoices("subscriberId", "subscriber_id"))
    id: DxId | None = None
    created: str | None = None
