"""``damdrift check``: one full drift check, run locally through the real state machine definition.

``--demo`` starts the bundled DX simulator (one subscriber in sync, one drifting, one whose find
fails); otherwise the options point at a real publisher. Either way AWS is moto in this process, the
handlers are the real ones, and the reports are copied to ``--out`` with the S3 key layout.
Exit status like diff(1): 0 all in sync, 1 drift found, 2 a check errored; 3 or more: the check
could not run (bad settings, an unreachable publisher, an unwritable --out; 130 interrupted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import select
import shlex
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from damdrift.dx.models import Subscriber
from damdrift.execution_input import CheckInput
from damdrift.fleet.run import RunSummary
from damdrift.models.summary import CheckStatus, Summary
from damdrift.report.records.ignore import IgnoreRules, IgnoreRulesError
from damdrift.report.rendering.next_steps import error_hint, next_steps
from damdrift.report_layout import HTML_FILENAME
from damdrift_cli import exit_status
from damdrift_cli.commands.approve import describe
from damdrift_cli.commands.report import refresh_overviews, write_html
from damdrift_cli.exit_status import CommandFailed
from damdrift_cli.local import viewer as local_viewer
from damdrift_cli.local.budget import wait_budget
from damdrift_cli.local.lambda_adapter import Invocation
from damdrift_cli.local.paths import inside
from damdrift_cli.local.reports import Run
from damdrift_cli.local.retries import RetryTracker, deployed_definitions, retriers_by_function
from damdrift_cli.local.runner import CheckRun
from damdrift_cli.options import add_connection_arguments, publisher_input, read_password, resolve_connection
from damdrift_cli.preflight import connection_of, login_once
from damdrift_cli.printed import check_command, missing_dam, refusal_for_the_cli, subscribers_command
from damdrift_cli.remediation_options import (
    add_remediation_arguments,
    remediation_input,
    remediation_parameters,
)
from damdrift_cli.waiting import duration, gave_up_sentence, left_behind

if TYPE_CHECKING:  # boto3 and moto load only once a check starts: a wrong port fails before that
    from damdrift.remediation.approval import PendingApproval
    from damdrift_cli.local.lambda_adapter import Invocation
    from damdrift_cli.local.runner import CheckRun

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_ERRORED = exit_status.IN_SYNC, exit_status.DRIFT, exit_status.ERRORED
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: How long `--approve prompt` waits for an answer on the terminal before it denies.
APPROVAL_PROMPT_SECONDS = 300

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
        "-subscriberId",
        action="append",
        default=[],
        help="check only this subscriber: its id or its target host (repeatable; default all)",
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
        "--busy-policy",
        choices=["wait", "report"],
        help="when staging operations are running: wait for them, or end as ERRORED 'publisher busy' "
        "(default: wait)",
    )
    policy.add_argument(
        "--notify-policy",
        choices=["on-drift", "on-change", "always"],
        help="when to publish a notice (default on-drift; on-change: NEW/RESOLVED records or a new status)",
    )
    policy.add_argument("--max-concurrency", type=int, help="subscribers checked at once (default 2)")
    policy.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="stop waiting for the check after this many seconds (default: the input's budgets added up: "
        "each subscriber's find and busy wait up to --max-find-duration, remediation's approval and "
        "resync, --max-concurrency at a time)",
    )
    add_remediation_arguments(parser)
    parser.add_argument(
        "--ignore-file",
        type=Path,
        help="ignore rules (JSON) for this run: stored where the functions read them (IGNORE_RULES_KEY; "
        "default: none)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, progress: TextIO | None = None) -> int:
    out, progress = out or sys.stdout, progress or sys.stderr
    resolve_connection(args)
    if not args.demo and not args.hostname:
        raise CommandFailed(
            "give --hostname (a real publisher; or --config with dxclient's config.json) "
            "or --demo (the bundled simulator)"
        )
    rules = _ignore_rules(args)
    ensure_writable(args.out)
    with quiet_moto_logs(), _publisher(args, progress) as (publisher, username, password, poll, dams):
        planned = _preflight(args, publisher, (username, password), rules, progress)
        execution_input = _execution_input(args, publisher, poll, dams)
        from damdrift_cli.local.runner import LocalAws, stack_parameters

        watcher = _Progress(progress)
        with LocalAws(
            {"username": username, "password": password},
            # The stack a deploy for this publisher would have: the credentials bound to its host(s).
            parameters={
                **stack_parameters(publisher, _typed_dams(execution_input)),
                **remediation_parameters(args),
                **local_viewer.CHAT_PARAMETERS,
            },
            on_invoke=watcher.invoked,
            function_env={**local_viewer.function_env(), **_ca_bundles(publisher)},
            # The notices printed here answer an approval at this prompt: no moto URL that answers nobody.
            function_urls=False,
        ) as aws:
            watcher.retries = RetryTracker(
                retriers_by_function(deployed_definitions(aws.client("stepfunctions")))
            )
            local_viewer.install_key(aws, args.out)
            chat_queue = local_viewer.install_chat(aws)
            seeded = aws.upload_history(args.out)
            if seeded:
                print(f"Compared with the checks in {args.out}/ ({seeded} files uploaded)", file=progress)
            if rules is not None:
                key = aws.put_ignore_rules(rules)
                print(f"Ignore rules from {args.ignore_file} stored at {key}", file=progress)
            print(f"Running the drift check state machine against {publisher['hostname']} ...", file=progress)
            approver = _Approver(
                args.approve, progress, args.approval_timeout or APPROVAL_PROMPT_SECONDS, progress=watcher
            )
            limit = args.wait or wait_budget(CheckInput.model_validate(execution_input), len(planned))
            how = "--wait" if args.wait else "the input's budgets; --wait changes it"
            print(f"Waiting up to {duration(limit)} for the check ({how})", file=progress)
            try:
                result = aws.run_check(execution_input, on_approval=approver, timeout_seconds=limit)
            except KeyboardInterrupt:
                copied = aws.download_reports(args.out)
                print(
                    f"\nInterrupted: the execution was stopped; {len(copied)} report files it had written "
                    f"are in {args.out}/",
                    file=progress,
                )
                return exit_status.INTERRUPTED
            copied = aws.download_reports(args.out)
            chat = local_viewer.chat_messages(aws, chat_queue)
        print(f"Copied {len(copied)} report files to {args.out}/", file=progress)
        if aws.refused_keys:
            print(
                f"damdrift: warning: {len(aws.refused_keys)} paths outside {args.out}/ were refused: "
                + ", ".join(repr(key) for key in aws.refused_keys[:5]),
                file=progress,
            )
        rerun = check_command(args)
        for page in refresh_overviews(args.out):  # every subscriber in the folder, not only this run's
            print(f"Overview: {page}", file=progress)
        if result.notices:
            serve = shlex.join(["damdrift", "report", "serve", "--reports", str(args.out)])
            print(f"The notices' links open with: {serve}", file=progress)
        gave_up = None
        if result.gave_up_after is not None:
            gave_up = _gave_up(args, result, planned, publisher, (username, password))
        status = render(result, args.out, out, rerun, gave_up)
        local_viewer.print_chat(chat, out)
        return status


def _execution_input(
    args: argparse.Namespace,
    publisher: dict[str, Any],
    poll: dict[str, Any],
    dams: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The drift check's execution input from the options (validated by the state machine)."""
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
    return execution_input


