"""``damdrift check``: one full drift check, run locally through the real state machine definition.

``--demo`` starts the bundled DX simulator (one subscriber in sync, one drifting, one whose find
fails); otherwise the options point at a real publisher. Either way AWS is moto in this process, the
handlers are the real ones, and the reports are copied to ``--out`` with the S3 key layout.
Exit status like diff(1): 0 all in sync, 1 drift found, 2 a check errored.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from damdrift.remediation.approval import PendingApproval
from damdrift.report.ignore import IgnoreRules, IgnoreRulesError
from damdrift_cli.commands.approve import describe
from damdrift_cli.local.lambda_adapter import Invocation
from damdrift_cli.local.runner import CheckRun, LocalAws
from damdrift_cli.options import add_connection_arguments, publisher_input, read_password
from damdrift_cli.remediation_options import add_remediation_arguments, remediation_input

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_ERRORED = 0, 1, 2

#: The demo's timings: the simulator's finds take a few seconds and the poll schedule is scaled to
#: match. The poll logic is the production one; only the numbers differ.
DEMO_FIND_SECONDS = 3.0
DEMO_POLL = {
    "initialWaitSeconds": 1,
    "maxWaitSeconds": 2,
    "backoffRate": 1.5,
    "jitterSeconds": 1,
    "maxDurationSeconds": 120,
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run a full drift check locally through the real state machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--demo", action="store_true", help="check the bundled DX simulator's demo publisher")
    parser.add_argument(
        "--out", type=Path, default=Path("dam-drift-reports"), help="where to copy the reports"
    )
    parser.add_argument(
        "--subscriber-id",
        action="append",
        default=[],
        help="check only this subscriber (repeatable; default all)",
    )
    add_connection_arguments(parser)
    policy = parser.add_argument_group("check policy (the execution input's fields)")
    policy.add_argument(
        "--poll-initial-wait", type=int, help="seconds before the first status poll (default 10)"
    )
    policy.add_argument("--poll-max-wait", type=int, help="longest wait between polls (default 60)")
    policy.add_argument(
        "--max-find-duration", type=int, help="give up on a find after this many seconds (default 7200)"
    )
    policy.add_argument(
        "--busy-policy", choices=["wait", "report"], help="when staging operations are running"
    )
    policy.add_argument(
        "--notify-policy",
        choices=["on-drift", "on-change", "always"],
        help="when to publish a notice (default on-drift; on-change: NEW/RESOLVED records or a new status)",
    )
    policy.add_argument("--max-concurrency", type=int, help="subscribers checked at once (default 2)")
    add_remediation_arguments(parser)
    parser.add_argument(
        "--ignore-file",
        type=Path,
        help="ignore rules (JSON) for this run: stored where the functions read them (IGNORE_RULES_KEY)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, progress: TextIO = sys.stderr) -> int:
    if not args.demo and not args.hostname:
        print(
            "damdrift check: give --hostname (a real publisher) or --demo (the bundled simulator)",
            file=progress,
        )
        return EXIT_ERRORED
    rules = None
    if args.ignore_file is not None:
        try:
            rules = args.ignore_file.read_bytes()
            IgnoreRules.parse(rules)
        except (OSError, IgnoreRulesError) as exc:
            print(f"damdrift check: --ignore-file {args.ignore_file}: {exc}", file=progress)
            return EXIT_ERRORED
    with _publisher(args, progress) as (publisher, username, password, poll, dams):
        execution_input: dict[str, Any] = {"publisher": publisher}
        if args.subscriber_id:
            execution_input["subscriberIds"] = args.subscriber_id
        execution_input["poll"] = {**poll, **_poll_overrides(args)}
        for option, key in (
            ("busy_policy", "busyPolicy"),
            ("notify_policy", "notifyPolicy"),
            ("max_concurrency", "maxConcurrency"),
        ):
            if getattr(args, option) is not None:
                execution_input[key] = getattr(args, option)
        execution_input.update(remediation_input(args, dams))
        watcher = _Progress(progress)
        with LocalAws({"username": username, "password": password}, on_invoke=watcher.invoked) as aws:
            seeded = aws.upload_history(args.out)
            if seeded:
                print(f"Compared with the checks in {args.out}/ ({seeded} files uploaded)", file=progress)
            if rules is not None:
                key = aws.put_ignore_rules(rules)
                print(f"Ignore rules from {args.ignore_file} stored at {key}", file=progress)
            print(f"Running the drift check state machine against {publisher['hostname']} ...", file=progress)
            result = aws.run_check(execution_input, on_approval=_Approver(args.approve, progress))
            copied = aws.download_reports(args.out)
        print(f"Copied {len(copied)} report files to {args.out}/", file=progress)
        return render(result, args.out, out)


@contextlib.contextmanager
def _publisher(
    args: argparse.Namespace, progress: TextIO
) -> Iterator[tuple[dict[str, Any], str, str, dict[str, Any], dict[str, dict[str, Any]]]]:
    if not args.demo:
        yield publisher_input(args), args.dx_username, read_password(args.dx_username), {}, {}
        return
    from damdrift_cli.simulator import Simulator, load_scenario

    scenario = load_scenario("default")
    with Simulator(scenario=scenario, find_duration=DEMO_FIND_SECONDS) as simulator:
        print(f"DX simulator (scenario 'default') listening on {simulator.base_url}", file=progress)
        publisher = {"hostname": simulator.hostname, "dxProtocol": "http", "dxPort": simulator.port}
        simulator.configure(resync_duration_seconds=1.0, operation_duration_seconds=2.0)
        dams = {
            spec.id: {"hostname": dam.hostname, "dxProtocol": "http", "dxPort": dam.port}
            for spec in scenario.subscribers
            if spec.dam and (dam := simulator.subscriber_dam(spec.id))
        }
        yield publisher, scenario.credentials.username, scenario.credentials.password, DEMO_POLL, dams


def _poll_overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = (
        ("poll_initial_wait", "initialWaitSeconds"),
        ("poll_max_wait", "maxWaitSeconds"),
        ("max_find_duration", "maxDurationSeconds"),
    )
    return {key: getattr(args, option) for option, key in pairs if getattr(args, option) is not None}


class _Progress:
    """Prints one line per step as the handlers run, so a person sees the check move."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def invoked(self, invocation: Invocation) -> None:
        event = invocation.event if isinstance(invocation.event, dict) else {}
        subscriber = (event.get("subscriber") or {}).get("targetHost") or (event.get("subscriber") or {}).get(
            "subscriberId", ""
        )
        step = invocation.function.rsplit("-", 1)[-1].removesuffix("Function")
        what = "failed" if invocation.errored else "done"
        print(f"  [{step}] {subscriber} {what}", file=self.stream, flush=True)


