"""authenticate: validates the execution input, logs in to the publisher and lists whom to check."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from damdrift.clock import utcnow
from damdrift.observability import bind, logger, metrics
from damdrift.settings import AuthenticateSettings
from damdrift.steps.authenticate import AuthenticateRequest, authenticate
from damdrift.validation import parse_input

SETTINGS = AuthenticateSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_input(AuthenticateRequest, event, "authenticate event")
    bind(request.execution)
    return authenticate(request, SETTINGS, utcnow()).to_wire()
