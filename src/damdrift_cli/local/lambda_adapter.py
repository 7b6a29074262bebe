"""Runs our Lambda handlers in-process when moto's Step Functions interpreter invokes a function.

moto's Lambda backend runs code in docker, which does not exist here. This adapter replaces exactly
one private method, ``moto.awslambda.models.LambdaFunction._invoke_lambda(event) -> (payload,
errored, logs)``, and keeps everything around it moto's own: ARN resolution, payload wrapping and the
mapping of a raised exception's class name to the Step Functions error name (through Lambda's error
envelope), so Retry/Catch clauses behave as on AWS. moto is pinned (``moto==5.2.*``) and
``tests/e2e/test_lambda_adapter.py`` fails loudly if an upgrade moves the hook.

Environment variables are process-global, so invocations are serialised with a lock; each function's
module is loaded once under its own name (warm starts, like a real container) from its code folder.
The functions' variables are added at the first invocation and from then on only *assigned*, never
removed, until ``installed()`` ends: other threads (moto's Step Functions interpreter builds a boto3
client for every task, and botocore reads the proxy variables by iterating ``os.environ``) would
otherwise see a key vanish mid-iteration. A variable one function has and the invoked one lacks is empty
during its invocation; between invocations the last one's values stay, except ``idle_env`` (the local
operator's credentials: a function's own are set only while it runs, see ``damdrift_cli.local.roles``).
boto3's default session (which caches the credentials it first resolved) and Powertools' parameter
providers (the secret's cached client) are kept per function, as each function has its own container on
AWS: a client made with one role's credentials never serves another function.

A handler's stdout (its Powertools log lines) is captured per thread: while installed, ``sys.stdout`` is
a proxy that sends the invoking thread's writes to that invocation's log and every other thread's to
the real stdout, so the command line's own output (a question waiting for an answer) is never swallowed.

Each function's ``Timeout`` from the template holds: a handler that runs longer than it loses its result
to Lambda's timeout error (``Sandbox.Timedout``, "Task timed out after N seconds"), as on AWS, and the
context's ``get_remaining_time_in_millis`` counts down to it. In-process code cannot be stopped midway,
so the handler's work up to its end did happen — the worst kind of timeout, which every step must
survive anyway (see below).

For tests, :meth:`InProcessLambdas.time_out_after_run` makes Lambda report a timeout for an invocation
whose handler did run — the worst kind of timeout for idempotence: the work happened, its result is lost,
and Step Functions retries the step.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import constants as parameter_constants
from moto.awslambda import models as lambda_models

HOOK_OWNER = lambda_models.LambdaFunction
HOOK_NAME = "_invoke_lambda"
#: The error type of Lambda's answer for a function that ran out of time (its Python runtimes answer
#: ``{"errorType": "Sandbox.Timedout", "errorMessage": "... Task timed out after 3.00 seconds"}``);
#: Step Functions' guide calls such unhandled errors ``Lambda.Unknown``: the ASL retries both.
TIMEOUT_ERROR = "Sandbox.Timedout"


@dataclass
class LocalFunction:
    """A function from template.yaml: where its code is and what its environment holds."""

    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int = 60
    memory_size: int = 128


@dataclass
class FakeContext:
    """The parts of Lambda's context object our handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    #: ``clock()`` at which Lambda stops the invocation (start + the function's Timeout).
    deadline: float = field(default_factory=lambda: time.monotonic() + 60)
    clock: Callable[[], float] = time.monotonic

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@dataclass
class InjectedTimeout:
    """Invocations of ``function`` (a template logical id or a function name) to report as timed out.

    ``after`` matching invocations go through, then ``times`` run their handler and lose the result to a
    Lambda timeout: Lambda's ``Sandbox.Timedout`` error, or ``error_type`` (e.g. ``Lambda.Unknown``).
    """

    function: str
    times: int = 1
    after: int = 0
    error_type: str = TIMEOUT_ERROR
    seen: int = 0
    applied: int = 0

    def take(self, function_name: str) -> bool:
        if function_name != self.function and not function_name.endswith(f"-{self.function}"):
            return False
        self.seen += 1
        if self.seen <= self.after or self.applied >= self.times:
            return False
        self.applied += 1
        return True


@dataclass
class Invocation:
    function: str
    event: Any
    payload: str
    errored: bool
    logs: str
    #: How long the handler ran (cold start included, as Lambda bills it), and the function's memory.
    seconds: float = 0.0
    memory_mb: int = 128


