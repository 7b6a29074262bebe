"""Scenarios: a publisher described in JSON (credentials, timings, subscribers and their drift, faults).

Built-ins live in ``scenarios/*.json`` next to this module; ``--scenario`` also takes a path. A file is
validated by the pydantic models below, and a mistake is reported with the path of the offending field
(``subscribers.1.findOutcome: ...``), so a hand-written scenario is quick to fix.

A subscriber says how its jobs end: ``findOutcome`` (``complete``, ``fail``, ``stuck``) and
``resyncOutcome``: ``complete`` (RESYNC_TRIGGER_COMPLETED, then every ``syncStaging*`` operation
succeeds and the drift is gone), ``fail`` (RESYNC_TRIGGER_FAILED, no operations, drift kept), and, for
a subscriber with ``"dam": true``, ``partial`` (the operation syncing the last drifted record type ends
FAILED with ``retryCounter`` > 0 and an ``errorInfo``; the drift of the types it syncs remains, the rest
is repaired) and ``stuck`` (the operations stay PROCESSING forever; drift kept); see :mod:`.resync`.
``"dam": true`` gives the subscriber a DAM server of its own (Ring login, ``/operations``) where a
resync's operations run, each clearing the drift of its record types when it succeeds; ``"operations"``
seeds operations there, e.g.
``[{"triggerFunction": "syncStagingMediaContent", "status": "FAILED", "retryCounter": 3}]``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from damdrift.dx.models import OperationStatus, RecordAction, RecordType
from damdrift_cli.simulator.dataset import Drift
from damdrift_cli.simulator.faults import Fault
from damdrift_cli.simulator.resync import OUTCOMES_NEEDING_A_DAM, ResyncOutcome
from damdrift_cli.simulator.state import (
    ConflictPolicy,
    FindOutcome,
    RecordFields,
    Settings,
    SubscriberState,
)

DEFAULT_USERNAME = "wpsadmin"
# HCL's own test setups use it; the simulator is loopback-only (ruff S105, bandit B105)
DEFAULT_PASSWORD = "wpsadmin"  # noqa: S105  # nosec B105


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DriftRange(_Model):
    """Records ``start .. start + count - 1`` of one type and action (raise ``start`` to resolve old ones)."""

    count: NonNegativeInt
    start: NonNegativeInt = 0


def _count_to_range(value: Any) -> Any:
    return {"count": value} if isinstance(value, int) and not isinstance(value, bool) else value


#: ``{"COLLECTION": {"CREATE": 3, "UPDATE": {"count": 5, "start": 10}}}``: a count is a range from 0.
DriftSpec = dict[RecordType, dict[RecordAction, Annotated[DriftRange, BeforeValidator(_count_to_range)]]]


def drift_of(spec: DriftSpec) -> Drift:
    return Drift.from_mapping(
        {t: {a: r.model_dump() for a, r in actions.items()} for t, actions in spec.items()}
    )


_DRIFT_SPEC: TypeAdapter[DriftSpec] = TypeAdapter(DriftSpec)


def parse_drift(drift: Drift | Mapping[str, Mapping[str, Any]] | None) -> Drift:
    """A drift from the JSON form, checked as a scenario file's is (``ValidationError`` names the field)."""
    return drift if isinstance(drift, Drift) else drift_of(_DRIFT_SPEC.validate_python(drift or {}))


class Credentials(_Model):
    username: Annotated[str, Field(min_length=1)] = DEFAULT_USERNAME
    # A plain string (callers hand it to clients), kept out of reprs.
    password: str = Field(DEFAULT_PASSWORD, min_length=1, repr=False)


class OperationSpec(_Model):
    """An operation already on a subscriber's DAM when the simulator starts (it keeps its status)."""

    trigger_function: Annotated[str, Field(min_length=1, alias="triggerFunction")]
    status: OperationStatus
    retry_counter: NonNegativeInt = Field(0, alias="retryCounter")
    error_info: dict[str, Any] | None = Field(None, alias="errorInfo")


