"""Every path the state machines read or write is a field of the typed state (damdrift.state), so a
renamed field fails here, not in a deployed execution."""

import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from damdrift.state import (
    CheckPlan,
    DriftCheckOutput,
    RunEvent,
    RunNotSummarised,
    SubscriberCheckResult,
    SubscriberItem,
    SubscriberResult,
    SubscriberTask,
)
from damdrift_cli.local import definitions

ROOT = Path(__file__).resolve().parents[2]
PATH = re.compile(r"(?<![$\w])\$(?:\.[A-Za-z_][\w]*)+")


def definition(name: str) -> dict[str, Any]:
    return definitions.load(definitions.SHIPPED_DIR / name)


def field_type(model: type[BaseModel], name: str) -> Any:
    """The annotation of the field whose wire name is ``name``."""
    for field_name, info in model.model_fields.items():
        if name == (info.alias or _generated(model, field_name)):
            return info.annotation
    raise AssertionError(f"{model.__name__} has no field {name!r}")


def _generated(model: type[BaseModel], name: str) -> str:
    generator = model.model_config.get("alias_generator")
    return str(generator(name)) if callable(generator) else name


def resolves(model: type[BaseModel], path: str) -> None:
    """Walks ``$.a.b.c`` through the models; stops at untyped content (dict[str, Any], Any)."""
    current: Any = model
    for segment in path.removeprefix("$.").split("."):
        while typing.get_origin(current) in (typing.Union, types.UnionType):
            current = next(arg for arg in typing.get_args(current) if arg is not type(None))
        if typing.get_origin(current) is dict or current is Any:
            return
        assert isinstance(current, type) and issubclass(current, BaseModel), f"{path}: {segment} of {current}"
        current = field_type(current, segment)


def paths(node: Any, *, skip: frozenset[str] = frozenset({"ResultSelector", "OutputPath"})) -> list[str]:
    """JSONPaths on the state (``$.``, not ``$$.``) a definition reads, outside what reads a task's
    result (ResultSelector) or a state's own result (OutputPath)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in skip:
                continue
            found += paths(value, skip=skip)
    elif isinstance(node, list):
        for item in node:
            found += paths(item, skip=skip)
    elif isinstance(node, str):
        found += PATH.findall(node)
    return found


def test_every_path_a_subscriber_check_reads_is_a_field_of_the_subscriber_task() -> None:
    child = definition("subscriber_check.asl.json")
    read = [p for name, state in child["States"].items() for p in paths(state) if name != "Verify"]
    assert "$.result.outcome.status" in read and "$.poll.waitSeconds" in read
    for path in read:
        resolves(SubscriberTask, path)


@pytest.mark.parametrize("path", ["$.result.outcome.summaryKeys", "$.poll.waitSecs", "$.remediations"])
def test_a_misspelt_path_is_caught(path: str) -> None:
    with pytest.raises(AssertionError):
        resolves(SubscriberTask, path)


def end_fields(state: dict[str, Any]) -> set[str]:
    return {key.removesuffix(".$") for key in state["Parameters"]}


def wire_names(model: type[BaseModel]) -> set[str]:
    return {info.alias or _generated(model, name) for name, info in model.model_fields.items()}


def test_every_end_of_a_subscriber_check_is_a_subscriber_check_result() -> None:
    states = definition("subscriber_check.asl.json")["States"]
    ends = {name: s for name, s in states.items() if s.get("End") and name != "VerifiedOutcome"}
    assert {"Outcome", "RemediationOutcome", "VerifyFailed", "OutcomeUnrecorded"} <= set(ends)
    for name, state in ends.items():
        assert end_fields(state) <= wire_names(SubscriberCheckResult), name
    # the verified outcome is the verifying check's result plus the remediation
    assert "States.JsonMerge($.verified.output" in states["VerifiedOutcome"]["Parameters"]["merged.$"]


def test_the_drift_check_keeps_a_subscriber_result_per_subscriber_and_reports_them() -> None:
    states = definition("drift_check.asl.json")["States"]
    item = states["CheckSubscribers"]["ItemProcessor"]["States"]
    selected = {key.removesuffix(".$") for key in item["CheckSubscriber"]["ResultSelector"]}
    assert selected <= wire_names(SubscriberResult)
    assert end_fields(item["SubscriberCheckFailed"]) <= wire_names(SubscriberResult)
    assert end_fields(states["Report"]) == wire_names(DriftCheckOutput)
    for path in paths(item["CheckSubscriber"]["Parameters"]) + paths(item["SubscriberCheckFailed"]):
        resolves(SubscriberItem, path)
    fan_out = paths(states["CheckSubscribers"], skip=frozenset({"ItemProcessor"}))
    assert "$.check.maxConcurrency" in fan_out
    for path in fan_out + [p for p in paths(states["Report"]) if p != "$.run"]:
        resolves(CheckPlan, path)


def test_the_fleet_step_reads_the_check_and_the_maps_results() -> None:
    states = definition("drift_check.asl.json")["States"]
    given = {key.removesuffix(".$") for key in states["SummariseRun"]["Parameters"]}
    assert given == wire_names(RunEvent)
    for path in paths(states["SummariseRun"]["Parameters"]):
        if not path.startswith("$.subscribers"):  # the Map's results replace the list
            resolves(CheckPlan, path)
    assert end_fields(states["RunNotSummarised"]) <= wire_names(RunNotSummarised)


def test_a_subscriber_check_result_reads_back_what_the_outcome_state_writes() -> None:
    result = SubscriberCheckResult.model_validate(
        {
            "subscriberId": "sub-1",
            "status": "DRIFT",
            "outcome": {"subscriberId": "sub-1", "status": "DRIFT", "total": 3, "counts": {}},
            "notified": {"status": "SENT", "messageId": "m-1"},
        }
    )
    assert result.outcome is not None and result.outcome.total == 3
    assert result.notified is not None and result.notified.message_id == "m-1"