def _ca_bundles(publisher: dict[str, Any]) -> dict[str, str]:
    """The --ca-bundle the user typed is the local stack's own CA bundle (a deployed stack's are the files
    of its layer's ca-bundles/ folder): the functions accept no other."""
    bundle = publisher.get("caBundle")
    return {"DX_CA_BUNDLES": str(Path(bundle).resolve())} if bundle else {}


def ensure_writable(folder: Path) -> None:
    """Refuses an --out that cannot take the reports, before a check spends minutes producing them."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".damdrift-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CommandFailed(f"--out {folder}: cannot write reports there ({reason})") from None


def _ignore_rules(args: argparse.Namespace) -> bytes | None:
    if args.ignore_file is None:
        return None
    try:
        rules: bytes = args.ignore_file.read_bytes()
        IgnoreRules.parse(rules)
    except OSError as exc:
        reason = exc.strerror or exc
        raise CommandFailed(f"--ignore-file {args.ignore_file}: cannot read it ({reason})") from None
    except IgnoreRulesError as exc:
        raise CommandFailed(f"--ignore-file {args.ignore_file}: {exc}") from None
    return rules


def _preflight(
    args: argparse.Namespace,
    publisher: dict[str, Any],
    credentials: tuple[str, str],
    rules: bytes | None,
    progress: TextIO,
) -> list[Subscriber]:
    """One login before the state machine starts: a wrong host, port, protocol or password fails now.
    Returns the subscribers the check is to look at."""
    username, password = credentials
    subscribers = login_once(publisher, username, password)
    registered = {s.id for s in subscribers}
    by_host = {s.target_host.lower(): s.id for s in subscribers if s.target_host}

    def ids(option: str, given: list[str]) -> list[str]:
        """Each subscriber as its id, whether given as its id or its target host (as dxclient takes)."""
        resolved = [by_host.get(i.lower(), i) if i not in registered else i for i in given]
        unknown = [g for g, i in zip(given, resolved, strict=True) if i not in registered]
        if unknown:
            known = ", ".join(f"{s.id} ({s.target_host})" for s in subscribers) or "none"
            raise CommandFailed(
                f"{option} {', '.join(unknown)}: not registered on {publisher['hostname']}; "
                f"registered: {known}"
            )
        return resolved

    args.subscriber_id = ids("--subscriber-id", args.subscriber_id)
    args.two_way = ids("--two-way", args.two_way)
    dam_ids = ids("--subscriber-dam", [subscriber for subscriber, _dam in args.subscriber_dam])
    args.subscriber_dam = [(i, dam) for i, (_given, dam) in zip(dam_ids, args.subscriber_dam, strict=True)]
    print(
        f"Logged in to {publisher['hostname']} as {username}: {len(subscribers)} subscribers registered",
        file=progress,
    )
    if rules is not None:
        publisher_id = connection_of(publisher).publisher_id
        for stranger in IgnoreRules.parse(rules).strangers(publisher_id, sorted(registered)):
            print(f"damdrift: warning: --ignore-file {args.ignore_file}: {stranger}", file=progress)
    return [s for s in subscribers if s.id in args.subscriber_id] if args.subscriber_id else subscribers


def _gave_up(
    args: argparse.Namespace,
    result: CheckRun,
    planned: list[Subscriber],
    publisher: dict[str, Any],
    credentials: tuple[str, str],
) -> str:
    """The sentence for a run that stopped waiting, with what DX says now about the ones left."""
    finished = [
        str(child.input["subscriber"]["subscriberId"])
        for child in result.executions[1:]
        if child.started_by == result.execution_arn
        and child.status != "RUNNING"
        and "subscriber" in child.input
    ]
    try:
        now_on_dx = login_once(publisher, *credentials)
    except CommandFailed:
        now_on_dx = []
    left = left_behind(planned, result.left_running, finished, now_on_dx)
    limit = result.gave_up_after or 0.0
    return gave_up_sentence(limit, left, check_command(args), subscribers_command(args))


@contextlib.contextmanager
def _publisher(
    args: argparse.Namespace, progress: TextIO
) -> Iterator[tuple[dict[str, Any], str, str, dict[str, Any], dict[str, dict[str, Any]]]]:
    if not args.demo:
        publisher = publisher_input(args)
        connection_of(publisher)  # a bad option fails before the password prompt
        yield publisher, args.dx_username, read_password(args.dx_username, args.config_password), {}, {}
        return
    from damdrift_cli import demo
    from damdrift_cli.simulator import Simulator

    number = demo.run_number(args.out, demo.DEMO_PORT)
    scenario = demo.demo_scenario(number)
    try:
        simulator = Simulator(scenario=scenario, find_duration=DEMO_FIND_SECONDS, port=demo.DEMO_PORT).start()
    except OSError:
        simulator = Simulator(scenario=scenario, find_duration=DEMO_FIND_SECONDS).start()
        print(
            f"damdrift: warning: port {demo.DEMO_PORT} is taken; the demo publisher is on {simulator.port}, "
            "so this check is not compared with earlier demo checks",
            file=progress,
        )
    with contextlib.closing(_Stopping(simulator)):
        print(f"DX simulator (demo run {number}) listening on {simulator.base_url}", file=progress)
        publisher = {"hostname": simulator.hostname, "dxProtocol": "http", "dxPort": simulator.port}
        simulator.configure(resync_duration_seconds=1.0, operation_duration_seconds=2.0)
        dams = {
            spec.id: {"hostname": dam.hostname, "dxProtocol": "http", "dxPort": dam.port}
            for spec in scenario.subscribers
            if spec.dam and (dam := simulator.subscriber_dam(spec.id))
        }
        yield publisher, scenario.credentials.username, scenario.credentials.password, DEMO_POLL, dams


def _typed_dams(execution_input: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The subscribers' own DAM connections the input names (--subscriber-dam, the demo's)."""
    options = execution_input.get("subscriberOptions") or {}
    return {sub: option["dam"] for sub, option in options.items() if isinstance(option.get("dam"), dict)}


