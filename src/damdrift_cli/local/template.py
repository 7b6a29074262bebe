"""Reads ``template.yaml`` (CloudFormation short-form tags included) so the local run builds from it.

Only what the local stack needs is resolved: ``Ref`` to parameters and resources, ``GetAtt`` of
``Arn``/``TopicName``, and ``Sub`` with ``${Name}`` placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's ``!Ref``-style tags, turned into their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
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
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def resolve(value: Any, lookup: Callable[[str, str | None], str]) -> Any:
    """Resolves intrinsics; ``lookup(logical_id, attribute)`` answers Ref (attribute None) and GetAtt."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return lookup(value["Ref"], None)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return lookup(logical_id, attribute)
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            if not isinstance(text, str):
                raise ValueError("only the one-argument form of !Sub is supported locally")
            return _substitute(text, lookup)
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    return value


def _substitute(text: str, lookup: Callable[[str, str | None], str]) -> str:
    out, rest = [], text
    while "${" in rest:
        head, _, tail = rest.partition("${")
        name, _, rest = tail.partition("}")
        out.append(head)
        logical, _, attribute = name.partition(".")
        out.append(lookup(logical, attribute or None))
    out.append(rest)
    return "".join(out)
