"""What every function's settings share: the report bucket, and reading the environment at cold start.

A missing or malformed variable fails the cold start with one ``ConfigurationError`` line that names it,
so a bad deployment shows up on the first invocation instead of halfway through a check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from damdrift.errors import ConfigurationError
from damdrift.validation import describe


class FunctionSettings(BaseModel):
    """The base of every function's settings (damdrift.settings.functions): fields are read by their
    environment variable's name; other variables are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    report_bucket: str = Field(alias="REPORT_BUCKET", min_length=3)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """A blank variable is an unset one (its default applies, or it is missing): CloudFormation cannot
        leave a variable out conditionally, and the local runner blanks other functions' variables."""
        if isinstance(data, Mapping):
            return {name: value for name, value in data.items() if value != ""}
        return data

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            raise ConfigurationError(f"invalid function environment: {describe(exc)}") from None
