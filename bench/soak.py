"""Seeded soak: many drift checks with random faults from the fault matrix, through the real state machine.

    python bench/soak.py --runs 200 --seed 7

Each run checks 1-3 subscribers (random drift, 0-30 records) on one simulated publisher, each subscriber
with one random fault: DX (5xx bursts and outages, 429, resets, read timeouts, ingress pages, malformed
or cut-off bodies, expired sessions, a lost trigger answer, a server ignoring ``offset``, failed, stuck
or vanished finds, unknown ids), AWS (S3 writes failing for a while or for good, SNS publishes failing)
or Step Functions (a trigger or fetch Lambda timing out after it ran). Timings are the fault matrix's:
4 records a page, a checkpoint part every 8, fast transport retries, ASL retry intervals x 0.01.

After every run each subscriber is audited (``damdrift_cli.local.audit``). A report is **lost** when:
the run gives the subscriber no outcome; a record DX delivered in full is not in the stored report and
the outcome does not say S3 refused it; a stored report does not hold what its summary claims; or an
IN_SYNC/DRIFT report is not exactly DX's mismatch log. An execution is **unfinished** when it does not
reach SUCCEEDED or FAILED (the local runner gives up after ``--timeout`` seconds). The password and the
session cookies must appear nowhere a reader can look (history, output, notices, logs, S3).

The last line is ``soak: runs=N lost=L unfinished=U slowest_s=S``; the exit status is 1 if L or U > 0
(or a secret was found).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from damdrift.dx.sessions import forget_all
from damdrift_cli.local.audit import Audit, audit, bucket_objects
from damdrift_cli.local.runner import CheckRun, LocalAws, stack_parameters
from damdrift_cli.simulator import Scenario, Simulator

PASSWORD = "Soak-Pa55-word-2718"  # noqa: S105 - the simulator's; loopback only
ENV = {
    "DX_RETRIES": "2",
    "DX_BACKOFF_FACTOR": "0.01",
    "DX_READ_TIMEOUT": "1",
    "DX_PAGE_SIZE": "4",
    "REPORT_PART_RECORDS": "8",
}
POLL = {"initialWaitSeconds": 0, "maxWaitSeconds": 0, "jitterSeconds": 0, "maxDurationSeconds": 2}
TYPES = ("COLLECTION", "MEDIA_ITEM", "RENDITION", "KEYWORD")
ACTIONS = ("CREATE", "UPDATE", "DELETE")

MISMATCHES = "GET /staging/mismatches"
SUBSCRIBER = "GET /staging/subscriber/{subscriber_id}"
TRIGGER = "PATCH /staging/subscriber/{subscriber_id}"


@dataclass
class Subject:
    """One subscriber of one run and the fault it was dealt."""

    subscriber_id: str
    fault: str
    registered: bool = True


@dataclass
class Totals:
    runs: int = 0
    checks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    refused_by_s3: int = 0
    leftovers: int = 0
    leaks: int = 0
    slowest: tuple[float, str] = (0.0, "")


class Soak:
    def __init__(self, dx: Simulator, aws: LocalAws, rng: random.Random, timeout: float) -> None:
        self.dx = dx
        self.aws = aws
        self.rng = rng
        self.timeout = timeout
        self.totals = Totals()
        self.cookies: set[str] = set()
        self.transcripts: list[str] = []

    # -- faults ---------------------------------------------------------------------------------------

    def deal(self, sub: str) -> str:
        """Injects one random fault aimed at ``sub``; returns its name."""
        rng, dx = self.rng, self.dx
        status = rng.choice((500, 502, 503, 504))
        choices: dict[str, Callable[[], None]] = {
            "none": lambda: None,
            "5xx-burst": lambda: dx.inject_fault(
                rng.choice((MISMATCHES, SUBSCRIBER)), "status", status=status, subscriber_id=sub,
                times=rng.randint(1, 4), after=rng.randint(0, 3),
            ),
            "5xx-outage": lambda: dx.inject_fault(
                MISMATCHES, "status", status=status, subscriber_id=sub, after=rng.randint(0, 4)
            ),
            "429-retry-after": lambda: dx.inject_fault(
                SUBSCRIBER, "status", status=429, retry_after=rng.randint(0, 1), subscriber_id=sub, times=1
            ),
            "connection-reset": lambda: dx.inject_fault(
                rng.choice((MISMATCHES, SUBSCRIBER)), "drop", subscriber_id=sub, times=rng.randint(1, 4)
            ),
            "read-timeout": lambda: dx.inject_fault(
                MISMATCHES, "delay", seconds=1.3, subscriber_id=sub, times=1, after=rng.randint(0, 2)
            ),
            "ingress-html": lambda: dx.inject_fault(
                MISMATCHES, "html", subscriber_id=sub, times=rng.randint(1, 3), after=rng.randint(0, 2)
            ),
            "malformed-json": lambda: dx.inject_fault(
                MISMATCHES, "malformed_json", subscriber_id=sub, times=1, after=rng.randint(0, 2)
            ),
            "truncated-body": lambda: dx.inject_fault(
                MISMATCHES, "truncate", subscriber_id=sub, times=rng.randint(1, 2), after=rng.randint(0, 2)
            ),
            "session-expired": lambda: dx.inject_fault(
                MISMATCHES, "expire_sessions", subscriber_id=sub, times=1, after=rng.randint(0, 2)
            ),
            "trigger-answer-lost": lambda: dx.inject_fault(
                TRIGGER, "drop_answer", subscriber_id=sub, times=1
            ),
            "ignores-offset": lambda: dx.inject_fault(MISMATCHES, "ignore_offset", subscriber_id=sub),
            "deregistered": lambda: dx.inject_fault(SUBSCRIBER, "deregister", subscriber_id=sub, after=1),
            "s3-blip": lambda: self.aws.faults.fail(
                "s3", "PutObject", kind=rng.choice(("connection", "error")), path_contains=sub,
                times=rng.randint(1, 5), after=rng.randint(0, 2),
            ),
            "s3-refuses": lambda: self.aws.faults.fail(
                "s3", "PutObject", code="AccessDenied", status=403, path_contains=sub, after=rng.randint(0, 3)
            ),
            "sns-fails": lambda: self.aws.faults.fail("sns", "Publish", times=rng.randint(1, 5)),
            "trigger-lambda-timeout": lambda: self.aws._deployed.lambdas.time_out_after_run(
                "TriggerMismatchFunction"
            ),
            "fetch-lambda-timeout": lambda: self.aws._deployed.lambdas.time_out_after_run(
                "FetchReportFunction"
            ),
            "find-failed": lambda: None,
            "find-stuck": lambda: None,
            "unknown-id": lambda: None,
        }  # fmt: skip
        name = rng.choice(list(choices))
        choices[name]()
        return name

    # -- one run ----------------------------------------------------------------------------------------

    def run(self, number: int) -> str:
        subjects = []
        for _ in range(self.rng.randint(1, 3)):
            drift = {
                t: {a: self.rng.randint(0, 4) for a in self.rng.sample(ACTIONS, 2)}
                for t in self.rng.sample(TYPES, self.rng.randint(0, 3))
            }
            sub = self.dx.add_subscriber(f"sub-{uuid.uuid4().hex[:8]}.example.com", drift=drift)
            subject = Subject(sub, self.deal(sub))
            if subject.fault == "find-failed":
                self.dx.configure_subscriber(sub, find_outcome="fail")
            if subject.fault == "find-stuck":
                self.dx.configure_subscriber(sub, find_outcome="stuck")
            if subject.fault == "unknown-id":
                self.dx.remove_subscriber(sub)
                subject.registered = False
            subjects.append(subject)
        execution_input = {
            "publisher": {"hostname": self.dx.hostname, "dxProtocol": "http", "dxPort": self.dx.port},
            "poll": POLL,
            "subscriberIds": [s.subscriber_id for s in subjects],
            "notifyPolicy": self.rng.choice(("on-drift", "always")),
        }
        run = self.aws.run_check(execution_input, timeout_seconds=self.timeout)
        line = self.account(number, run, subjects)
        self.cookies |= issued_cookies(self.dx)
        self.transcripts.append(
            json.dumps([run.history, run.output, run.error, run.cause], default=str)
            + "".join(n.subject + n.message + json.dumps(n.attributes) for n in run.notices)
        )
        self.dx.clear_faults()
        self.dx.clear_exchanges()
        self.aws.faults.clear()
        self.aws._deployed.lambdas.timeouts.clear()
        return line

    def account(self, number: int, run: CheckRun, subjects: list[Subject]) -> str:
        """Audits the run's subscribers into the totals; returns a one-line account of the run."""
        totals = self.totals
        totals.runs += 1
        label = f"run {number} ({', '.join(s.fault for s in subjects)})"
        if run.seconds > totals.slowest[0]:
            totals.slowest = (run.seconds, label)
        if run.status not in ("SUCCEEDED", "FAILED"):
            totals.unfinished.append(f"{label}: {run.status} {run.error}")
            return f"{label}: UNFINISHED {run.status}"
        if run.status == "FAILED":
            totals.outcomes[f"FAILED/{run.error}"] += 1
            return f"{label}: execution FAILED/{run.error}"
        kinds = []
        for subject in subjects:
            totals.checks += 1
            totals.faults[subject.fault] += 1
            result: Audit = audit(self.aws, self.dx, run, subject.subscriber_id)
            kind = result.status or "NO OUTCOME"
            if result.error_type:
                kind += f"/{result.error_type}"
            totals.outcomes[kind] += 1
            totals.refused_by_s3 += result.refused_by_s3
            totals.leftovers += len(result.leftovers)
            kinds.append(kind + (" LOST" if result.lost else ""))
            if result.lost:
                totals.lost.append(f"{label}: {subject.subscriber_id} ({subject.fault}): {result.problems}")
        return f"{label} {run.seconds:.2f} s: {', '.join(kinds)}"

    def scan_for_secrets(self) -> None:
        """The password and every cookie DX issued, searched for in everything a reader can see."""
        seen = "\n".join(self.transcripts) + self.aws.function_logs()
        seen += "".join(body.decode("latin-1") for body in bucket_objects(self.aws).values())
        secrets = {PASSWORD, *self.cookies}
        self.totals.leaks = sum(1 for secret in secrets if secret and secret in seen)


