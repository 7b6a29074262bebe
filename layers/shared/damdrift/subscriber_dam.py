"""A subscriber's own DAM connection, read from the drift check's execution input when a step needs it.

The fan-out list carries only ``SubscriberRef.own_dam``: 500 connections copied into it would pass
Step Functions' 256 KiB state limit. The execution input is where the operator named the connection; it
cannot change after the start, authenticate validated it (hosts included) before any subscriber was
checked, and Step Functions keeps it for 90 days after the execution ends. Nothing else is trusted for
where credentials go: the caller checks the host against the stack's allowed hosts again.
"""

from __future__ import annotations

import json
from functools import lru_cache

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ConfigDict, Field, ValidationError

from damdrift.dx.connection import DxConnection
from damdrift.errors import ConfigurationError, InvalidInput
from damdrift.execution_input import SubscriberOptions
from damdrift.model_base import WireModel
from damdrift.state import CheckContext


class _OptionsOfTheInput(WireModel):
    """The part of a drift check's input read here (authenticate validated the whole of it)."""

    model_config = WireModel.model_config | ConfigDict(extra="ignore")

    subscriber_options: dict[str, SubscriberOptions] = Field(default_factory=dict)


def subscriber_dam(check: CheckContext, subscriber_id: str) -> tuple[DxConnection, str]:
    """The subscriber's DAM connection and the secret to log in there (the publisher's by default)."""
    options = _options_of(check.execution_arn).get(subscriber_id)
    if options is None or options.dam is None:
        raise InvalidInput(
            f"invalid execution input: subscriberOptions.{subscriber_id}.dam: missing from the input of "
            f"the drift check {check.execution!r}, although its subscriber list says it is there"
        )
    return options.dam, options.credentials_secret or check.credentials_secret


@lru_cache(maxsize=8)  # a warm function serves one check's subscribers after another
def _options_of(execution_arn: str) -> dict[str, SubscriberOptions]:
    try:
        described = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = str(error.get("Message", "")).splitlines()[0] if error.get("Message") else ""
        reason = str(error.get("Code", "ClientError")) + (
            f": {message}" if message[:1] not in {"", "<"} else ""
        )
        raise ConfigurationError(
            f"cannot read the drift check's input ({execution_arn}) for a subscriber's own DAM connection "
            f"(states:DescribeExecution): {reason[:300]}"
        ) from None
    except BotoCoreError as exc:
        raise ConfigurationError(
            f"cannot read the drift check's input ({execution_arn}) for a subscriber's own DAM connection "
            f"(states:DescribeExecution): {type(exc).__name__}"
        ) from None
    try:
        return _OptionsOfTheInput.model_validate(json.loads(described.get("input", "{}"))).subscriber_options
    except (ValueError, ValidationError):
        raise InvalidInput(
            f"invalid execution input: subscriberOptions: the drift check's input ({execution_arn}) is not "
            "the one authenticate accepted"
        ) from None