class InProcessLambdas:
    """Holds the local functions and, while installed, answers moto's Lambda invocations with them."""

    def __init__(self, functions: dict[str, LocalFunction], extra_env: dict[str, str] | None = None) -> None:
        self.functions = functions
        self.extra_env = extra_env or {}
        self.invocations: list[Invocation] = []
        self.on_invoke: Callable[[Invocation], None] | None = None
        self._lock = threading.Lock()
        self._modules: dict[str, ModuleType] = {}
        self.timeouts: list[InjectedTimeout] = []
        self._saved_env: dict[str, str | None] = {}
        self._stdout: _PerThreadStdout | None = None
        #: Assigned after every invocation (the local operator's credentials).
        self.idle_env: dict[str, str] = {}
        self._providers: dict[str, dict[str, Any]] = {}
        #: What Timeout is measured with (a test gives a fake one).
        self.clock: Callable[[], float] = time.monotonic
        self._sessions: dict[str, boto3.session.Session] = {}

    def time_out_after_run(
        self, function: str, *, times: int = 1, after: int = 0, error_type: str = TIMEOUT_ERROR
    ) -> InjectedTimeout:
        """E.g. ``time_out_after_run("TriggerMismatchFunction")``: its next run's result is lost."""
        timeout = InjectedTimeout(function, times, after, error_type)
        self.timeouts.append(timeout)
        return timeout

    @contextlib.contextmanager
    def installed(self) -> Iterator[InProcessLambdas]:
        original = getattr(HOOK_OWNER, HOOK_NAME)
        adapter = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return adapter.invoke(fn, event)

        setattr(HOOK_OWNER, HOOK_NAME, _invoke_lambda)
        real_stdout = sys.stdout
        sys.stdout = self._stdout = _PerThreadStdout(real_stdout)
        try:
            yield self
        finally:
            setattr(HOOK_OWNER, HOOK_NAME, original)
            if sys.stdout is self._stdout:
                sys.stdout = real_stdout
            with self._lock:
                for name, value in self._saved_env.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                self._saved_env = {}

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        local = self.functions.get(fn.function_name)
        if local is None:
            message = f"no local code for Lambda function {fn.function_name!r}"
            return json.dumps({"errorMessage": message, "errorType": "LocalFunctionMissing"}), True, ""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        with self._lock:
            started = time.perf_counter()
            payload, errored, logs = self._call(local, fn, event)
            seconds = time.perf_counter() - started
            timeout = next((t for t in self.timeouts if t.take(local.name)), None)
            # Into moto's CloudWatch Logs, under /aws/lambda/<name>. Under the lock: moto's logs backend
            # creates a missing group check-then-set, so two Map iterations at once could lose a stream.
            fn.logs_backend.ensure_log_group(fn.logs_group_name)
            fn.save_logs(logs)
        if timeout is not None:
            payload, errored = _timed_out(local, timeout.error_type), True
        invocation = Invocation(local.name, event, payload, errored, logs, seconds, local.memory_size)
        self.invocations.append(invocation)
        if self.on_invoke:
            self.on_invoke(invocation)
        return payload, errored, logs

    def _call(self, local: LocalFunction, fn: Any, event: Any) -> tuple[str, bool, str]:
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": local.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(local.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            **local.environment,
            **self.extra_env,
        }
        if not self._saved_env:
            # The first invocation (authenticate: no other execution thread runs yet) adds every
            # variable any function has; from then on they are only assigned.
            names = set(env)
            for other in self.functions.values():
                names.update(other.environment)
            self._saved_env = {name: os.environ.get(name) for name in names}
        for name in self._saved_env:
            os.environ[name] = env.get(name, "")
        output = io.StringIO()
        with self._captured(output), self._own_clients(local.name):
            try:
                handler = self._handler(local)
                started = self.clock()
                context = FakeContext(
                    local.name,
                    local.memory_size,
                    fn.function_arn,
                    deadline=started + local.timeout,
                    clock=self.clock,
                )
                result = handler(event, context)
                payload, errored = json.dumps(result), False
                if self.clock() - started > local.timeout:  # Lambda had stopped it: the result is lost
                    payload, errored = _timed_out(local, TIMEOUT_ERROR), True
                    print(json.loads(payload)["errorMessage"])
            except Exception as exc:  # every error becomes Lambda's error envelope, as on AWS
                payload = json.dumps(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_tb(exc.__traceback__),
                    }
                )
                errored = True
                print(json.dumps({"level": "ERROR", "errorType": type(exc).__name__, "message": str(exc)}))
        for name, value in self.idle_env.items():
            os.environ[name] = value
        return payload, errored, output.getvalue()

    def _captured(self, output: io.StringIO) -> contextlib.AbstractContextManager[Any]:
        if self._stdout is not None and sys.stdout is self._stdout:
            capture: contextlib.AbstractContextManager[Any] = self._stdout.capturing(output)
            return capture
        return contextlib.redirect_stdout(output)  # invoked without installed() (a unit test)

    @contextlib.contextmanager
    def _own_clients(self, function: str) -> Iterator[None]:
        """The function's own boto3 default session (made while its environment, its role's
        credentials, is set) and its own Powertools providers, for the invocation."""
        session_before = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = self._sessions.setdefault(function, boto3.session.Session())
        shared = parameter_constants.DEFAULT_PROVIDERS
        providers_before = dict(shared)
        shared.clear()
        shared.update(self._providers.get(function, {}))
        try:
            yield
        finally:
            self._providers[function] = dict(shared)
            shared.clear()
            shared.update(providers_before)
            boto3.DEFAULT_SESSION = session_before

    def _handler(self, local: LocalFunction) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = local.handler.rpartition(".")
        module = self._modules.get(local.name)
        if module is None:
            path = local.code_dir / f"{module_name.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"damdrift_local_fn_{local.name}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)  # the cold start: settings are validated here
            self._modules[local.name] = module
        handler: Callable[[Any, Any], Any] = getattr(module, attribute)
        return handler


class _PerThreadStdout(io.TextIOBase):
    """``sys.stdout`` while the adapter is installed: each thread writes to its own capture, if any."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._local = threading.local()

    @contextlib.contextmanager
    def capturing(self, buffer: io.StringIO) -> Iterator[None]:
        previous = getattr(self._local, "buffer", None)
        self._local.buffer = buffer
        try:
            yield
        finally:
            self._local.buffer = previous

    def _target(self) -> Any:
        buffer = getattr(self._local, "buffer", None)
        return self._real if buffer is None else buffer

    def write(self, text: str) -> int:
        written: int = self._target().write(text)
        return written

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return bool(self._target().isatty())

    def fileno(self) -> int:
        fileno: int = self._real.fileno()
        return fileno

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._real, "encoding", "utf-8"))


def _timed_out(local: LocalFunction, error_type: str) -> str:
    """Lambda's error envelope for a function that ran out of time."""
    message = f"RequestId: {uuid.uuid4()} Error: Task timed out after {float(local.timeout):.2f} seconds"
    return json.dumps({"errorType": error_type, "errorMessage": message})
