"""The state machine definitions that ship are read the same way by every reader, CloudFormation first.

CloudFormation's Step Functions handler parses a definition as JSON, else as YAML with Jackson's tree
model, which leaves aliases unresolved (an alias is the string of its anchor's name). So what ships is
plain JSON generated from the YAML sources in statemachine/src (``make definitions``), and everything
here reads it with :mod:`damdrift_cli.local.definitions`, which refuses what Jackson and PyYAML take
differently.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripts import build_definitions

from damdrift_cli.local import definitions
from damdrift_cli.local.runner import LocalAws
from damdrift_cli.local.template import PROJECT_ROOT, load_template

SOURCES = build_definitions.sources()


def deployed_paths() -> list[Path]:
    """What ``sam package`` uploads: each state machine's ``DefinitionUri``."""
    resources = load_template()["Resources"].values()
    return [
        PROJECT_ROOT / r["Properties"]["DefinitionUri"]
        for r in resources
        if r["Type"] == "AWS::Serverless::StateMachine"
    ]


class _JacksonTree(yaml.SafeLoader):
    """YAML as ``ObjectMapper(YAMLFactory()).readTree`` reads it: an alias is a string naming its anchor
    (FasterXML/jackson-dataformats-text#85)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            return yaml.ScalarNode("tag:yaml.org,2002:str", event.anchor, event.start_mark, event.end_mark)
        return super().compose_node(parent, index)


def read_as_cloudformation(text: str) -> Any:
    """DefinitionProcessor: JSON first, then YAML through Jackson's tree model."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return yaml.load(text, Loader=_JacksonTree)  # noqa: S506 - a SafeLoader subclass  # nosec B506


def policies(states: dict[str, Any], at: str = "States") -> Iterator[tuple[str, Any]]:
    """Every Retry and Catch list, and each entry of one, at any depth (Map and Parallel states too)."""
    for name, state in states.items():
        for field in ("Retry", "Catch"):
            if field in state:
                yield f"{at}.{name}.{field}", state[field]
                for i, entry in enumerate(state[field] if isinstance(state[field], list) else []):
                    yield f"{at}.{name}.{field}[{i}]", entry
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from policies(processor["States"], f"{at}.{name}.ItemProcessor.States")
        for b, branch in enumerate(state.get("Branches", [])):
            yield from policies(branch["States"], f"{at}.{name}.Branches[{b}].States")


def string_policies(text: str) -> list[str]:
    definition = read_as_cloudformation(text)
    return [where for where, node in policies(definition["States"]) if isinstance(node, str)]


# ------------------------------------------------------------------------------------ what ships


