"""Reads ``template.yaml`` (CloudFormation short-form tags included) so the local run builds from it.

What the local stack and the deploy tests need is resolved, as CloudFormation would: ``Ref`` to
parameters, pseudo parameters and resources (through a caller's ``lookup``), ``GetAtt``, ``Sub`` (both
forms, ``${!Literal}`` escapes included), ``Join``, ``Split``, ``Select``, ``If`` with the template's
``Conditions`` (``Equals``, ``Not``, ``And``, ``Or``, ``Condition``) and ``AWS::NoValue``, which drops
the key or list item it stands for. ``CommaDelimitedList`` parameters resolve to lists. ``Rules`` are
applied to the parameters (:func:`check_rules`) as CloudFormation does before creating anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

#: ``lookup(logical_id, attribute)`` answers Ref (attribute None) and GetAtt.
Lookup = Callable[[str, str | None], Any]


class _NoValue:
    """``AWS::NoValue``: the property or list item it stands for is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's ``!Ref``-style tags, turned into their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
    return template


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str | list[str]]:
    """Every parameter's value: the override, else the default, else ``""`` (as CloudFormation strings).

    List parameters become lists; an empty ``CommaDelimitedList`` is ``[""]``, as in CloudFormation.
    """
    overrides = overrides or {}
    values: dict[str, str | list[str]] = {}
    for name, spec in template.get("Parameters", {}).items():
        raw = overrides.get(name, spec.get("Default", ""))
        text = ",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [part.strip() for part in text.split(",")]
        else:
            values[name] = text
    return values


def evaluate_conditions(template: Mapping[str, Any], lookup: Lookup) -> dict[str, bool]:
    """The truth of each of the template's ``Conditions`` for the parameters ``lookup`` answers."""
    declared: Mapping[str, Any] = template.get("Conditions", {})
    known: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in known:
            if name not in declared:
                raise KeyError(f"unknown condition {name!r}")
            known[name] = truth(declared[name])
        return known[name]

    def truth(expression: Any) -> bool:
        if not isinstance(expression, Mapping) or len(expression) != 1:
            raise ValueError(f"not a condition expression: {expression!r}")
        (function, argument), *_ = expression.items()
        if function == "Condition":
            return condition(argument)
        if function == "Fn::Equals":
            left, right = (_comparable(resolve(side, lookup)) for side in argument)
            return bool(left == right)
        if function == "Fn::Not":
            return not truth(argument[0])
        if function == "Fn::And":
            return all(truth(item) for item in argument)
        if function == "Fn::Or":
            return any(truth(item) for item in argument)
        raise ValueError(f"{function} is not supported in Conditions locally")

    return {name: condition(name) for name in declared}


class RuleViolation(ValueError):
    """A template ``Rules`` assertion failed: CloudFormation refuses the stack before creating anything."""


def check_rules(template: Mapping[str, Any], lookup: Lookup) -> None:
    """Applies the template's ``Rules`` as CloudFormation does before any resource: a rule whose
    ``RuleCondition`` holds (or that has none) must pass each ``Assert``; the first that fails raises
    :class:`RuleViolation` with its ``AssertDescription``."""
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _rule_truth(rule["RuleCondition"], lookup):
            continue
        for assertion in rule["Assertions"]:
            if not _rule_truth(assertion["Assert"], lookup):
                description = assertion.get("AssertDescription", "an assertion failed")
                raise RuleViolation(f"template rule {name}: {description}")


def _rule_truth(expression: Any, lookup: Lookup) -> bool:
    """The rule-specific functions (CloudFormation's "Rule functions"); values are compared as text."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        raise ValueError(f"not a rule expression: {expression!r}")
    (function, argument), *_ = expression.items()
    if function == "Fn::Not":
        return not _rule_truth(argument[0], lookup)
    if function == "Fn::And":
        return all(_rule_truth(item, lookup) for item in argument)
    if function == "Fn::Or":
        return any(_rule_truth(item, lookup) for item in argument)
    left, right = (resolve(side, lookup) for side in argument)
    if function == "Fn::Equals":
        return bool(_comparable(left) == _comparable(right))
    if function == "Fn::Contains":  # [list_of_strings, string]
        return _comparable(right) in [_comparable(item) for item in left]
    if function == "Fn::EachMemberEquals":  # [list_of_strings, string]
        return all(_comparable(item) == _comparable(right) for item in left)
    if function == "Fn::EachMemberIn":  # [strings_to_check, strings_to_match]
        return all(_comparable(item) in [_comparable(other) for other in right] for item in left)
    raise ValueError(f"{function} is not supported in Rules locally")


def _comparable(value: Any) -> Any:
    """Fn::Equals compares strings: ``Ref`` of a Number parameter is ``"0"``; a literal may be ``0``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def resolve(value: Any, lookup: Lookup, conditions: Mapping[str, bool] | None = None) -> Any:
    """Resolves intrinsics in ``value``; ``Fn::If`` needs ``conditions`` (see ``evaluate_conditions``).

    A top-level ``AWS::NoValue`` comes back as ``NO_VALUE``; inside mappings and lists it is dropped.
    """
    if isinstance(value, Mapping):
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else lookup(argument, None)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument
                return lookup(logical_id, attribute)
            if key == "Fn::Sub":
                return _sub(argument, lookup, conditions)
            if key == "Fn::Join":
                delimiter, items = argument
                parts = resolve(items, lookup, conditions)
                return str(delimiter).join(_text(part) for part in parts)
            if key == "Fn::Split":
                delimiter, source = argument
                return str(resolve(source, lookup, conditions)).split(str(delimiter))
            if key == "Fn::Select":
                index, items = argument
                return resolve(items, lookup, conditions)[int(resolve(index, lookup, conditions))]
            if key == "Fn::If":
                if conditions is None:
                    raise ValueError("Fn::If needs the template's evaluated conditions")
                name, when_true, when_false = argument
                return resolve(when_true if conditions[name] else when_false, lookup, conditions)
            if key.startswith("Fn::"):
                raise ValueError(f"{key} is not supported locally")
        resolved = {k: resolve(v, lookup, conditions) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(value, list):
        items = [resolve(v, lookup, conditions) for v in value]
        return [item for item in items if item is not NO_VALUE]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _sub(argument: Any, lookup: Lookup, conditions: Mapping[str, bool] | None) -> str:
    if isinstance(argument, str):
        text, variables = argument, {}
    else:
        text, raw_variables = argument
        variables = {name: resolve(v, lookup, conditions) for name, v in raw_variables.items()}
    return _substitute(
        str(text), lambda name, attribute: variables.get(name) if attribute is None else None, lookup
    )


def _substitute(text: str, local: Lookup, lookup: Lookup) -> str:
    out, rest = [], text
    while "${" in rest:
        head, _, tail = rest.partition("${")
        out.append(head)
        if tail.startswith("!"):  # ${!Literal} is the text ${Literal}
            name, _, rest = tail[1:].partition("}")
            out.append("${" + name + "}")
            continue
        name, _, rest = tail.partition("}")
        logical, _, attribute = name.partition(".")
        value = local(name, None)
        if value is None:
            value = lookup(logical, attribute or None)
        out.append(_text(value))
    out.append(rest)
    return "".join(out)
