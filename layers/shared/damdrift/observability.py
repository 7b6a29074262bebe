"""Logging and metrics, set up once for every handler.

Powertools Logger gives structured JSON logs whose correlation id is the Step Functions execution name,
so one search finds every line of one check; Metrics writes CloudWatch EMF (no API calls, no cost at
run time). Tracing is left to Lambda's and Step Functions' own X-Ray integration (``Tracing: Active``
in the template): Powertools' Tracer costs ~320 ms of cold start for little extra here.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import TextIO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "dam-drift")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DamDrift")


class _CurrentStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the call, as Lambda's runtime captures it.

    A plain StreamHandler binds the stream once, at import; a local run that captures each
    invocation's output would then send every later log line to the first invocation's capture.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


logger = Logger(service=SERVICE, logger_handler=_CurrentStdout())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# A step that fails before its first metric (bad input, DX down) has nothing to publish; Powertools
# says so with a UserWarning on every such invocation, which is noise in the logs, not news.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

__all__ = ["MetricUnit", "bind", "logger", "metrics"]

#: Libraries whose DEBUG lines hold what they send and receive: botocore logs whole request and response
#: bodies (GetSecretValue's SecretString too), urllib3 and requests the URLs. They stay at INFO or above
#: whatever the function's log level (POWERTOOLS_LOG_LEVEL, LOG_LEVEL, Lambda's advanced logging controls).
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "requests", "s3transfer")


def _pin_library_loggers() -> None:
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        # Its own level, not the inherited one: a root logger set to DEBUG later must not reach it.
        if library.level < logging.INFO:  # NOTSET (0) included
            library.setLevel(logging.INFO)


_pin_library_loggers()


def bind(execution: str, subscriber_id: str | None = None) -> None:
    """Tags every later log line of this invocation with the execution (and subscriber)."""
    logger.set_correlation_id(execution)
    if subscriber_id:
        logger.append_keys(subscriber_id=subscriber_id)
    else:
        logger.remove_keys(["subscriber_id"])