def render(result: CheckRun, out_dir: Path, out: TextIO) -> int:
    """Prints each subscriber's outcome and the notices; returns the exit status."""
    print(f"\nExecution {result.name}: {result.status} in {result.seconds:.1f} s", file=out)
    if result.status != "SUCCEEDED":
        print(f"  error: {result.error}\n  cause: {result.cause}", file=out)
        _print_notices(result, out)
        print(result.quotas.line(), file=out)
        return EXIT_ERRORED
    outcomes = result.outcomes
    if not outcomes:
        print("  No subscribers are registered on the publisher: nothing to check.", file=out)
    worst = EXIT_IN_SYNC
    for item in outcomes:
        outcome = item.get("outcome") or item
        status = outcome.get("status", "ERRORED")
        name = outcome.get("targetHost") or outcome.get("subscriberId")
        total = outcome.get("total", 0)
        ignored = outcome.get("ignoredTotal") or 0
        counted = f"{total - ignored} mismatches ({ignored} ignored)" if ignored else f"{total} mismatches"
        found = counted if status != "ERRORED" or outcome.get("partial") else "check errored"
        if outcome.get("partial"):
            found += " downloaded before the failure"
        print(f"\n  {status:<8} {name} (subscriber {outcome.get('subscriberId')}): {found}", file=out)
        changes = outcome.get("changes")
        if changes and status != "ERRORED":
            print(f"           since previous check: {_changes(changes)}", file=out)
        for record_type, actions in sorted((outcome.get("counts") or {}).items()):
            cells = "  ".join(f"{action} {count}" for action, count in sorted(actions.items()))
            print(f"           {record_type:<26} {cells}", file=out)
        error = outcome.get("error")
        if error:
            print(
                f"           error: {error.get('type') or error.get('Error')}: {error.get('message', '')}",
                file=out,
            )
        if outcome.get("summaryKey"):
            local = out_dir / outcome["summaryKey"]
            print(
                f"           report: {outcome.get('reportLocation')}\n           local:  {local.parent}/",
                file=out,
            )
        remediation = item.get("remediation")
        if remediation:
            print(f"           remediation: {remediation_text(status, remediation)}", file=out)
        notified = (item.get("notified") or {}).get("status")
        print(f"           notice: {notified}", file=out)
        worst = max(worst, {"IN_SYNC": EXIT_IN_SYNC, "DRIFT": EXIT_DRIFT}.get(status, EXIT_ERRORED))
    _print_notices(result, out)
    meaning = {EXIT_IN_SYNC: "all in sync", EXIT_DRIFT: "drift found", EXIT_ERRORED: "a check errored"}[worst]
    print(f"\n{result.state_transitions} state transitions. Exit status {worst}: {meaning}.", file=out)
    # Headroom to Step Functions' quotas (25,000 events per execution, 256 KiB per state payload).
    print(result.quotas.line(), file=out)
    return worst


