"""template.yaml resolved for a given set of parameters, the way CloudFormation would see it.

Built on the local run's resolver (``damdrift_cli.local.template``). Resources answer ``Ref`` as
``<LogicalId>`` and ``GetAtt`` as ``<LogicalId.Attribute>``, so assertions read like the template;
pseudo parameters get fixed values. Resources whose ``Condition`` is false are left out, and SAM's
``Globals`` are merged into each function, as the SAM transform does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from damdrift_cli.local.template import evaluate_conditions, load_template, parameter_values, resolve

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "dam-drift",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/dam-drift/1a2b3c4d-5e6f-4a7b-8c9d",
}
REQUIRED = {"DxHostname": "dx.example.com"}  # the one parameter without a default


@dataclass(frozen=True)
class StackView:
    parameters: dict[str, str | list[str]]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    raw: dict[str, Any]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resources[logical_id].get("Properties", {})
        return properties

    def function(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with ``Globals.Function`` merged in."""
        return _merge(self.globals_function, self.props(logical_id))

    @property
    def globals_function(self) -> dict[str, Any]:
        merged: dict[str, Any] = self._globals.get("Function", {})
        return merged

    @property
    def _globals(self) -> dict[str, Any]:
        globals_: dict[str, Any] = self.raw.get("Globals", {})
        return globals_


def stack(pseudo: Mapping[str, str] | None = None, **overrides: str) -> StackView:
    """The template for the parameters ``overrides``; ``pseudo`` replaces pseudo parameters' values."""
    template = load_template()
    params = parameter_values(template, {**REQUIRED, **overrides})
    pseudos = {**PSEUDO, **(pseudo or {})}

    def lookup(logical_id: str, attribute: str | None) -> Any:
        if attribute is None and logical_id in pseudos:
            return pseudos[logical_id]
        if attribute is None and logical_id in params:
            return params[logical_id]
        if logical_id not in template["Resources"] and not logical_id.startswith("AWS::"):
            raise KeyError(f"{logical_id} is neither a parameter nor a resource")
        return f"<{logical_id}{'.' + attribute if attribute else ''}>"

    conditions = evaluate_conditions(template, lookup)
    resources = {
        logical_id: resolve(resource, lookup, conditions)
        for logical_id, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }
    outputs = resolve(template.get("Outputs", {}), lookup, conditions)
    globals_ = resolve(template.get("Globals", {}), lookup, conditions)
    return StackView(params, conditions, resources, outputs, {**template, "Globals": globals_})


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(view: StackView, role_id: str) -> list[dict[str, Any]]:
    """Every permissions policy of a role: inline, and attached managed policies of this stack."""
    props = view.props(role_id)
    documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
    for arn in props.get("ManagedPolicyArns", []):
        logical = arn.strip("<>") if isinstance(arn, str) and arn.startswith("<") else None
        if logical:
            documents.append(view.props(logical)["PolicyDocument"])
    return documents


def permissions(view: StackView, role_id: str) -> set[tuple[str, str]]:
    """(action, resource) pairs a role's Allow statements grant."""
    granted = set()
    for document in policy_documents(view, role_id):
        for statement in statements(document):
            assert statement["Effect"] == "Allow", (role_id, statement)
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    granted.add((action, resource))
    return granted
