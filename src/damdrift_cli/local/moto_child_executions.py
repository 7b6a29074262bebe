"""Makes moto 5.2.5 run ``arn:aws:states:::states:startExecution.sync:2`` as Step Functions does.

moto's interpreter has the integration (start, then follow the child with DescribeExecution) but hands
the ASL's parameters to botocore as written: ``StateMachineArn``/``Input``/``Name``, where the
Step Functions API names them ``stateMachineArn``/``input``/``name`` (botocore raises
``KeyError: 'StateMachineArn'``, the state fails with ``States.Runtime``), and it returns botocore's
camelCase results where AWS gives the state ``ExecutionArn``, ``Output``, ``Status``. This renames
both ways, in that one integration; everything else (the child's own execution and history, the
polling, the failure of a failed child as ``States.TaskFailed``) stays moto's. Pinned with moto:
tests/e2e/test_drift_check.py fails if the integration breaks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_task,
)


def _camel(parameters: dict[str, Any]) -> dict[str, Any]:
    return {key[:1].lower() + key[1:]: value for key, value in parameters.items()}


def _pascal(response: dict[str, Any]) -> dict[str, Any]:
    return {key[:1].upper() + key[1:]: value for key, value in response.items()}


@contextlib.contextmanager
def child_executions_as_on_aws() -> Iterator[None]:
    service = sfn_task.StateTaskServiceSfn
    original_parameters = service._normalise_parameters
    original_response = service._normalise_response
    original_client = getattr(sfn_task, "boto_client_for")  # noqa: B009 - not exported; that is the point

    def normalise_parameters(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_parameters(self, parameters, *args, **kwargs)
        renamed = _camel(parameters)
        parameters.clear()
        parameters.update(renamed)

    def normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original_response(self, response, *args, **kwargs)
        if isinstance(response, dict):
            renamed = _pascal(response)
            response.clear()
            response.update(renamed)

    class _Client:
        """StartExecution's answer as the state sees it on AWS; DescribeExecution left to the resolver."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def start_execution(self, **parameters: Any) -> dict[str, Any]:
            response: dict[str, Any] = self._client.start_execution(**parameters)
            response.pop("ResponseMetadata", None)
            return _pascal(response)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    def client_for(*args: Any, **kwargs: Any) -> Any:
        return _Client(original_client(*args, **kwargs))

    service._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
    service._normalise_response = normalise_response  # type: ignore[method-assign]
    setattr(sfn_task, "boto_client_for", client_for)  # noqa: B010
    try:
        yield
    finally:
        service._normalise_parameters = original_parameters  # type: ignore[method-assign]
        service._normalise_response = original_response  # type: ignore[method-assign]
        setattr(sfn_task, "boto_client_for", original_client)  # noqa: B010