class _Stopping:
    """``contextlib.closing`` for a started simulator (its own ``with`` would start it again)."""

    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator

    def close(self) -> None:
        self.simulator.stop()


def _poll_overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = (
        ("poll_initial_wait", "initialWaitSeconds"),
        ("poll_max_wait", "maxWaitSeconds"),
        ("max_find_duration", "maxDurationSeconds"),
    )
    return {key: getattr(args, option) for option, key in pairs if getattr(args, option) is not None}


class _Progress:
    """Prints one line per step as the handlers run, so a person sees the check move; a failure says
    why and what the state machine does next (``retrying in up to 4 s (2/5)``)."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.retries = RetryTracker({})
        self.clock = clock
        #: When each subscriber's find was triggered (by target host or id), for "running for 42 s".
        self.triggered: dict[str, float] = {}
        self._lock = threading.Lock()
        self._held: list[str] | None = None

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Keeps step lines back while a question waits on the terminal: a step ending meanwhile (the
        request's own RequestApproval, another subscriber's poll) would land on the question's line."""
        with self._lock:
            self._held = []
        try:
            yield
        finally:
            with self._lock:
                held, self._held = self._held or [], None
            for line in held:
                print(line, file=self.stream, flush=True)

    def _print(self, line: str) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(line)
                return
        print(line, file=self.stream, flush=True)

    def invoked(self, invocation: Invocation) -> None:
        event = invocation.event if isinstance(invocation.event, dict) else {}
        subscriber = (event.get("subscriber") or {}).get("targetHost") or (event.get("subscriber") or {}).get(
            "subscriberId", ""
        )
        step = invocation.function.rsplit("-", 1)[-1].removesuffix("Function")
        if not invocation.errored:
            self.retries.succeeded(invocation.function, subscriber)
            if step == "TriggerMismatch":
                self.triggered.setdefault(subscriber, self.clock())
            started = self.triggered.get(subscriber)
            if step == "PollStatus" and started is not None:
                running = duration(self.clock() - started)
                self._print(f"  [{step}] {subscriber}: DX's find started {running} ago")
                return
            if step == "FetchReport":
                self.triggered.pop(subscriber, None)
            self._print(f"  [{step}] {subscriber} done")
            return
        error_type, message = _lambda_error(invocation.payload)
        then = self.retries.failed(invocation.function, subscriber, error_type)
        self._print(f"  [{step}] {subscriber} failed, {then}: {error_type}: {message}")


