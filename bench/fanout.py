"""Fan-out benchmark: one local drift check over many subscribers, through the real state machine.

``LocalAws`` (moto running ``statemachine/*.asl.json`` with the real handlers in-process) checks a
simulated publisher with 50 subscribers at the demo's timing (finds of 3 s, waits of 1-2 s); each
subscriber's check is a child execution of the drift check. Reported: the wall time, state
transitions (over every execution) and what they cost, Lambda invocations, the ``quotas:`` line (the
largest execution history and state payload), and the most find jobs the publisher saw running at
once — which must not exceed the execution input's ``maxConcurrency`` (the Map state's
``MaxConcurrencyPath``): every find lands on the one publisher. Every subscriber must end with a
stored report, and no execution may pass Step Functions' quotas.

``--subscribers 100 --find-seconds 60 --max-concurrency 40`` is the scale check of docs/deploy.md
("Quotas"): one execution holding every poll would pass 25,000 events.

``--cost 10,50,200`` runs one check per fleet size and prints what a subscriber check costs at us-east-1
list prices (``damdrift.fleet.pricing``), counted from the run's real calls: state transitions, Lambda
GB-seconds (measured durations x each function's MemorySize from template.yaml), S3 requests by kind
and SNS publishes. S3 requests per subscriber check must stay flat (within 10%) across the sizes: the
publisher's overview is rendered once per run, not after every subscriber's fetch.

The local adapter runs one Lambda invocation at a time (environment variables and ``sys.path`` are
process-wide), but the Map iterations' Wait states overlap, so the wall time shows how much of the
waiting the fan-out hides: compare it with the serial estimate printed beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

from support import result_line

FULL_SUBSCRIBERS = 50
QUICK_SUBSCRIBERS = 6
FIND_SECONDS = 3.0  # damdrift_cli.commands.check.DEMO_FIND_SECONDS
QUICK_FIND_SECONDS = 0.5
PRICE_PER_TRANSITION = 0.025 / 1000  # Standard workflows, US East (N. Virginia) list price
COST_FIND_SECONDS = 0.2
COST_POLL = {"initialWaitSeconds": 1, "maxWaitSeconds": 1, "jitterSeconds": 0, "maxDurationSeconds": 600}


def iteration_spans(history: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) of each Map iteration, in seconds, from the execution history."""
    started: dict[int, float] = {}
    spans = []
    for event in history:
        kind = event["type"]
        if kind == "MapIterationStarted":
            started[event["mapIterationStartedEventDetails"]["index"]] = event["timestamp"].timestamp()
        elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            spans.append((started.pop(details["index"]), event["timestamp"].timestamp()))
    return spans


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (an end at the very moment of a start does not overlap it)."""
    edges = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1])
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--subscribers", type=int, default=FULL_SUBSCRIBERS, help="subscribers (default: %(default)s)"
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=5, help="the execution input's maxConcurrency (default: 5)"
    )
    parser.add_argument(
        "--find-seconds", type=float, default=FIND_SECONDS, help="each find's duration (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SUBSCRIBERS} subscribers, short finds")
    parser.add_argument(
        "--cost",
        metavar="SIZES",
        help="comma-separated fleet sizes: print the cost per subscriber check of each",
    )
    args = parser.parse_args(argv)
    if args.cost:
        sizes = [int(size) for size in args.cost.split(",") if size.strip()]
        return cost_per_subscriber_check(sizes, min(args.max_concurrency, 40))

    from damdrift.dx.sessions import forget_all
    from damdrift_cli.commands.check import DEMO_POLL
    from damdrift_cli.local.runner import LocalAws, stack_parameters
    from damdrift_cli.simulator import Scenario, Simulator

    count = QUICK_SUBSCRIBERS if args.quick else args.subscribers
    concurrency = 2 if args.quick else args.max_concurrency
    find_seconds = QUICK_FIND_SECONDS if args.quick else args.find_seconds
    poll: dict[str, Any] = (
        {**DEMO_POLL, "initialWaitSeconds": 1, "maxWaitSeconds": 1} if args.quick else DEMO_POLL
    )
    subscribers = [
        {
            "id": str(uuid.UUID(int=i + 1)),
            "targetHost": f"dx-sub-{i:03d}.example.com",
            "drift": {"COLLECTION": {"CREATE": 5 + i % 7}, "MEDIA_ITEM": {"UPDATE": i % 3}},
        }
        for i in range(count)
    ]
    scenario = Scenario.model_validate(
        {"name": "fanout", "findDurationSeconds": find_seconds, "seed": 3, "subscribers": subscribers}
    )
    forget_all()
    with Simulator(scenario) as sim:
        publisher = {"hostname": sim.hostname, "dxProtocol": "http", "dxPort": sim.port}
        with LocalAws(
            {"username": sim.username, "password": sim.password},
            parameters=stack_parameters(publisher),
            retry_time_scale=0.01,
        ) as aws:
            started = time.perf_counter()
            run = aws.run_check(
                {"publisher": publisher, "poll": poll, "maxConcurrency": concurrency}, timeout_seconds=3600
            )
            wall = time.perf_counter() - started
            invocations = len(aws._deployed.lambdas.invocations)
        seen = sim.max_concurrent_finds
    forget_all()
    statuses: dict[str, int] = {}
    for item in run.outcomes:
        status = (item.get("outcome") or item).get("status", "ERRORED")
        statuses[status] = statuses.get(status, 0) + 1
    spans = iteration_spans(run.history)
    busy = sum(end - start for start, end in spans)
    map_wall = max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0.0
    parallel = max_overlap(spans)
    respected = seen <= concurrency and parallel <= concurrency
    reported = sum(1 for item in run.outcomes if (item.get("outcome") or {}).get("summaryKey"))
    quotas = run.quotas
    ok = (
        run.status == "SUCCEEDED"
        and sum(statuses.values()) == count
        and "ERRORED" not in statuses
        and reported == count
        and quotas.within
    )
    print(f"execution {run.status} in {wall:.1f} s: {count} subscribers, maxConcurrency {concurrency}")
    cost = run.state_transitions * PRICE_PER_TRANSITION
    print(
        f"outcomes: {statuses}; {reported} reports; {run.state_transitions} state transitions "
        f"(${cost:.4f} per check, ${cost / max(count, 1):.6f} per subscriber); "
        f"{invocations} Lambda invocations"
    )
    print(quotas.line())
    print(
        f"Map iterations: {busy:.1f} s in all, {busy / max(len(spans), 1):.1f} s each, "
        f"within {map_wall:.1f} s of Map: {busy / max(map_wall, 1e-9):.2f} running on average, "
        f"at most {parallel} at once"
    )
    print(
        f"most finds running at once on the publisher: {seen} "
        f"({'within' if seen <= concurrency else 'ABOVE'} maxConcurrency {concurrency})"
    )
    print(
        result_line(
            "fanout",
            subscribers=count,
            max_concurrency=concurrency,
            max_concurrent_finds=seen,
            max_parallel_iterations=parallel,
            wall_s=round(wall, 1),
            transitions=run.state_transitions,
            invocations=invocations,
            executions=quotas.executions,
            history_events_max=quotas.history_events_max,
            payload_bytes_max=quotas.payload_bytes_max,
            succeeded=ok,
            targets_met=ok and respected,
        )
    )
    return 0 if ok else 1


def mixed_subscriber(i: int) -> dict[str, Any]:
    """Mixed outcomes: every 10th in sync, every 25th with a failing find (ERRORED), the rest drifting."""
    spec: dict[str, Any] = {"id": str(uuid.UUID(int=i + 1)), "targetHost": f"dx-sub-{i:03d}.example.com"}
    if i % 25 == 24:
        spec["findOutcome"] = "fail"
    elif i % 10 != 9:
        spec["drift"] = {"COLLECTION": {"CREATE": 5 + i % 7}}
    return spec


def cost_per_subscriber_check(sizes: list[int], concurrency: int) -> int:
    """One run per size (short finds, mixed outcomes); the usage of each, per subscriber check, and the
    notices the run published."""
    from damdrift.dx.sessions import forget_all
    from damdrift_cli.local.runner import LocalAws
    from damdrift_cli.simulator import Scenario, Simulator

    per_check: list[float] = []
    for count in sizes:
        subscribers = [mixed_subscriber(i) for i in range(count)]
        scenario = Scenario.model_validate(
            {"name": "cost", "findDurationSeconds": COST_FIND_SECONDS, "seed": 3, "subscribers": subscribers}
        )
        forget_all()
        with Simulator(scenario) as sim:
            publisher = {"hostname": sim.hostname, "dxProtocol": "http", "dxPort": sim.port}
            with LocalAws({"username": sim.username, "password": sim.password}, retry_time_scale=0.01) as aws:
                run = aws.run_check(
                    {"publisher": publisher, "poll": COST_POLL, "maxConcurrency": concurrency},
                    timeout_seconds=3600,
                )
        forget_all()
        usage = run.usage
        costs = usage.costs()
        s3_each = usage.s3_requests / count
        per_check.append(s3_each)
        kinds = ", ".join(f"{kind} {n / count:.2f}" for kind, n in sorted(usage.s3_by_kind().items()))
        print(
            f"{count} subscribers ({run.status}): ${usage.total / count:.7f} per subscriber check "
            f"(${usage.total:.5f} the run) - transitions {usage.state_transitions / count:.1f} "
            f"(${costs['states'] / count:.7f}), Lambda {len(usage.invocations) / count:.1f} invocations "
            f"{usage.gb_seconds / count:.3f} GB-s (${costs['lambda'] / count:.7f}), "
            f"S3 {s3_each:.2f} requests "
            f"[{kinds}] (${costs['s3'] / count:.7f}), SNS {usage.sns_requests} publishes in the run"
        )
        outcomes = ((run.output or {}).get("run") or {}).get("byStatus")
        print(f"  outcomes {outcomes}; notices published: {[(n.topic, n.subject) for n in run.notices]}")
        print(usage.line())
    flat = max(per_check) <= min(per_check) * 1.10 if per_check else True
    print(
        f"S3 requests per subscriber check: {', '.join(f'{v:.2f}' for v in per_check)} "
        f"({'flat within 10%' if flat else 'NOT flat'})"
    )
    print(result_line("fanout-cost", sizes=sizes, s3_per_check=[round(v, 2) for v in per_check], flat=flat))
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
