"""Reads ``template.yaml`` (CloudFormation short-form tags included) so the local run builds from it.

What the local stack and the deploy tests need is resolved, as CloudFormation would: ``Ref`` to
parameters, pseudo parameters and resources (through a caller's ``lookup``), ``GetAtt``, ``Sub`` (both
forms, ``${!Literal}`` escapes included), ``Join``, ``Split``, ``Select``, ``If`` with the template's
``Conditions`` (``Equals``, ``Not``, ``And``, ``Or``, ``Condition``) and ``AWS::NoValue``, which drops
the key or list item it stands for. ``CommaDelimitedList`` parameters resolve to lists.

Strictly, as CloudFormation: a parameter without a value and without a default, or one that breaks
its ``AllowedValues``, ``AllowedPattern``, ``MinValue``/``MaxValue`` or ``MinLength``/``MaxLength``, is
refused before anything is created (:func:`parameter_values`), then the template's ``Rules``
(:func:`check_rules`); a list where ``Fn::Sub`` or ``Fn::Join`` wants text, a condition no one
defined, a name that is neither a parameter nor a resource raise :class:`TemplateError`, in one
sentence, instead of becoming Python text or a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

#: ``lookup(logical_id, attribute)`` answers Ref (attribute None) and GetAtt.
Lookup = Callable[[str, str | None], Any]


class TemplateError(ValueError):
    """What CloudFormation refuses (a parameter, a rule, an intrinsic function), in one sentence."""


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
    """Every parameter's value: the override, else the default (as CloudFormation strings).

    Refused as CloudFormation refuses them: a name the template does not declare, a parameter with no
    value and no default, a value that breaks one of its constraints. List parameters become lists;
    an empty ``CommaDelimitedList`` is ``[""]``, as in CloudFormation.
    """
    overrides = overrides or {}
    declared: Mapping[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [name for name, spec in declared.items() if name not in overrides and "Default" not in spec]
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    values: dict[str, str | list[str]] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        text = ",".join(_text(v) for v in raw) if isinstance(raw, list) else _text(raw)
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            items = [part.strip() for part in text.split(",")]
            for item in items:  # each member meets the constraints (CloudFormation's AllowedPattern rule)
                _check_parameter(name, spec, item, number=kind == "List<Number>")
            values[name] = items
        else:
            _check_parameter(name, spec, text, number=kind == "Number")
            values[name] = text
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], value: str, *, number: bool) -> None:
    """Raises CloudFormation's refusal of ``value`` for parameter ``name``, naming the broken rule."""
    described = f": {spec['ConstraintDescription']}" if "ConstraintDescription" in spec else ""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_text(v) for v in allowed]:
        listed = ", ".join(_text(v) for v in allowed)
        raise TemplateError(f"Parameter '{name}' must be one of AllowedValues ({listed}), not {value!r}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        rule = described or f" (must match pattern {pattern})"
        raise TemplateError(f"Parameter '{name}' failed to satisfy constraint{rule}, not {value!r}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    if not number:
        return
    try:
        amount = float(value)
    except ValueError:
        raise TemplateError(f"Parameter '{name}' must be a number, not {value!r}") from None
    if "MinValue" in spec and amount < float(spec["MinValue"]):
        raise TemplateError(
            f"Parameter '{name}' must be a number not less than {spec['MinValue']}{described}"
        )
    if "MaxValue" in spec and amount > float(spec["MaxValue"]):
        raise TemplateError(
            f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}{described}"
        )


class RuleViolation(TemplateError):
    """A template ``Rules`` assertion failed: CloudFormation refuses the stack before creating anything."""


def check_rules(template: Mapping[str, Any], lookup: Lookup) -> None:
    """The template's ``Rules``, as CloudFormation checks them before creating anything: an assertion
    that fails (where its ``RuleCondition`` holds) raises with its ``AssertDescription``."""

    def value(expression: Any) -> Any:
        if isinstance(expression, Mapping) and len(expression) == 1 and "Ref" not in expression:
            (function, _), *_ = expression.items()
            if function in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains"):
                return truth(expression)
        return resolve(expression, lookup)

    def contains(argument: Any) -> bool:  # [list_of_strings, string]
        listed, wanted = argument
        return _comparable(value(wanted)) in [_comparable(m) for m in value(listed)]

    def each_member_equals(argument: Any) -> bool:  # [list_of_strings, string]
        listed, wanted = argument
        return all(_comparable(m) == _comparable(value(wanted)) for m in value(listed))

    def each_member_in(argument: Any) -> bool:  # [strings_to_check, strings_to_match]
        listed, allowed = argument
        return all(_comparable(m) in [_comparable(x) for x in value(allowed)] for m in value(listed))

    rule_functions = {
        "Fn::Contains": contains,
        "Fn::EachMemberEquals": each_member_equals,
        "Fn::EachMemberIn": each_member_in,
    }

    def truth(expression: Any) -> bool:
        return _truth(expression, value, rule_functions, "Rules")

    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not truth(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not truth(assertion["Assert"]):
                said = assertion.get("AssertDescription") or "its assertion does not hold"
                raise RuleViolation(f"Rule {name}: {said}")


def _truth(
    expression: Any, value: Callable[[Any], Any], leaves: Mapping[str, Callable[[Any], bool]], section: str
) -> bool:
    """The functions Conditions and Rules share (Equals, Not, And, Or), plus the section's own
    ``leaves`` (``Condition`` in Conditions, the rule-specific functions in Rules)."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        raise TemplateError(f"Template format error: not a function of {section}: {expression!r}")
    (function, argument), *_ = expression.items()
    if function == "Fn::Equals":
        left, right = (_comparable(value(side)) for side in argument)
        return bool(left == right)
    if function == "Fn::Not":
        return not _truth(argument[0], value, leaves, section)
    if function == "Fn::And":
        return all(_truth(item, value, leaves, section) for item in argument)
    if function == "Fn::Or":
        return any(_truth(item, value, leaves, section) for item in argument)
    if function in leaves:
        return leaves[function](argument)
    raise TemplateError(f"Template format error: {function} is not supported in {section} locally")


def condition_holds(conditions: Mapping[str, bool], owner: str, declaration: Mapping[str, Any]) -> bool:
    """Whether the resource or output ``owner`` (whose ``declaration`` may name a ``Condition``) exists;
    a condition the template does not define is CloudFormation's template format error."""
    name = declaration.get("Condition")
    if name is None:
        return True
    if name not in conditions:
        raise TemplateError(
            f"Template format error: {owner} names condition {name!r}, which Conditions does not define"
        )
    return conditions[name]


def evaluate_conditions(template: Mapping[str, Any], lookup: Lookup) -> dict[str, bool]:
    """The truth of each of the template's ``Conditions`` for the parameters ``lookup`` answers."""
    declared: Mapping[str, Any] = template.get("Conditions", {})
    known: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in known:
            if name not in declared:
                raise TemplateError(f"Template format error: condition {name!r} is not defined in Conditions")
            known[name] = truth(declared[name])
        return known[name]

    def truth(expression: Any) -> bool:
        return _truth(expression, lambda side: resolve(side, lookup), {"Condition": condition}, "Conditions")

    return {name: condition(name) for name in declared}


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
                if not isinstance(parts, list) or any(isinstance(p, list | Mapping) for p in parts):
                    raise TemplateError(
                        f"Template error: Fn::Join joins a list of strings, not {parts!r} (a list parameter "
                        'goes in as !Join [",", !Ref Name])'
                    )
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
                if name not in conditions:
                    raise TemplateError(
                        f"Template format error: Fn::If names condition {name!r}, "
                        "which Conditions does not define"
                    )
                return resolve(when_true if conditions[name] else when_false, lookup, conditions)
            if key.startswith("Fn::"):
                raise TemplateError(f"Template format error: {key} is not supported locally")
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
        if isinstance(value, list | Mapping):
            raise TemplateError(
                f"Template error: variable {name} in Fn::Sub resolves to {value!r}, not a string "
                "(a list parameter goes in through !Join)"
            )
        out.append(_text(value))
    out.append(rest)
    return "".join(out)