def _lambda_error(payload: str) -> tuple[str, str]:
    """Lambda's error envelope as (errorType, errorMessage's first line, capped)."""
    try:
        envelope = json.loads(payload)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        return "Lambda.Unknown", ""
    message = str(envelope.get("errorMessage") or "").splitlines()
    return str(envelope.get("errorType") or "Lambda.Unknown"), (progress_text(message[0]) if message else "")


def progress_text(message: str, limit: int = 300) -> str:
    """An error message short enough for a progress line, never cut inside the JSON DX sent: a long
    message keeps the words before its JSON."""
    if len(message) <= limit:
        return message
    starts = [i for i in (message.find("{"), message.find("[")) if i >= 0]
    cut = min(starts) if starts and min(starts) < limit else message.rfind(" ", 0, limit)
    return message[: max(cut, 0)].rstrip(" :,;") + " ... (cut)"


def render(
    result: CheckRun, out_dir: Path, out: TextIO, rerun: str | None = None, gave_up: str | None = None
) -> int:
    """Prints each subscriber's outcome and the notices; returns the exit status. ``rerun`` is the
    check command the next steps suggest (default: ``damdrift check --hostname ...``); ``gave_up``
    the sentence for a run that stopped waiting."""
    if gave_up is not None:
        print(f"\nExecution {result.name}: stopped after {duration(result.seconds)}", file=out)
        print(f"  {gave_up}", file=out)
        _print_notices(result, out)
        print(result.quotas.line(), file=out)
        return EXIT_ERRORED
    print(f"\nExecution {result.name}: {result.status} in {result.seconds:.1f} s", file=out)
    if result.status != "SUCCEEDED":
        print(f"  error: {failure_text(result.error, result.cause)}", file=out)
        _print_notices(result, out)
        print(result.quotas.line(), file=out)
        print(result.usage.line(), file=out)
        return EXIT_ERRORED
    outcomes = result.outcomes
    if not outcomes:
        print("  No subscribers are registered on the publisher: nothing to check.", file=out)
    worst = EXIT_IN_SYNC
    in_run_notice = _listed_in_run_notices(result, out_dir)
    for outcome in outcomes:
        listed = in_run_notice.get(str(outcome.get("subscriberId")))
        skipped = (outcome.get("notified") or {}).get("status") == "SKIPPED"
        item = (
            {**outcome, "notified": {"status": f"in the run's notice ({listed})"}}
            if listed and skipped
            else outcome
        )
        worst = max(worst, _render_outcome(item, out_dir, out, rerun))
    _print_notices(result, out)
    meaning = {EXIT_IN_SYNC: "all in sync", EXIT_DRIFT: "drift found", EXIT_ERRORED: "a check errored"}[worst]
    print(f"\n{result.state_transitions} state transitions. Exit status {worst}: {meaning}.", file=out)
    # Headroom to Step Functions' quotas (25,000 events per execution, 256 KiB per state payload).
    print(result.quotas.line(), file=out)
    # What the run would cost on AWS, counted from its real calls (damdrift.fleet.pricing).
    print(result.usage.line(), file=out)
    return worst


