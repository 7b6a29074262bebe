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
        loaded = _yaml(text, source)
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
#: How a plain scalar of each type is spelled alike in YAML 1.1 (PyYAML) and 1.2 (Jackson, most others):
#: PyYAML reads ``yes`` and ``off`` as booleans, ``0777`` as octal, ``1_000`` and ``1:30`` as numbers.
_PORTABLE = {
    "tag:yaml.org,2002:bool": ("a boolean", re.compile(r"true|True|TRUE|false|False|FALSE")),
    "tag:yaml.org,2002:int": ("an integer", re.compile(r"-?(0|[1-9][0-9]*)")),
    "tag:yaml.org,2002:float": ("a number", re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?")),
}
#: Plain scalars PyYAML reads as strings that YAML 1.2 reads as numbers (``1e3``, ``0o17``, ``.5``).
_NUMBER_IN_1_2 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+")


class _SourceLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing tags, repeated keys and plain scalars YAML readers type differently.
    Anchors, aliases and merge keys resolve (statemachine/src, which ``make definitions`` expands)."""

    source = "<definition>"
    remedy = "quote it, or write the value as JSON would"

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "tag", None) is not None:
            self._refuse(event, f"a tag ({event.tag}), which YAML readers resolve differently")
        if isinstance(event, yaml.ScalarEvent) and event.style is None:
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
            kind, portable = _PORTABLE.get(tag, ("", None))
            if portable and not portable.fullmatch(event.value):
                self._refuse(event, f"{event.value!r} unquoted, which PyYAML reads as {kind} and others not")
            if tag == "tag:yaml.org,2002:str" and _NUMBER_IN_1_2.fullmatch(event.value):
                self._refuse(event, f"{event.value!r} unquoted, which YAML 1.2 reads as a number, PyYAML not")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            self._check_key(key_node)
            key = (key_node.tag, key_node.value) if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key in seen:
                self._refuse(key_node, f"the key {key_node.value!r} appears twice in one mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def _check_key(self, key_node: yaml.Node) -> None:
        """Merge keys are allowed here."""

    def _refuse(self, at: yaml.Event | yaml.Node, what: str) -> None:
        line = at.start_mark.line + 1 if at.start_mark else "?"
        raise DefinitionError(f"{self.source}:{line}: {what}; {self.remedy}")


class _StrictLoader(_SourceLoader):
    """What may ship: no anchors, aliases or merge keys either, which Jackson reads differently."""

    remedy = "ship plain JSON (make definitions)"

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._refuse(event, f"an alias (*{event.anchor}), which CloudFormation reads as {event.anchor!r}")
        if getattr(event, "anchor", None):
            self._refuse(event, f"an anchor (&{event.anchor}): CloudFormation does not resolve its aliases")
        return super().compose_node(parent, index)

    def _check_key(self, key_node: yaml.Node) -> None:
        if key_node.tag == _MERGE:
            self._refuse(key_node, "a merge key (<<), which CloudFormation reads as an ordinary key")


def read_source(path: Path) -> dict[str, Any]:
    """A source in statemachine/src, anchors and aliases resolved, for ``make definitions``: refused
    when a value would mean something else to another YAML reader than to PyYAML."""
    loaded = _yaml(path.read_text(encoding="utf-8"), _shown(path), _SourceLoader)
    if not isinstance(loaded, dict):
        raise DefinitionError(f"{_shown(path)}: a definition is a mapping, not {type(loaded).__name__}")
    return loaded


def _yaml(text: str, source: str, kind: type[_SourceLoader] = _StrictLoader) -> Any:
    loader = kind(text)
    loader.source = source
    unreadable = "neither JSON nor YAML" if kind is _StrictLoader else "not YAML"
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise DefinitionError(f"{where}: {unreadable} ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: {unreadable} ({exc})") from None
    finally:
        loader.dispose()


def _shown(path: Path) -> str:
    """The path relative to the project when it is inside it, as a person would type it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
