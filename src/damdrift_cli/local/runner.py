"""A drift check run locally: moto for AWS, the real ASL files, the real handlers in-process.

``LocalAws`` is what ``damdrift check`` and the end-to-end tests use:

    with LocalAws(credentials) as aws:
        run = aws.run_check({"publisher": {...}})
        run.outcomes, run.notices, aws.download_reports(out)

Waits in the state machine are real (moto sleeps); the input's ``poll`` policy makes them short for a
demo or a test. Retry intervals are fixed in the ASL, so ``retry_time_scale`` shrinks moto's retry
sleeps (the one other moto internal this module touches) and botocore's own retry backoff.

``aws.faults`` (:class:`~damdrift_cli.local.aws_faults.AwsFaults`) makes S3 writes or SNS publishes fail
on purpose, for tests and the soak.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import socket
import time
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from botocore import endpoint as botocore_endpoint
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from pydantic import ValidationError

from damdrift.execution_input import CheckInput
from damdrift.fleet.pricing import Invocation as BilledInvocation
from damdrift.fleet.pricing import Usage
from damdrift.remediation.approval import ApprovalStore, PendingApproval
from damdrift.settings import DEFAULT_RULES_KEY
from damdrift_cli.local import resource_checks, roles
from damdrift_cli.local.aws_faults import AwsFaults
from damdrift_cli.local.budget import wait_budget
from damdrift_cli.local.lambda_adapter import Invocation
from damdrift_cli.local.moto_child_executions import child_executions_as_on_aws
from damdrift_cli.local.paths import inside
from damdrift_cli.local.quotas import QuotaUse
from damdrift_cli.local.stack import LocalDeployment, deploy
from damdrift_cli.local.template import TEMPLATE_PATH
from damdrift_cli.local.usage import CallMeter

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def stack_parameters(
    publisher: dict[str, Any], dams: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """The template parameters a deployed stack would have for this publisher, as the user typed it:
    ``DxHostname`` and its ports and versions, the subscribers' own DAM hosts as ``AllowedDxHosts``,
    and ``AllowInsecureDx=true`` only when a connection asks for plain http or no TLS verification.
    The functions then bind the credentials to exactly these hosts, as on AWS."""
    connections = [publisher, *(dams or {}).values()]
    insecure = any(c.get("dxProtocol") == "http" or c.get("verifyTls") is False for c in connections)
    parameters = {
        "DxHostname": str(publisher.get("hostname", "")),
        "DxProtocol": str(publisher.get("dxProtocol", "https")),
        "AllowInsecureDx": "true" if insecure else "false",
    }
    for key, parameter in (
        ("dxPort", "DxPort"),
        ("ringAPIPort", "RingApiPort"),
        ("damAPIPort", "DamApiPort"),
        ("ringAPIVersion", "RingApiVersion"),
        ("damAPIVersion", "DamApiVersion"),
    ):
        if publisher.get(key) not in (None, ""):
            parameters[parameter] = str(publisher[key])
    others = sorted({endpoint for dam in (dams or {}).values() for endpoint in _endpoints(dam)})
    if others:
        parameters["AllowedDxHosts"] = ",".join(others)
    return parameters


def _endpoints(connection: dict[str, Any]) -> list[str]:
    """``host:port`` of each API port a subscriber's own DAM connection sends credentials to, as the
    functions' binding reads ``AllowedDxHosts`` (a DAM on the publisher's host but another port too)."""
    from damdrift.dx.binding import Endpoint, api_ports
    from damdrift.dx.connection import DxConnection

    dam = DxConnection.model_validate(connection)
    return [str(Endpoint(dam.hostname, port)) for _field, port in api_ports(dam)]


@dataclass(frozen=True)
class Notice:
    """One SNS publication, as an SQS subscriber of the topic received it."""

    topic: str
    subject: str
    message: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Execution:
    """One execution of the run: the drift check itself, or a subscriber check it (or a remediation's
    verify) started."""

    arn: str
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    history: list[dict[str, Any]]

    @property
    def started_by(self) -> str | None:
        return self.input.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")


@dataclass
class CheckRun:
    execution_arn: str
    name: str
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    #: Every event the run recorded: the drift check's history, then each child's.
    history: list[dict[str, Any]]
    notices: list[Notice] = field(default_factory=list)
    seconds: float = 0.0
    #: Set when the run stopped waiting (``timeout_seconds``) and stopped the execution: the limit.
    gave_up_after: float | None = None
    #: The subscribers whose checks were still running when the run gave up.
    left_running: list[str] = field(default_factory=list)
    #: The drift check first, then the subscriber checks (verifying checks included) in start order.
    executions: list[Execution] = field(default_factory=list)
    #: What the run used, counted from its real calls (the ``cost:`` line: damdrift.fleet.pricing).
    usage: Usage = field(default_factory=Usage)

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        """Each subscriber's outcome: the drift check's output keeps {subscriberId, status} only (so it
        stays small at 1,000 subscribers); the full outcome is the subscriber check's output."""
        if not self.output:
            return []
        full = {
            child.input["subscriber"]["subscriberId"]: child.output
            for child in self.executions
            if child.started_by == self.execution_arn and child.output and "subscriber" in child.input
        }
        return [full.get(item.get("subscriberId"), item) for item in self.output.get("outcomes", [])]

    @property
    def state_transitions(self) -> int:
        """Entered states, as Step Functions Standard bills them (Map and Choice included), over every
        execution of the run."""
        return sum(1 for event in self.history if event["type"].endswith("StateEntered"))

    @property
    def quotas(self) -> QuotaUse:
        return QuotaUse.of([execution.history for execution in self.executions])


