"""DAM operations (``GET /operations``): background jobs whose status is a timeline on the clock.

An :class:`Operation` is created with every step it will ever take (TODO at t0, PROCESSING at t1, …),
and its status is read off at the current time, so nothing has to run to move it on. Each DX host
(the publisher, every subscriber DAM) has its own :class:`OperationLog`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from damdrift.dx.models import OperationStatus
from damdrift_cli.simulator.clock import WallTime

_NAMESPACE = uuid.UUID("0f3e8f5e-8a51-4c1c-b2a4-52f0c1de7a61")


@dataclass(frozen=True)
class Step:
    """From ``at`` on (until the next step), the operation shows this status."""

    at: float
    status: OperationStatus
    retry_counter: int = 0
    error_info: dict[str, Any] | None = None


@dataclass
class Operation:
    """An operation whose status is a timeline, read off at the current time (no mutation to advance it)."""

    id: str
    trigger_function: str
    inputs: dict[str, Any]
    priority: int
    steps: list[Step]

    def current(self, now: float) -> Step:
        return [s for s in self.steps if s.at <= now][-1]

    def to_wire(self, now: float, wall: WallTime) -> dict[str, Any]:
        step = self.current(now)
        wire: dict[str, Any] = {
            "id": self.id,
            "triggerFunction": self.trigger_function,
            "inputs": self.inputs,
            "status": step.status.value,
            "retryCounter": step.retry_counter,
            "created": wall.iso(self.steps[0].at),
            "updated": wall.iso(step.at),
            "owner": 1,  # owner and priority are numbers in the spec; the values are invented
            "priority": self.priority,
        }
        if step.error_info is not None:
            wire["errorInfo"] = step.error_info
        return wire


class OperationLog:
    """One host's operations in creation order; the caller holds the host's lock.

    ``scope`` keeps ids apart between hosts (the publisher's is empty, so its ids are what they were).
    """

    def __init__(self, scope: str = "") -> None:
        self._scope = scope
        self._operations: dict[str, Operation] = {}

    def add(self, seed: int, function: str, inputs: dict[str, Any], priority: int, steps: list[Step]) -> str:
        number = f"{self._scope}/{len(self._operations)}" if self._scope else str(len(self._operations))
        op_id = str(uuid.uuid5(_NAMESPACE, f"operation/{seed}/{number}"))
        self._operations[op_id] = Operation(op_id, function, inputs, priority, steps)
        return op_id

    def get(self, op_id: str) -> Operation | None:
        return self._operations.get(op_id)

    def wires(
        self,
        now: float,
        wall: WallTime,
        statuses: frozenset[str] | None = None,
        trigger_functions: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The operations as ``GET /operations`` lists them, filtered by status and trigger function."""
        # ASSUMPTION: operations-oldest-first (the order and paging base are not documented)
        wires = [op.to_wire(now, wall) for op in self._operations.values()]
        return [
            w
            for w in wires
            if (statuses is None or w["status"] in statuses)
            and (trigger_functions is None or w["triggerFunction"] in trigger_functions)
        ]
