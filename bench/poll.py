"""Polling-cost benchmark: what waiting for a find costs with our schedule and with a fixed 10-second poll.

For finds of 1, 5, 30 and 120 minutes (each run ends at a random moment of the last minute before that,
of the last 15 s for the 1-minute find, so that the end falls anywhere between two polls as a real find's
does; both schedules see the same ends), the real steps run against the DX simulator on a ``ManualClock``
(simulated time, nothing sleeps): ``trigger_with`` starts the find, then each loop iteration advances
the clock by the wait the previous step chose and calls ``poll_with``, which asks the simulator over
HTTP and (via ``poll_schedule.next_wait``) chooses the next wait. The fixed poll is the same code with
``initialWaitSeconds = maxWaitSeconds = 10``, ``backoffRate = 1``, no jitter.

Counted per find: polls (= PollStatus Lambda invocations), state transitions (per iteration as many
states as the ASL's WaitForFind -> PollStatus -> FindFinished? loop has: read from the ASL file),
GB-seconds (PollStatus memory from template.yaml x the measured duration of ``poll_with``, billed per
ms), DX calls, and the detection latency (simulated seconds from the find's end to the poll that saw
COMPLETED, plus that poll's measured duration). Priced at AWS list prices, us-east-1, free tiers
ignored: Step Functions Standard $0.025 per 1,000 state transitions; Lambda arm64 $0.0000133334 per GB-s
and $0.20 per 1M requests.

Targets: for a 30-minute find our cost <= 0.2x the fixed poll's; detection latency never above 60 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from support import REPO, result_line

#: US East (N. Virginia) list prices, as published by AWS.
PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_GB_SECOND_ARM = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000

FULL_DURATIONS_MIN = (1, 5, 30, 120)
QUICK_DURATIONS_MIN = (1, 30)
TARGET_RATIO = 0.2
TARGET_LATENCY_S = 60.0
FIXED_POLICY = {"initialWaitSeconds": 10, "maxWaitSeconds": 10, "backoffRate": 1.0, "jitterSeconds": 0}
SUBSCRIBER = "8c72ef60-e8d4-425d-903a-232bb8726222"


def loop_transitions(asl_path: Any = REPO / "statemachine" / "subscriber_check.asl.json") -> int:
    """States entered per poll iteration: from WaitForFind along each state's not-finished exit, back."""
    from damdrift_cli.local import definitions

    states = definitions.load(asl_path)["States"]
    name, count = "WaitForFind", 0
    while True:
        state = states[name]
        count += 1
        nxt = state["Default"] if state["Type"] == "Choice" else state["Next"]
        if nxt == "WaitForFind":
            return count
        if count > len(states):
            raise RuntimeError("no loop back to WaitForFind in the ASL")
        name = nxt


def poll_memory_mb() -> int:
    """PollStatus's MemorySize in template.yaml (its own, else the Globals'), parameters resolved."""
    from damdrift_cli.local.template import load_template

    template = load_template()
    props = template["Resources"]["PollStatusFunction"]["Properties"]
    value = props.get("MemorySize", template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    if isinstance(value, dict) and "Ref" in value:
        value = template["Parameters"][value["Ref"]]["Default"]
    return int(value)


@dataclass
class Run:
    """One find watched to its end by one strategy."""

    polls: int = 0
    dx_calls: int = 0
    latency_s: float = 0.0
    invocation_s: list[float] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)


def watch_find(find_seconds: float, policy: dict[str, Any]) -> Run:
    """Trigger, then Wait/PollStatus until COMPLETED, all on simulated time; returns what it took."""
    from damdrift.dx.client import DxClient
    from damdrift.dx.connection import DxConnection, DxCredentials
    from damdrift.observability import metrics
    from damdrift.state import PollPhase, SubscriberTask
    from damdrift.steps.poll import poll_with
    from damdrift.steps.trigger import trigger_with
    from damdrift_cli.simulator import ManualClock, Scenario, Simulator

    clock = ManualClock()
    origin = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    scenario = Scenario.model_validate({"name": "poll-bench", "findDurationSeconds": find_seconds})
    with Simulator(scenario, clock=clock) as sim:
        sim.add_subscriber(
            "dx-sub.example.com", subscriber_id=SUBSCRIBER, drift={"COLLECTION": {"CREATE": 3}}
        )
        connection = DxConnection(hostname=sim.hostname, protocol="http", dx_port=sim.port)
        client = DxClient(connection, DxCredentials(username=sim.username, password=sim.password))
        task = SubscriberTask.model_validate(
            {
                "check": {
                    "execution": f"poll-bench-{uuid.uuid4().hex[:8]}",
                    "executionArn": "arn:aws:states:eu-central-1:123456789012:execution:bench:x",
                    "publisher": connection.model_dump(by_alias=True),
                    "publisherId": connection.publisher_id,
                    "credentialsSecret": "bench",
                    "poll": policy,
                    "busyPolicy": "wait",
                    "notifyPolicy": "on-drift",
                    "maxConcurrency": 1,
                    "startedAt": origin.isoformat(),
                },
                "subscriber": {"subscriberId": SUBSCRIBER},
            }
        )
        state = trigger_with(client, task, origin)
        run = Run()
        calls_before = client.calls
        while state.phase is not PollPhase.COMPLETED:
            run.waits.append(state.wait_seconds)
            clock.advance(state.wait_seconds)
            task = task.model_copy(update={"poll": state})
            started = time.perf_counter()
            state = poll_with(client, task, origin + timedelta(seconds=clock()))
            run.invocation_s.append(time.perf_counter() - started)
            run.polls += 1
            metrics.clear_metrics()  # the handler's decorator flushes them; here they would pile up
        run.dx_calls = client.calls - calls_before
        # Simulated time from the find's end to the detecting poll, plus that poll's own (real) duration.
        run.latency_s = clock() - find_seconds + run.invocation_s[-1]
        return run


