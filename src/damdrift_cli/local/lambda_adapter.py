"""Runs our Lambda handlers in-process when moto's Step Functions interpreter invokes a function.

moto's Lambda backend runs code in docker, which does not exist here. This adapter replaces exactly
one private method, ``moto.awslambda.models.LambdaFunction._invoke_lambda(event) -> (payload,
errored, logs)``, and keeps everything around it moto's own: ARN resolution, payload wrapping and the
mapping of a raised exception's class name to the Step Functions error name (through Lambda's error
envelope), so Retry/Catch clauses behave as on AWS. moto is pinned (``moto==5.2.*``) and
``tests/e2e/test_lambda_adapter.py`` fails loudly if an upgrade moves the hook.

Environment variables are process-global, so invocations are serialised with a lock; each function's
module is loaded once under its own name (warm starts, like a real container) from its code folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda import models as lambda_models

HOOK_OWNER = lambda_models.LambdaFunction
HOOK_NAME = "_invoke_lambda"


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

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Invocation:
    function: str
    event: Any
    payload: str
    errored: bool
    logs: str


class InProcessLambdas:
    """Holds the local functions and, while installed, answers moto's Lambda invocations with them."""

    def __init__(self, functions: dict[str, LocalFunction], extra_env: dict[str, str] | None = None) -> None:
        self.functions = functions
        self.extra_env = extra_env or {}
        self.invocations: list[Invocation] = []
        self.on_invoke: Callable[[Invocation], None] | None = None
        self._lock = threading.Lock()
        self._modules: dict[str, ModuleType] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[InProcessLambdas]:
        original = getattr(HOOK_OWNER, HOOK_NAME)
        adapter = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return adapter.invoke(fn, event)

        setattr(HOOK_OWNER, HOOK_NAME, _invoke_lambda)
        try:
            yield self
        finally:
            setattr(HOOK_OWNER, HOOK_NAME, original)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        local = self.functions.get(fn.function_name)
        if local is None:
            message = f"no local code for Lambda function {fn.function_name!r}"
            return json.dumps({"errorMessage": message, "errorType": "LocalFunctionMissing"}), True, ""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        with self._lock:
            payload, errored, logs = self._call(local, fn, event)
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.save_logs(logs)  # into moto's CloudWatch Logs, under /aws/lambda/<name>
        invocation = Invocation(local.name, event, payload, errored, logs)
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
        output = io.StringIO()
        with _environment(env), contextlib.redirect_stdout(output):
            try:
                handler = self._handler(local)
                context = FakeContext(local.name, local.memory_size, fn.function_arn)
                result = handler(event, context)
                payload, errored = json.dumps(result), False
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
        return payload, errored, output.getvalue()

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


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
