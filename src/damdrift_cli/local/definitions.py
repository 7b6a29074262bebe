"""Reads a state machine definition no more leniently than CloudFormation does.

CloudFormation's Step Functions handler (aws-cloudformation-resource-providers-stepfunctions,
``DefinitionProcessor.fetchS3Definition``) replaces ``DefinitionSubstitutions`` in the file's text, parses
it as JSON and, failing that, as YAML with Jackson's tree model, which does not resolve aliases: ``*policy``
becomes the string ``"policy"``. PyYAML resolves them, so a file read with ``yaml.safe_load`` can run
locally and be rejected at deploy. This reader refuses what two readers can take differently (anchors,
aliases, merge keys, tags, a key given twice) in one line naming the file and line. The shipped files are
JSON generated from ``statemachine/src`` (``make definitions``), where anchors are welcome.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from damdrift_cli.local.template import PROJECT_ROOT

#: The files the template deploys (``DefinitionUri``), generated from their sources in ``SOURCE_DIR``.
SHIPPED_DIR = PROJECT_ROOT / "statemachine"
SOURCE_DIR = SHIPPED_DIR / "src"
#: CloudFormation refuses a larger definition file (the handler's ``Constants.MAX_DEFINITION_SIZE``).
MAX_DEFINITION_BYTES = 1_048_576


class DefinitionError(ValueError):
    """A definition AWS would read differently from us, or not at all; the message is one line."""


def load(path: Path, substitutions: Mapping[str, object] | None = None) -> dict[str, Any]:
    """The definition as Step Functions receives it: ``${name}`` replaced in the text, then parsed."""
    raw = path.read_bytes()
    if len(raw) > MAX_DEFINITION_BYTES:
        raise DefinitionError(f"{_shown(path)}: {len(raw):,} bytes; CloudFormation takes at most 1 MiB")
    shown = _shown(path)
    return parse(substitute(raw.decode("utf-8"), substitutions or {}, shown), shown)


def load_json(path: Path, substitutions: Mapping[str, object] | None = None) -> str:
    """:func:`load`, as the JSON string ``CreateStateMachine`` takes."""
    return json.dumps(load(path, substitutions))


def substitute(text: str, substitutions: Mapping[str, object], source: str = "<definition>") -> str:
    """``DefinitionSubstitutions`` as the handler applies them (``StringUtils.replaceEachRepeatedly``):
    strings, integers and booleans only, booleans spelled as Java does, replaced again in what a
    replacement brought in, until nothing changes."""
    values: dict[str, str] = {}
    for name, value in substitutions.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            values[name] = str(value)
        else:
            raise DefinitionError(
                f"{source}: substitution {name} is a {type(value).__name__}; "
                "CloudFormation takes strings, integers and booleans"
            )
    if not values:
        return text
    pattern = re.compile("|".join(re.escape("${" + name + "}") for name in values))
    for _ in range(len(values) + 1):
        replaced = pattern.sub(lambda match: values[match.group()[2:-1]], text)
        if replaced == text:
            return text
        text = replaced
    raise DefinitionError(f"{source}: substitutions {sorted(values)} refer to each other without end")


def parse(text: str, source: str) -> dict[str, Any]:
    """JSON first, then YAML without the constructs Jackson reads differently, as CloudFormation does."""
    try:
        loaded = json.loads(
            text, object_pairs_hook=lambda pairs: _unique(pairs, source), parse_constant=_not_json
        )
    except json.JSONDecodeError:
        loaded = _strict_yaml(text, source)
    if not isinstance(loaded, dict):
        raise DefinitionError(f"{source}: a definition is an object, not {type(loaded).__name__}")
    return loaded


def _not_json(constant: str) -> Any:
    """Python's json reads NaN and Infinity; JSON (and Jackson's JSON reader) does not."""
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)


def _unique(pairs: list[tuple[str, Any]], source: str) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise DefinitionError(f"{source}: the key {key!r} appears twice in one object")
    return dict(pairs)


_MERGE = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors, aliases, tags, merge keys and repeated keys."""

    source = "<definition>"

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._refuse(event, f"an alias (*{event.anchor}), which CloudFormation reads as {event.anchor!r}")
        if getattr(event, "anchor", None):
            self._refuse(event, f"an anchor (&{event.anchor}): CloudFormation does not resolve its aliases")
        if getattr(event, "tag", None) is not None:
            self._refuse(event, f"a tag ({event.tag}), which YAML readers resolve differently")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                self._refuse(key_node, "a merge key (<<), which CloudFormation reads as an ordinary key")
            key = (key_node.tag, key_node.value) if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key in seen:
                self._refuse(key_node, f"the key {key_node.value!r} appears twice in one mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def _refuse(self, at: yaml.Event | yaml.Node, what: str) -> None:
        line = at.start_mark.line + 1 if at.start_mark else "?"
        raise DefinitionError(f"{self.source}:{line}: {what}; ship plain JSON (make definitions)")


def _strict_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise DefinitionError(f"{where}: neither JSON nor YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: neither JSON nor YAML ({exc})") from None
    finally:
        loader.dispose()


def _shown(path: Path) -> str:
    """The path relative to the project when it is inside it, as a person would type it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