def _listed_in_run_notices(result: CheckRun, out_dir: Path) -> dict[str, str]:
    """Subscriber id -> the status of the run's notice that lists it, from the run.json the fleet step
    wrote (copied under ``out_dir``); empty without one."""
    run_key = ((result.output or {}).get("run") or {}).get("runKey")
    path = inside(out_dir, run_key) if isinstance(run_key, str) else None
    if path is None or not path.is_file():
        return {}
    try:
        run = RunSummary.model_validate_json(path.read_bytes())
    except ValueError:
        return {}
    sent = {notice.topic: notice.status for notice in run.notices}
    return {
        entry.subscriber_id: sent[entry.topic]
        for entry in run.subscribers
        if entry.topic in sent and entry in run.needing_notice(entry.topic)
    }


def _render_outcome(item: dict[str, Any], out_dir: Path, out: TextIO, rerun: str | None) -> int:
    """One subscriber's lines; returns the exit status its outcome alone would give."""
    outcome = item.get("outcome") or item
    status = outcome.get("status", "ERRORED")
    name = outcome.get("targetHost") or outcome.get("subscriberId")
    total = outcome.get("total", 0)
    ignored = outcome.get("ignoredTotal") or 0
    counted = f"{total - ignored} mismatches ({ignored} ignored)" if ignored else f"{total} mismatches"
    unknown = "mismatches unknown (the check did not finish)"  # as the notice and HTML word it
    found = counted if status != "ERRORED" or outcome.get("partial") else unknown
    if outcome.get("partial"):
        found += " downloaded before the failure"
    who = printable(f"{name} (subscriber {outcome.get('subscriberId')})")
    print(f"\n  {status:<8} {who}: {found}", file=out)
    changes = outcome.get("changes")
    if changes and status != "ERRORED":
        print(f"           since previous check: {changes_text(changes)}", file=out)
    for record_type, actions in sorted((outcome.get("counts") or {}).items()):
        cells = "  ".join(f"{action} {count}" for action, count in sorted(actions.items()))
        print(f"           {record_type:<26} {cells}", file=out)
    error = outcome.get("error")
    if error:
        said = f"{error.get('type') or error.get('Error')}: {error.get('message', '')}"
        print(f"           error: {printable(said)}", file=out)
    # The run's folder as --out was given (relative stays relative), once known to stay inside it.
    key = outcome.get("summaryKey")
    folder = (out_dir / key).parent if key and inside(out_dir, key) is not None else None
    summary = _read_summary(folder)
    if summary is not None:
        _print_diagnosis(summary, out)
    if key:
        html = folder / HTML_FILENAME if folder is not None else None
        shown = html if html is not None and html.is_file() else (folder or "-")
        print(f"           report: {shown}", file=out)
    remediation = item.get("remediation")
    if remediation:
        print(f"           remediation: {remediation_text(status, remediation)}", file=out)
    notified = (item.get("notified") or {}).get("status")
    print(f"           notice: {notified}", file=out)
    if summary is not None and folder is not None:
        dam = missing_dam(remediation, str(outcome.get("subscriberId")), outcome.get("targetHost"))
        _print_next_steps(summary, folder, rerun, out, dam)
        if summary.status is CheckStatus.DRIFT and (folder / HTML_FILENAME).is_file():
            # The page the function wrote names the publisher only; this check's options are known here.
            write_html(Run(folder, summary), folder / HTML_FILENAME, rerun=rerun, subscriber_dam=dam)
    return {"IN_SYNC": EXIT_IN_SYNC, "DRIFT": EXIT_DRIFT}.get(status, EXIT_ERRORED)


