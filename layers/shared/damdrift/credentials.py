"""DX credentials from Secrets Manager, through Powertools Parameters (cached across warm invocations).

The secret holds ``{"username": "...", "password": "..."}``. Errors name the secret and what is wrong
with its shape — never its value.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import ValidationError

from damdrift.dx.connection import DxCredentials
from damdrift.errors import CredentialsError

CACHE_SECONDS = 300


def load_credentials(secret_name: str) -> DxCredentials:
    try:
        value: Any = parameters.get_secret(secret_name, transform="json", max_age=CACHE_SECONDS)
    except parameters.exceptions.TransformParameterError:
        raise CredentialsError(
            f'secret {secret_name!r} is not JSON; expected {{"username": "...", "password": "..."}}'
        ) from None
    except parameters.exceptions.GetParameterError as exc:
        if _holds_no_value(exc):  # the stack's own secret before step 3 of the deploy guide
            raise CredentialsError(
                f"secret {secret_name!r} holds no value yet: put the DX administrator's "
                '{"username": "...", "password": "..."} into it as docs/deploy.md step 3 shows '
                f"(aws secretsmanager put-secret-value --secret-id {secret_name} "
                "--secret-string file://dx-credentials.json)"
            ) from None
        raise CredentialsError(f"secret {secret_name!r} could not be read ({_reason(exc)})") from None
    if not isinstance(value, dict):
        raise CredentialsError(f"secret {secret_name!r} must be a JSON object with username and password")
    try:
        return DxCredentials.model_validate(
            {"username": value.get("username"), "password": value.get("password")}
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors(include_input=False))
        raise CredentialsError(
            f"secret {secret_name!r} must hold a non-empty 'username' and 'password' (problem with: {fields})"
        ) from None


def _holds_no_value(exc: Exception) -> bool:
    """Secrets Manager's answer for a secret created without a value: ResourceNotFoundException "can't
    find the specified secret value for staging label: AWSCURRENT" (a missing secret says "secret.")."""
    cause = exc.__cause__ or exc.__context__
    error = getattr(cause, "response", {}).get("Error", {}) if cause is not None else {}
    return error.get("Code") == "ResourceNotFoundException" and "secret value" in str(
        error.get("Message", "")
    )


def _reason(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    code = getattr(cause, "response", {}).get("Error", {}).get("Code") if cause is not None else None
    return str(code or type(cause or exc).__name__)
