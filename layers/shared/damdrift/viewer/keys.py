"""What signing a link takes: the key, a Secrets Manager secret read through Powertools' cache, and the
viewer's URL.

Replacing the secret's value (``aws secretsmanager put-secret-value``) revokes every link signed with the
old one. Each warm function keeps the value for :data:`KEY_CACHE_SECONDS`, so a rotation takes effect
within that long, and a busy viewer reads the secret at most once a minute per instance.
"""

from __future__ import annotations

from functools import cache

from damdrift.errors import ConfigurationError
from damdrift.viewer.links import MIN_KEY_BYTES

KEY_CACHE_SECONDS = 60


def link_key(secret: str) -> bytes:
    """The key held in ``secret`` (name or ARN), cached; ConfigurationError naming the problem."""
    from aws_lambda_powertools.utilities import parameters  # only the functions that sign or verify

    try:
        value = parameters.get_secret(secret, max_age=KEY_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"the report link key {secret} could not be read") from exc
    key = value.encode() if isinstance(value, str) else bytes(value)
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"the report link key {secret} is shorter than {MIN_KEY_BYTES} bytes: put a random value in it"
        )
    return key


@cache
def viewer_url(function_name: str) -> str:
    """The report viewer's function URL (asked of Lambda once per cold start: it never changes while the
    stack stands); ConfigurationError when it cannot be read."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        url: str = boto3.client("lambda").get_function_url_config(FunctionName=function_name)["FunctionUrl"]
    except (BotoCoreError, ClientError) as exc:
        message = f"the report viewer's URL ({function_name}) could not be read: {exc}"
        raise ConfigurationError(message) from exc
    return url