def _read_summary(folder: Path | None) -> Summary | None:
    """The run's summary.json as copied to --out, if it is there."""
    from damdrift.report_layout import SUMMARY_FILENAME

    try:
        return Summary.model_validate_json((folder / SUMMARY_FILENAME).read_bytes()) if folder else None
    except (OSError, ValueError):
        return None


def printable(text: str) -> str:
    """DX's text for a terminal: control characters (escape sequences, line breaks) become spaces."""
    return _CONTROL.sub(" ", text)


def _print_diagnosis(summary: Summary, out: TextIO) -> None:
    """An ERRORED check's diagnosis (what DX said) and HCL's hint, as the notice and HTML give them."""
    error = summary.error
    if error is None:
        return
    for key, value in sorted((error.diagnosis or {}).items()):
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        print(f"           dx:     {printable(str(key))[:80]}: {printable(shown)[:200]}", file=out)
    hint = error_hint(error)
    if hint is not None:
        for number, line in enumerate(textwrap.wrap(hint, 88)):
            print(f"           {'hint:  ' if number == 0 else '       '}{line}", file=out)


def _print_next_steps(
    summary: Summary, folder: Path, rerun: str | None, out: TextIO, subscriber_dam: str | None = None
) -> None:
    steps = next_steps(summary, check_folder=str(folder), rerun=rerun, subscriber_dam=subscriber_dam)
    if steps:
        print("           next steps:", file=out)
    for step in steps:
        print(f"             {step.what}:\n               {printable(step.command)}", file=out)