class LocalAws:
    """Starts moto, deploys template.yaml into it and routes Lambda invocations to our handlers.

    ``parameters`` are the stack's template parameters (:func:`stack_parameters` makes them from a
    publisher), checked as CloudFormation checks them: ``DxHostname`` has no default, so a run without
    it is refused. ``dx_credentials`` are put into the stack's (empty) secret after the deploy, as the
    deploy guide says; None leaves it empty, as a first deploy on AWS does.
    """

    def __init__(
        self,
        dx_credentials: dict[str, str] | None,
        *,
        parameters: dict[str, str] | None = None,
        retry_time_scale: float = 1.0,
        function_env: dict[str, str] | None = None,
        on_invoke: Callable[[Invocation], None] | None = None,
        template_path: Path = TEMPLATE_PATH,
        function_urls: bool = True,
    ) -> None:
        """``parameters`` are the template's, as ``sam deploy --parameter-overrides`` gives them (e.g.
        ``MaxRemediation``); ``function_env`` overrides variables of every function after them."""
        self._template_path = template_path
        self._credentials = dx_credentials
        self._retry_time_scale = retry_time_scale
        self._parameters = dict(parameters or {})
        self._function_env = dict(function_env or {})
        self._function_urls = function_urls
        self._on_invoke = on_invoke
        self._stack = contextlib.ExitStack()
        self.deployment: LocalDeployment | None = None
        self.faults = AwsFaults()
        #: Every AWS call of the functions and the state machine (not the operator's inspection).
        self.meter = CallMeter({roles.OPERATOR_KEY[0], "FOOBARKEY", "testing"})
        #: Keys upload_history or download_reports refused because they lead outside their folder.
        self.refused_keys: list[str] = []

    def __enter__(self) -> LocalAws:
        self._stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        self._stack.enter_context(self.meter.installed())
        try:
            self.deployment = deploy(
                self._credentials,
                template_path=self._template_path,
                parameters=self._parameters,
                function_env=self._function_env,
                function_urls=self._function_urls,
            )
        except BaseException:  # a refused template: __exit__ will not run, so moto is stopped here
            self._stack.close()
            raise
        self.deployment.lambdas.on_invoke = self._on_invoke
        key, secret = roles.OPERATOR_KEY
        self.deployment.lambdas.idle_env = {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": "",  # nosec B105 - no token: the operator is an IAM user of moto
        }
        self._stack.enter_context(self.deployment.lambdas.installed())
        # Before child_executions_as_on_aws, which wraps the client this makes for each state machine.
        self._stack.enter_context(resource_checks.installed(self.deployment.machine_roles))
        self._stack.enter_context(child_executions_as_on_aws())
        # From here on moto authorizes every request: each function's against its own role.
        self._stack.enter_context(roles.enforcing())
        self._stack.enter_context(_scaled_retry_sleep(self._retry_time_scale))
        self._stack.enter_context(self.faults.installed())
        self._stack.enter_context(_quiet_is_present_probes())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def _deployed(self) -> LocalDeployment:
        if self.deployment is None:
            raise RuntimeError("LocalAws is not started; use it as a context manager")
        return self.deployment

    def client(self, service: str) -> Any:
        """A client of the local operator (allowed everything; the functions run with their roles)."""
        return roles.operator_client(service, self._deployed.region)

    def run_check(
        self,
        execution_input: dict[str, Any],
        *,
        name: str | None = None,
        timeout_seconds: float | None = None,
        on_wait: Callable[[float], None] | None = None,
        on_approval: Callable[[PendingApproval], bool | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> CheckRun:
        """Starts one execution and waits for it to end (polling, as a person at the console would).

        ``timeout_seconds`` (default: the input's budgets, :func:`~damdrift_cli.local.budget.wait_budget`)
        is when the run stops waiting: it stops the execution and says so (``gave_up_after``,
        ``left_running``). ``on_approval`` answers a ``remediate: ask`` request while the execution
        waits for it: True approves, False denies, None leaves it waiting (until its timeout).
        ``clock`` and ``sleep`` measure and pass the wait (a test moves a simulated clock instead).
        """
        sfn = self.client("stepfunctions")
        name = name or f"local-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        limit = timeout_seconds if timeout_seconds is not None else _budget_of(execution_input)
        started = clock()
        self.meter.take()  # what happened before this run (the deployment, seeding the bucket) is not its
        first_invocation = len(self._deployed.lambdas.invocations)
        asked: set[str] = set()
        gave_up: float | None = None
        left: list[str] = []
        arn = sfn.start_execution(
            stateMachineArn=self._deployed.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        try:
            while True:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] in TERMINAL:
                    break
                elapsed = clock() - started
                if elapsed > limit:
                    gave_up = limit
                    running = [child for child in self.started_by(arn) if child.status == "RUNNING"]
                    left = [c.input["subscriber"]["subscriberId"] for c in running if "subscriber" in c.input]
                    # The children too: locally they are threads that would outlive this run.
                    for stopped in [arn, *(child.arn for child in running)]:
                        sfn.stop_execution(
                            executionArn=stopped,
                            error="LocalTimeout",
                            cause=f"gave up waiting after {limit:g} s",
                        )
                    described = sfn.describe_execution(executionArn=arn)
                    break
                if on_wait:
                    on_wait(elapsed)
                if on_approval is not None:
                    self._answer_approvals(on_approval, asked)
                sleep(0.1)
        except KeyboardInterrupt:
            # Ctrl-C: the execution stops as StopExecution stops it on AWS; the caller copies what exists.
            sfn.stop_execution(executionArn=arn, error="Interrupted", cause="stopped by Ctrl-C")
            raise
        output = described.get("output")
        executions = [
            Execution(arn, described["status"], execution_input, json.loads(output) if output else None, [])
        ]
        executions[0].history.extend(self.history(arn))
        executions += self.started_by(arn)
        history = [event for execution in executions for event in execution.history]
        usage = self._usage(history, self._deployed.lambdas.invocations[first_invocation:])
        return CheckRun(
            execution_arn=arn,
            name=name,
            status=described["status"],
            input=execution_input,
            output=executions[0].output,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            notices=self.drain_notices(),
            seconds=clock() - started,
            executions=executions,
            gave_up_after=gave_up,
            left_running=left,
            usage=usage,
        )

    def _usage(self, history: list[dict[str, Any]], invocations: list[Invocation]) -> Usage:
        calls = self.meter.take()
        architecture: Literal["arm64", "x86_64"] = (
            "x86_64" if self._deployed.architecture == "x86_64" else "arm64"
        )
        return Usage(
            state_transitions=sum(1 for event in history if event["type"].endswith("StateEntered")),
            invocations=[BilledInvocation(i.seconds, i.memory_mb) for i in invocations],
            s3=calls.of("s3"),
            sns_messages=calls.sns_messages,
            secrets_calls=sum(calls.of("secretsmanager").values()),
            architecture=architecture,
        )

    def started_by(self, parent_arn: str) -> list[Execution]:
        """The executions ``parent_arn`` started, and the ones those started, in start order."""
        sfn = self.client("stepfunctions")
        candidates = []
        for machine in self._deployed.state_machines.values():
            if machine == self._deployed.state_machine_arn:
                continue
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
                candidates += page["executions"]
        candidates.sort(key=lambda item: item["startDate"])
        family, found = {parent_arn}, []
        for item in candidates:
            described = sfn.describe_execution(executionArn=item["executionArn"])
            child_input = json.loads(described.get("input") or "{}")
            if child_input.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID") not in family:
                continue
            family.add(item["executionArn"])
            output = described.get("output")
            found.append(
                Execution(
                    item["executionArn"],
                    described["status"],
                    child_input,
                    json.loads(output) if output else None,
                    self.history(item["executionArn"]),
                )
            )
        return found

    def pending_approvals(self) -> list[PendingApproval]:
        """Remediation requests (``remediate: ask``) waiting for an answer."""
        return ApprovalStore(self.client("s3"), self._deployed.bucket).pending()

    def answer_approval(self, reference: str, *, approved: bool, decided_by: str) -> PendingApproval:
        """Answer as the approval link would, by id or listed handle: resumes the waiting execution once."""
        store = ApprovalStore(self.client("s3"), self._deployed.bucket)
        return store.answer_listed(
            self.client("stepfunctions"),
            reference,
            approved=approved,
            decided_by=decided_by,
            now=datetime.now(UTC),
        )

    def _answer_approvals(self, decide: Callable[[PendingApproval], bool | None], asked: set[str]) -> None:
        for pending in self.pending_approvals():
            if pending.handle in asked:
                continue
            asked.add(pending.handle)
            answer = decide(pending)
            if answer is not None:
                self.answer_approval(pending.handle, approved=answer, decided_by=_local_user())

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def drain_notices(self) -> list[Notice]:
        """Everything published to the template's topics since the last call."""
        sqs = self.client("sqs")
        notices = []
        for topic, queue_url in self._deployed.queues.items():
            while True:
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    envelope = json.loads(message["Body"])
                    attributes = {
                        k: v.get("Value", "") for k, v in envelope.get("MessageAttributes", {}).items()
                    }
                    notices.append(
                        Notice(topic, envelope.get("Subject", ""), envelope["Message"], attributes)
                    )
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return notices

    def put_ignore_rules(self, rules: bytes | str) -> str:
        """Stores an ignore rules file where the functions read it (``IGNORE_RULES_KEY``); returns the key."""
        key = self._function_env.get("IGNORE_RULES_KEY", DEFAULT_RULES_KEY)
        body = rules.encode("utf-8") if isinstance(rules, str) else rules
        self.client("s3").put_object(
            Bucket=self._deployed.bucket, Key=key, Body=body, ContentType="application/json"
        )
        return key

    def upload_history(self, source: Path) -> int:
        """Seeds the bucket from a reports folder written by an earlier local run, so that this run is
        compared with it: every ``latest.json`` and ``summary.json`` (the trend), and the records and
        record keys of each subscriber's last usable check. Returns how many files were uploaded.

        Only files under ``source`` are read: a ``summaryKey`` that climbs out of it, or a symlink that
        leads out, is refused (and listed in :attr:`refused_keys`)."""
        root = source / "reports"
        if not root.is_dir():
            return 0
        wanted = [*root.glob("*/*/latest.json"), *root.glob("*/*/*/*/*/*/summary.json")]
        for latest in root.glob("*/*/latest.json"):
            try:
                pointer = json.loads(latest.read_text(encoding="utf-8"))
                key = (pointer.get("lastGood") or pointer)["summaryKey"]
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            run = (source / key).parent
            wanted += [
                run / name for name in ("record-keys.bin", "records.jsonl.gz") if (run / name).is_file()
            ]
        s3 = self.client("s3")
        uploaded = 0
        for path in wanted:
            key = path.relative_to(source).as_posix()
            if inside(source, key) is None or not path.is_file():
                self.refused_keys.append(key)
                continue
            s3.upload_file(str(path), self._deployed.bucket, key)
            uploaded += 1
        return uploaded

    def download_reports(self, destination: Path) -> list[Path]:
        """Copies every object of the report bucket to ``destination``, keeping the S3 key layout.

        A key that would land outside ``destination`` (``..``, an absolute path, a symlink out) is not
        written but listed in :attr:`refused_keys`: subscriber ids in the keys come from DX."""
        s3 = self.client("s3")
        written = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self._deployed.bucket):
            for item in page.get("Contents", []):
                if inside(destination, item["Key"]) is None:
                    self.refused_keys.append(item["Key"])
                    continue
                target = destination / item["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(self._deployed.bucket, item["Key"], str(target))
                written.append(target)
        return written

    def function_logs(self) -> str:
        """Every line the handlers printed (Powertools JSON logs and EMF metrics), in order."""
        return "".join(invocation.logs for invocation in self._deployed.lambdas.invocations)


def _budget_of(execution_input: dict[str, Any]) -> float:
    """The input's own budgets (900 s for an input the state machine will refuse at once anyway)."""
    try:
        check_input = CheckInput.model_validate(execution_input)
    except ValidationError:
        return 900.0
    return wait_budget(check_input, len(check_input.subscriber_ids) or 1)


@contextlib.contextmanager
def _scaled_retry_sleep(scale: float) -> Iterator[None]:
    """Shrinks the ASL retriers' and botocore's retry ``time.sleep`` by ``scale`` (tests and demos only).

    Both modules use ``time`` for nothing but that sleep, so each gets a stand-in whose ``sleep`` scales.
    """
    if scale == 1.0:
        yield
        return
    scaled = types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))
    modules = (retrier_decl, botocore_endpoint)
    originals = [getattr(module, "time") for module in modules]  # noqa: B009 - not exported; that is the point
    for module in modules:
        setattr(module, "time", scaled)  # noqa: B010
    try:
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            setattr(module, "time", original)  # noqa: B010


class _DropIsPresentProbes(logging.Filter):
    """moto's interpreter logs an ERROR each time a Choice's ``IsPresent`` finds the path absent,
    which is an answer, not a failure (real failures end up in the execution's history)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Exception=NoSuchJsonPathError")


@contextlib.contextmanager
def _quiet_is_present_probes() -> Iterator[None]:
    log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
    probe_filter = _DropIsPresentProbes()
    log.addFilter(probe_filter)
    try:
        yield
    finally:
        log.removeFilter(probe_filter)


def _local_user() -> str:
    """Who answered from this machine, as the remediation record shows it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"damdrift check ({user}@{socket.gethostname()})"