def remediation_text(status: str, remediation: dict[str, Any]) -> str:
    """The verdict (once the verifying find ran) or where the remediation stopped, in one line."""
    phase = remediation.get("phase")
    if phase == "VERIFYING" and status in {"IN_SYNC", "DRIFT"}:
        verdict = "VERIFIED_IN_SYNC" if status == "IN_SYNC" else "STILL_DRIFTING"
        ops = remediation.get("operations") or {}
        return (
            f"{verdict} (resync of {remediation.get('initialEffectiveTotal', 0)} mismatches; subscriber "
            f"operations {ops.get('succeeded', 0)} succeeded, {ops.get('failed', 0)} failed)"
        )
    if phase == "REFUSED":
        return f"REFUSED: {remediation.get('reason')}"
    if phase == "AWAITING_APPROVAL":
        return "not approved: nothing was changed"
    return f"FAILED during {phase} (see the error above)"


class _Approver:
    """Answers remediation requests while the local execution waits for them."""

    def __init__(self, mode: str, stream: TextIO) -> None:
        self.mode = mode
        self.stream = stream

    def __call__(self, pending: PendingApproval) -> bool:
        print(f"\nRemediation request: {describe(pending)}", file=self.stream, flush=True)
        if self.mode != "prompt":
            print(f"  --approve {self.mode}", file=self.stream)
            return self.mode == "yes"
        if not sys.stdin.isatty():
            print("  no terminal to ask on: denied (use --approve yes|no)", file=self.stream)
            return False
        answer = input("  Start the staging resync now? [y/N] ")
        return answer.strip().lower() in {"y", "yes"}


def _changes(changes: dict[str, Any]) -> str:
    if changes.get("error"):
        return f"not compared ({changes['error']})"
    if not changes.get("previousExecution"):
        return "none (the first check)"
    new, resolved, unchanged = (changes.get(k, 0) for k in ("new", "resolved", "unchanged"))
    ignored = (changes.get("newIgnored") or 0) + (changes.get("resolvedIgnored") or 0)
    return f"+{new} new, -{resolved} resolved, {unchanged} unchanged" + (
        f" ({ignored} of them ignored)" if ignored else ""
    )


def _print_notices(result: CheckRun, out: TextIO) -> None:
    if not result.notices:
        print("\nNo notifications were published.", file=out)
        return
    print(f"\nNotifications published ({len(result.notices)}):", file=out)
    for notice in result.notices:
        attributes = ", ".join(f"{k}={v}" for k, v in sorted(notice.attributes.items()))
        print(f"\n  --- to {notice.topic} [{attributes}]\n  Subject: {notice.subject}", file=out)
        for line in notice.message.splitlines():
            print(f"  | {line}", file=out)