class SubscriberSpec(_Model):
    id: str = Field(description="A UUID, as DX assigns")
    target_host: Annotated[str, Field(min_length=1, alias="targetHost")]
    drift: DriftSpec = Field(default_factory=dict)
    dam: bool = Field(False, description="A DAM server of its own: Ring login and /operations")
    find_outcome: FindOutcome = Field("complete", alias="findOutcome")
    resync_outcome: ResyncOutcome = Field("complete", alias="resyncOutcome")
    operations: list[OperationSpec] = Field(default_factory=list, description="Seeded on its DAM")
    find_duration_seconds: float | None = Field(None, ge=0, alias="findDurationSeconds")
    cycle_length: float = Field(2, gt=0, alias="cycleLength")
    status: bool = True
    sync_status: str = Field("SUCCESS", alias="syncStatus")  # free text on DX; clients must not rely on it

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID such as 8c72ef60-e8d4-425d-903a-232bb8726222") from None

    @field_validator("resync_outcome")
    @classmethod
    def _outcome_needs_dam(cls, value: ResyncOutcome, info: ValidationInfo) -> ResyncOutcome:
        if value in OUTCOMES_NEEDING_A_DAM and not info.data.get("dam"):
            raise ValueError(f'{value!r} needs "dam": true (its operations run on the subscriber\'s DAM)')
        return value

    @field_validator("operations")
    @classmethod
    def _operations_need_dam(cls, value: list[OperationSpec], info: ValidationInfo) -> list[OperationSpec]:
        if value and not info.data.get("dam"):
            raise ValueError('operations are seeded on the subscriber\'s DAM: add "dam": true')
        return value

    def to_state(self) -> SubscriberState:
        return SubscriberState(
            id=self.id,
            target_host=self.target_host,
            drift=drift_of(self.drift),
            fields={"cycleLength": self.cycle_length, "status": self.status, "syncStatus": self.sync_status},
            find_outcome=self.find_outcome,
            resync_outcome=self.resync_outcome,
            find_duration_seconds=self.find_duration_seconds,
            dam=self.dam,
        )


class Scenario(_Model):
    name: str = "custom"
    description: str = ""
    credentials: Credentials = Field(default_factory=Credentials)
    token_ttl_seconds: float = Field(7200, gt=0, alias="tokenTtlSeconds")
    find_duration_seconds: float = Field(2.0, ge=0, alias="findDurationSeconds")
    resync_duration_seconds: float = Field(1.0, ge=0, alias="resyncDurationSeconds")
    operation_duration_seconds: float = Field(1.0, ge=0, alias="operationDurationSeconds")
    conflict_policy: ConflictPolicy = Field(ConflictPolicy.REJECT, alias="conflictPolicy")
    seed: int = 0
    unset_fields_as_null: bool = Field(False, alias="unsetFieldsAsNull")
    record_fields: RecordFields = Field(
        "api",
        alias="recordFields",
        description="mismatch rows spelled as the API's filters (recordType) or the table's columns (type)",
    )
    max_page_size: int | None = Field(
        None, ge=1, alias="maxPageSize", description="DX's own cap on mismatch rows per page"
    )
    subscribers: list[SubscriberSpec] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_subscribers(self) -> Self:
        for attr in ("id", "target_host"):
            values = [getattr(s, attr) for s in self.subscribers]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"subscribers: duplicate {attr} {', '.join(duplicates)}")
        return self

    def settings(self) -> Settings:
        return Settings(
            username=self.credentials.username,
            password=self.credentials.password,
            token_ttl_seconds=self.token_ttl_seconds,
            find_duration_seconds=self.find_duration_seconds,
            resync_duration_seconds=self.resync_duration_seconds,
            operation_duration_seconds=self.operation_duration_seconds,
            conflict_policy=self.conflict_policy,
            seed=self.seed,
            unset_fields_as_null=self.unset_fields_as_null,
            record_fields=self.record_fields,
            max_page_size=self.max_page_size,
        )


def _builtin_dir() -> resources.abc.Traversable:
    return resources.files(__package__ or "damdrift_cli.simulator") / "scenarios"


def builtin_scenarios() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in _builtin_dir().iterdir() if p.name.endswith(".json"))


def load_scenario(source: str | Path) -> Scenario:
    """A built-in scenario by name (``default``, ``large``, ``empty``) or a JSON file by path."""
    name = str(source)
    if isinstance(source, str) and name in builtin_scenarios():
        return parse_scenario(_builtin_dir().joinpath(f"{name}.json").read_text(encoding="utf-8"), name)
    path = Path(source)
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {name!r}: give a built-in name ({', '.join(builtin_scenarios())}) "
            "or the path of a JSON file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario file {path}: cannot read it: {exc}") from exc
    return parse_scenario(text, f"scenario file {path}")


def parse_scenario(text: str, origin: str = "scenario") -> Scenario:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"{origin}: not valid JSON: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ScenarioError(f"{origin}: {problems}") from None