def issued_cookies(dx: Simulator) -> set[str]:
    cookies = set()
    for exchange in dx.exchanges:
        header = exchange.response_headers.get("Set-Cookie", "")
        if header.startswith("LtpaToken2="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            if value:
                cookies.add(value)
    return cookies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds before a run counts as unfinished"
    )
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    args = parser.parse_args(argv)

    scenario = Scenario.model_validate(
        {"name": "soak", "findDurationSeconds": 0.2, "seed": args.seed, "credentials": {"password": PASSWORD}}
    )
    started = time.monotonic()
    with Simulator(scenario, record_exchanges=True) as dx:
        forget_all()
        credentials = {"username": dx.username, "password": dx.password}
        publisher = {"hostname": dx.hostname, "dxProtocol": "http", "dxPort": dx.port}
        with LocalAws(
            credentials, parameters=stack_parameters(publisher), retry_time_scale=0.01, function_env=ENV
        ) as aws:
            soak = Soak(dx, aws, random.Random(args.seed), args.timeout)
            for number in range(1, args.runs + 1):
                line = soak.run(number)
                if not args.quiet:
                    print(line, flush=True)
            soak.scan_for_secrets()
        forget_all()
    totals = soak.totals
    print(
        f"soak: seed {args.seed}, {totals.runs} runs, {totals.checks} subscriber checks, "
        f"{time.monotonic() - started:.0f} s"
    )
    print("outcomes: " + ", ".join(f"{kind}={n}" for kind, n in sorted(totals.outcomes.items())))
    print("faults dealt: " + ", ".join(f"{kind}={n}" for kind, n in sorted(totals.faults.items())))
    print(
        f"records S3 refused (and the outcome said so): {totals.refused_by_s3}; "
        f"part objects left behind: {totals.leftovers}; secrets found in artefacts: {totals.leaks}"
    )
    for line in totals.lost:
        print(f"LOST {line}")
    for line in totals.unfinished:
        print(f"UNFINISHED {line}")
    print(f"slowest: {totals.slowest[0]:.2f} s, {totals.slowest[1]}")
    lost, unfinished = len(totals.lost), len(totals.unfinished)
    print(f"soak: runs={totals.runs} lost={lost} unfinished={unfinished} slowest_s={totals.slowest[0]:.2f}")
    return 1 if lost or unfinished or totals.leaks else 0


if __name__ == "__main__":
    sys.exit(main())
