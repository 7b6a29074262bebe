"""Turns pydantic's validation errors into one ``InvalidInput`` naming each field and what was expected."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from damdrift.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse_input(model: type[M], data: Any, what: str) -> M:
    """Validates ``data`` as ``model``; the error lists ``field.path: expected …`` for every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {what}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "(the whole input)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)