@dataclass
class Cost:
    polls: float
    transitions: float
    gb_seconds: float
    dx_calls: float
    latency_max_s: float
    latency_mean_s: float

    def usd(self) -> float:
        return (
            self.transitions * PRICE_PER_TRANSITION
            + self.gb_seconds * PRICE_PER_GB_SECOND_ARM
            + self.polls * PRICE_PER_REQUEST
        )


def cost_of(runs: list[Run], per_poll_transitions: int, memory_gb: float) -> Cost:
    """Means over the runs (latency: also the worst); Lambda bills each invocation per started ms."""
    billed = [sum(math.ceil(s * 1000) / 1000 for s in run.invocation_s) for run in runs]
    return Cost(
        polls=statistics.mean(r.polls for r in runs),
        transitions=statistics.mean(r.polls * per_poll_transitions for r in runs),
        gb_seconds=statistics.mean(b * memory_gb for b in billed),
        dx_calls=statistics.mean(r.dx_calls for r in runs),
        latency_max_s=max(r.latency_s for r in runs),
        latency_mean_s=statistics.mean(r.latency_s for r in runs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--durations",
        default=",".join(map(str, FULL_DURATIONS_MIN)),
        help="find durations in minutes, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--runs", type=int, default=20, help="finds per duration and schedule (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help=f"durations {QUICK_DURATIONS_MIN} min, 3 runs")
    args = parser.parse_args(argv)
    durations = QUICK_DURATIONS_MIN if args.quick else tuple(int(d) for d in args.durations.split(","))
    runs_per = 3 if args.quick else args.runs
    if 30 not in durations:
        parser.error("the 30-minute find carries the target: keep 30 in --durations")

    from damdrift.execution_input import PollPolicy
    from damdrift.observability import logger

    logger.setLevel(logging.WARNING)  # one INFO line per poll would drown the table
    per_poll = loop_transitions()
    memory_mb = poll_memory_mb()
    ours = PollPolicy().to_wire()
    print(
        f"ours: {json.dumps(ours)}; fixed: every 10 s. {per_poll} state transitions per poll (from the ASL), "
        f"PollStatus {memory_mb} MB (template.yaml)."
    )
    print(
        "prices (us-east-1): $0.025 per 1,000 state transitions; Lambda arm64 $0.0000133334 per GB-s, "
        "$0.20 per 1M requests"
    )
    header = (
        f"{'find':>7} {'schedule':>8} {'polls':>7} {'transitions':>11} {'GB-s':>8} {'DX calls':>8} "
        f"{'latency max/mean s':>18} {'cost $':>10} {'ratio':>6}"
    )
    print(header)
    summary: dict[int, tuple[Cost, Cost]] = {}
    worst_latency = 0.0
    invocation_all: list[float] = []
    phases = random.Random(2026)
    for minutes in durations:
        ends = [minutes * 60.0 - phases.uniform(0, min(60.0, minutes * 15.0)) for _ in range(runs_per)]
        ours_runs = [watch_find(seconds, ours) for seconds in ends]
        fixed_runs = [watch_find(seconds, FIXED_POLICY) for seconds in ends]
        for run in (*ours_runs, *fixed_runs):
            invocation_all.extend(run.invocation_s)
        ours_cost = cost_of(ours_runs, per_poll, memory_mb / 1024)
        fixed_cost = cost_of(fixed_runs, per_poll, memory_mb / 1024)
        summary[minutes] = (ours_cost, fixed_cost)
        worst_latency = max(worst_latency, ours_cost.latency_max_s)
        ratio = ours_cost.usd() / fixed_cost.usd()
        for label, cost, shown_ratio in (("ours", ours_cost, f"{ratio:.3f}"), ("fixed10", fixed_cost, "")):
            print(
                f"{minutes:>5}mn {label:>8} {cost.polls:>7.1f} {cost.transitions:>11.1f} "
                f"{cost.gb_seconds:>8.3f} "
                f"{cost.dx_calls:>8.1f} {cost.latency_max_s:>9.1f}/{cost.latency_mean_s:<8.1f} "
                f"{cost.usd():>10.6f} {shown_ratio:>6}"
            )
    ours30, fixed30 = summary[30]
    ratio30 = ours30.usd() / fixed30.usd()
    met = ratio30 <= TARGET_RATIO and worst_latency <= TARGET_LATENCY_S
    print(
        f"poll_with duration: median {statistics.median(invocation_all) * 1000:.1f} ms over "
        f"{len(invocation_all)} polls (loopback; a real DX adds its network round trip to each)"
    )
    print(
        f"targets: 30-minute find ratio {ratio30:.3f} (<= {TARGET_RATIO}); "
        f"worst latency {worst_latency:.1f} s "
        f"(<= {TARGET_LATENCY_S:.0f}; the schedule's bound is maxWaitSeconds = {ours['maxWaitSeconds']} s): "
        f"{'met' if met else 'MISSED'}"
    )
    print(
        result_line(
            "poll",
            find_min=30,
            ours_polls=ours30.polls,
            fixed_polls=fixed30.polls,
            ours_usd=round(ours30.usd(), 6),
            fixed_usd=round(fixed30.usd(), 6),
            ratio=round(ratio30, 3),
            max_latency_s=round(worst_latency, 1),
            targets_met=met,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
