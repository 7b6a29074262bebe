"""What the state machine will do after a failed step, in words: ``retrying in up to 4 s (2/5)``.

A local check shows each Lambda invocation as it happens; a failure that the state machine's ``Retry``
will repeat is not the end of the check, and a person should see that (and when the next attempt
comes) instead of the same ``failed`` line five times in silence. The retriers are read from the
deployed state machine definitions (every Task state that invokes a function, at any depth), so they
are the ones that run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Retrier:
    """One ``Retry`` entry of a Task state."""

    errors: tuple[str, ...]
    interval: float
    max_attempts: int
    backoff: float
    max_delay: float | None
    jitter: bool

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Retrier:
        return cls(
            errors=tuple(entry.get("ErrorEquals", ())),
            interval=float(entry.get("IntervalSeconds", 1)),
            max_attempts=int(entry.get("MaxAttempts", 3)),
            backoff=float(entry.get("BackoffRate", 2.0)),
            max_delay=float(entry["MaxDelaySeconds"]) if "MaxDelaySeconds" in entry else None,
            jitter=entry.get("JitterStrategy") == "FULL",
        )

    def matches(self, error: str) -> bool:
        if error in self.errors or "States.ALL" in self.errors:
            return True
        return "States.TaskFailed" in self.errors and error != "States.Timeout"

    def wait(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based): the interval grown by the backoff rate."""
        seconds = self.interval * self.backoff ** (attempt - 1)
        return min(seconds, self.max_delay) if self.max_delay is not None else seconds


def retriers_by_function(definitions: Iterable[str]) -> dict[str, list[Retrier]]:
    """Function name -> the Retry of the first Task state that invokes it, from ASL definitions."""
    found: dict[str, list[Retrier]] = {}
    for definition in definitions:
        for state in _task_states(json.loads(definition).get("States", {})):
            name = _function_name(state)
            if name and name not in found:
                found[name] = [Retrier.of(entry) for entry in state.get("Retry", [])]
    return found


class RetryTracker:
    """Counts consecutive failures per function, subscriber and retrier, as the state machine does."""

    def __init__(self, retriers: dict[str, list[Retrier]]) -> None:
        self._retriers = retriers
        self._attempts: dict[tuple[str, str, int], int] = {}

    def succeeded(self, function: str, subscriber: str) -> None:
        for key in [key for key in self._attempts if key[:2] == (function, subscriber)]:
            del self._attempts[key]

    def failed(self, function: str, subscriber: str, error: str) -> str:
        """What comes next, e.g. ``retrying in up to 4 s (2/5)`` or ``no retry for DxError``."""
        retriers = self._retriers.get(function, [])
        index = next((i for i, retrier in enumerate(retriers) if retrier.matches(error)), None)
        if index is None:
            return f"no retry for {error}"
        retrier = retriers[index]
        key = (function, subscriber, index)
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        if attempt > retrier.max_attempts:
            return f"giving up after {retrier.max_attempts} retries"
        wait = f"up to {retrier.wait(attempt):g} s" if retrier.jitter else f"{retrier.wait(attempt):g} s"
        return f"retrying in {wait} ({attempt}/{retrier.max_attempts})"


def _task_states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        if state.get("Type") == "Task":
            yield state
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _task_states(state[key].get("States", {}))
        for branch in state.get("Branches", []):
            yield from _task_states(branch.get("States", {}))


def _function_name(state: dict[str, Any]) -> str | None:
    """The function a Task invokes: its Resource ARN, or the FunctionName of a lambda:invoke task."""
    parameters = state.get("Parameters") or state.get("Arguments") or {}
    candidates = [state.get("Resource", ""), parameters.get("FunctionName", "")]
    for value in candidates:
        if isinstance(value, str) and ":function:" in value:
            return value.split(":function:", 1)[1].split(":", 1)[0]
    return None


def deployed_definitions(sfn: Any) -> list[str]:
    """The definitions of every state machine in the (local) account."""
    machines = sfn.list_state_machines().get("stateMachines", [])
    return [sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["definition"] for m in machines]