def failure_text(error: str | None, cause: str | None) -> str:
    """A failed execution's error in one line: a Lambda error envelope's type and message, no stack."""
    try:
        envelope = json.loads(cause or "")
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and envelope.get("errorMessage"):
        return f"{envelope.get('errorType') or error}: {envelope['errorMessage']}"
    return f"{error}: {cause}" if cause else str(error)


@contextlib.contextmanager
def quiet_moto_logs() -> Iterator[None]:
    """moto's interpreter logs each failed state as ``FailureEventException ... object at 0x...``; the
    execution's history (which the outcome is read from) already says what failed and why."""
    log = logging.getLogger("moto")
    level = log.level
    if not os.environ.get("DAMDRIFT_DEBUG"):
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


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
        return f"REFUSED: {refusal_for_the_cli(str(remediation.get('reason')))}"
    if phase == "AWAITING_APPROVAL":
        return "not approved: nothing was changed"
    return f"FAILED during {phase} (see the error above)"


class _Approver:
    """Answers remediation requests while the local execution waits for them.

    The question goes to the progress stream (stderr, flushed) and the answer is read from stdin with
    a timeout, so it shows on a terminal even while the handlers' output is being captured, and an
    unattended run does not wait forever: no answer (or just Enter) is "no".
    """

    def __init__(
        self,
        mode: str,
        stream: TextIO,
        timeout: float,
        stdin: TextIO | None = None,
        progress: _Progress | None = None,
    ) -> None:
        self.mode = mode
        self.stream = stream
        self.timeout = timeout
        self.stdin = stdin or sys.stdin
        self.progress = progress

    def __call__(self, pending: PendingApproval) -> bool:
        if self.progress is None:
            return self._ask(pending)
        with self.progress.holding():
            return self._ask(pending)

    def _ask(self, pending: PendingApproval) -> bool:

        print(f"\nRemediation {describe(pending)}", file=self.stream, flush=True)
        if self.mode != "prompt":
            print(f"  --approve {self.mode}", file=self.stream)
            return self.mode == "yes"
        if not self.stdin.isatty():
            print("  no terminal to ask on: denied (use --approve yes|no)", file=self.stream)
            return False
        print(
            f"  Start the staging resync now? [y/N] (no answer in {self.timeout:g} s: no) ",
            end="",
            file=self.stream,
            flush=True,
        )
        ready, _, _ = select.select([self.stdin], [], [], self.timeout)
        if not ready:
            print(f"\n  no answer in {self.timeout:g} s: denied", file=self.stream, flush=True)
            return False
        answer = self.stdin.readline().strip().lower() in {"y", "yes"}
        print(f"  {'approved' if answer else 'denied'}", file=self.stream, flush=True)
        return answer


def changes_text(changes: dict[str, Any]) -> str:
    """The 'since previous check' line, its ignored records counted as the notice counts them."""
    if changes.get("error"):
        return f"not compared ({changes['error']})"
    if not changes.get("previousExecution"):
        return "none (the first check)"
    new, resolved, unchanged = (changes.get(k, 0) for k in ("new", "resolved", "unchanged"))
    new_ignored, resolved_ignored = (changes.get(k) or 0 for k in ("newIgnored", "resolvedIgnored"))
    return f"+{new} new, -{resolved} resolved, {unchanged} unchanged" + (
        f" ({new_ignored} of the new, {resolved_ignored} of the resolved ignored)"
        if new_ignored or resolved_ignored
        else ""
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