@pytest.mark.parametrize("path", deployed_paths(), ids=lambda p: p.name)
def test_cloudformation_reads_every_retry_and_catch_of_a_deployed_definition_as_policies(path: Path) -> None:
    assert string_policies(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", deployed_paths(), ids=lambda p: p.name)
def test_a_deployed_definition_is_plain_json_read_alike_by_cloudformation_and_the_local_stack(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")
    assert read_as_cloudformation(text) == json.loads(text) == definitions.load(path)


def test_the_template_deploys_exactly_the_generated_definitions() -> None:
    assert sorted(deployed_paths()) == sorted(build_definitions.shipped_path(s) for s in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_a_shipped_definition_is_what_its_source_generates(source: Path) -> None:
    shipped = build_definitions.shipped_path(source)
    assert shipped.is_file(), f"{shipped.relative_to(PROJECT_ROOT)} is missing: run `make definitions`"
    assert shipped.read_text(encoding="utf-8") == build_definitions.render(source), (
        f"{shipped.relative_to(PROJECT_ROOT)} is stale relative to {source.relative_to(PROJECT_ROOT)}: "
        "run `make definitions`"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_generation_writes_out_every_alias_of_the_source(source: Path) -> None:
    assert json.loads(build_definitions.render(source)) == yaml.safe_load(source.read_text(encoding="utf-8"))


def test_cloudformation_would_read_the_aliased_source_as_strings_which_is_why_it_does_not_ship() -> None:
    found = string_policies(
        (definitions.SOURCE_DIR / "subscriber_check.asl.yaml").read_text(encoding="utf-8")
    )
    assert "States.PollStatus.Retry[0]" in found
    assert "States.PollStatus.Catch[0]" in found


def test_the_stale_check_names_the_file_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.asl.yaml").write_text(
        "StartAt: A\nStates: {A: {Type: Succeed}}\n", encoding="utf-8"
    )
    monkeypatch.setattr(build_definitions, "SOURCE_DIR", tmp_path / "src")
    monkeypatch.setattr(build_definitions, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(build_definitions, "ROOT", tmp_path)

    assert build_definitions.stale() == [tmp_path / "x.asl.json"]
    build_definitions.main([])
    assert build_definitions.stale() == []
    assert (tmp_path / "x.asl.json").read_text(encoding="utf-8") == (
        '{\n  "StartAt": "A",\n  "States": {\n    "A": {\n      "Type": "Succeed"\n    }\n  }\n}\n'
    )


SOURCE_REFUSED = {
    "not YAML": ("States:\n  A: {Type: Succeed\n", 3, "not YAML (expected ',' or '}', but got"),
    "yes unquoted": (
        "States:\n  A:\n    StringEquals: yes\n",
        3,
        "'yes' unquoted, which PyYAML reads as a boolean",
    ),
    "octal": (
        "States:\n  A:\n    NumericEquals: 0777\n",
        3,
        "'0777' unquoted, which PyYAML reads as an integer",
    ),
    "1e3": ("States:\n  A:\n    NumericEquals: 1e3\n", 3, "'1e3' unquoted, which YAML 1.2 reads as a number"),
    "tag": ("States:\n  A: !Ref B\n", 2, "a tag (!Ref)"),
    "repeated key": ("States: {}\nStates: {}\n", 2, "the key 'States' appears twice"),
}


@pytest.mark.parametrize(("text", "line", "said"), SOURCE_REFUSED.values(), ids=SOURCE_REFUSED)
def test_generation_refuses_a_source_other_yaml_readers_read_differently(
    tmp_path: Path, text: str, line: int, said: str
) -> None:
    source = tmp_path / "x.asl.yaml"
    source.write_text("StartAt: A\n" + text, encoding="utf-8")

    with pytest.raises(SystemExit) as refused:
        build_definitions.render(source)

    assert str(refused.value).startswith(f"{source}:{line + 1}: {said}")


def test_generation_expands_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    source = tmp_path / "x.asl.yaml"
    source.write_text(
        "StartAt: A\nStates:\n  A: &a {Type: Pass, Next: B}\n  B: {<<: *a, Next: C}\n  C: *a\n",
        encoding="utf-8",
    )

    assert json.loads(build_definitions.render(source))["States"] == {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "Next": "B"},
    }


# ---------------------------------------------------------------------------- the strict loader

REFUSED = {
    "anchor": ("StartAt: A\nStates:\n  A: &done\n    Type: Succeed\n", 3, "an anchor (&done)"),
    "alias": ("StartAt: A\nStates:\n  A: {Type: Succeed}\n  B: *done\n", 4, "an alias (*done)"),
    "merge key": ("StartAt: A\nStates:\n  A:\n    <<: {Type: Succeed}\n", 4, "a merge key (<<)"),
    "tag": ("StartAt: A\nStates:\n  A:\n    Type: !Sub Succeed\n", 4, "a tag (!Sub)"),
    "local tag on a mapping": ("StartAt: A\nStates: !!map\n  A: {Type: Succeed}\n", 2, "a tag ("),
    "repeated key": ("StartAt: A\nStartAt: B\nStates: {}\n", 2, "the key 'StartAt' appears twice"),
    "on unquoted": ("StartAt: A\nStates:\n  A: {Type: Pass, End: on}\n", 3, "'on' unquoted, which PyYAML"),
}


@pytest.mark.parametrize(("text", "line", "said"), REFUSED.values(), ids=REFUSED)
def test_the_loader_refuses_what_jackson_reads_differently_naming_file_and_line(
    tmp_path: Path, text: str, line: int, said: str
) -> None:
    path = tmp_path / "machine.asl.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(definitions.DefinitionError) as refused:
        definitions.load(path)

    message = str(refused.value)
    assert message.startswith(f"{path}:{line}: {said}")
    assert "\n" not in message


def test_the_loader_refuses_the_anchored_source_at_its_first_anchor() -> None:
    source = definitions.SOURCE_DIR / "subscriber_check.asl.yaml"
    first = next(n for n, line in enumerate(source.read_text().splitlines(), 1) if re.search(r"&\w", line))

    with pytest.raises(
        definitions.DefinitionError, match=rf"^statemachine/src/subscriber_check\.asl\.yaml:{first}: "
    ):
        definitions.load(source)


def test_the_loader_refuses_a_json_key_given_twice() -> None:
    with pytest.raises(definitions.DefinitionError, match=r"^x\.json: the key 'StartAt' appears twice"):
        definitions.parse('{"StartAt": "A", "StartAt": "B", "States": {}}', "x.json")


def test_the_loader_reads_plain_yaml_and_substitutes_as_cloudformation_does(tmp_path: Path) -> None:
    path = tmp_path / "machine.asl.yaml"
    path.write_text(
        'StartAt: A\nStates:\n  A: {Type: Task, Resource: "${Fn}", End: true}\n', encoding="utf-8"
    )

    loaded = definitions.load(path, {"Fn": "arn:aws:lambda:us-east-1:123456789012:function:f"})

    assert loaded["States"]["A"]["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_the_local_stack_refuses_to_deploy_a_definition_cloudformation_would_misread(tmp_path: Path) -> None:
    template = load_template()
    machine = template["Resources"]["SubscriberCheckStateMachine"]["Properties"]
    machine["DefinitionUri"] = "statemachine/src/subscriber_check.asl.yaml"
    for folder in ("functions", "layers", "statemachine"):
        (tmp_path / folder).symlink_to(PROJECT_ROOT / folder)
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")

    with (
        pytest.raises(definitions.DefinitionError, match=r"subscriber_check\.asl\.yaml:\d+: an anchor"),
        LocalAws(
            {"username": "u", "password": "p"},
            parameters={"DxHostname": "dx.example.com"},
            template_path=tmp_path / "template.yaml",
        ),
    ):
        pass


def test_substitutions_are_replaced_as_cloudformation_does_booleans_spelled_as_java_does() -> None:
    text = '{"A": "${Arn}", "B": "${Flag}", "C": "${Count}", "D": "${Outer}", "E": "${Unknown}"}'
    values = {"Arn": "arn:aws:sns:us-east-1:123456789012:t", "Flag": True, "Count": 3, "Outer": "${Arn}"}

    assert definitions.substitute(text, values) == (
        '{"A": "arn:aws:sns:us-east-1:123456789012:t", "B": "true", "C": "3", '
        '"D": "arn:aws:sns:us-east-1:123456789012:t", "E": "${Unknown}"}'
    )


def test_a_substitution_cloudformation_refuses_is_refused() -> None:
    with pytest.raises(definitions.DefinitionError, match="substitution Ids is a list; CloudFormation takes"):
        definitions.substitute("${Ids}", {"Ids": ["a", "b"]})
    with pytest.raises(definitions.DefinitionError, match="refer to each other without end"):
        definitions.substitute("${A}", {"A": "${B}", "B": "${A}"})


def test_a_definition_over_1_mib_is_refused_as_cloudformation_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "big.asl.json"
    path.write_text('{"Comment": "' + "x" * definitions.MAX_DEFINITION_BYTES + '"}', encoding="utf-8")

    with pytest.raises(definitions.DefinitionError, match="CloudFormation takes at most 1 MiB"):
        definitions.load(path)


@pytest.mark.parametrize("path", deployed_paths(), ids=lambda p: p.name)
def test_a_deployed_definition_is_far_below_the_1_mib_cloudformation_takes(path: Path) -> None:
    assert path.stat().st_size < definitions.MAX_DEFINITION_BYTES / 10


def test_pythons_nan_extension_of_json_is_not_read_as_json() -> None:
    assert definitions.parse('{"StartAt": "A", "States": {}, "X": NaN}', "x.json")["X"] == "NaN"
