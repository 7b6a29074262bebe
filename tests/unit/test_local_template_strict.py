"""The local stack reads template.yaml's parameters, rules and intrinsic functions as CloudFormation
does (damdrift_cli.local.template): what CloudFormation refuses raises one sentence naming the
parameter and the rule, instead of becoming "" or Python text."""

from typing import Any

import pytest

from damdrift_cli.local.template import (
    TemplateError,
    check_rules,
    condition_holds,
    evaluate_conditions,
    load_template,
    parameter_values,
    resolve,
)

TEMPLATE = load_template()
HOST = {"DxHostname": "dx.example.com"}


def refusal(**overrides: str) -> str:
    with pytest.raises(TemplateError) as raised:
        parameter_values(TEMPLATE, overrides)
    return str(raised.value)


def test_a_parameter_without_value_or_default_is_refused_not_made_empty() -> None:
    assert refusal() == "Parameters: [DxHostname] must have values"


def test_a_parameter_the_template_does_not_declare_is_refused() -> None:
    assert refusal(**HOST, DxHost="x") == "Parameters: [DxHost] do not exist in the template"


def test_a_value_outside_allowed_values_is_refused_naming_them() -> None:
    said = refusal(**HOST, DxProtocol="ftp")
    assert said == "Parameter 'DxProtocol' must be one of AllowedValues (https, http), not 'ftp'"


def test_a_value_breaking_allowed_pattern_is_refused_with_its_constraint_description() -> None:
    said = refusal(DxHostname="https://dx.example.com")
    assert said.startswith("Parameter 'DxHostname' failed to satisfy constraint: a bare host name")


def test_each_member_of_a_comma_delimited_list_meets_the_pattern() -> None:
    said = refusal(**HOST, AllowedDxHosts="dam.example.com,dam two.example.com")
    assert (
        "Parameter 'AllowedDxHosts' failed to satisfy constraint" in said and "'dam two.example.com'" in said
    )
    assert parameter_values(TEMPLATE, {**HOST, "AllowedDxHosts": "a.example.com,b.example.com"})[
        "AllowedDxHosts"
    ] == ["a.example.com", "b.example.com"]


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("PollMaxDurationSeconds", "59", "must be a number not less than 60"),
        ("MaxConcurrency", "41", "must be a number not greater than 40"),
        ("MaxConcurrency", "two", "must be a number, not 'two'"),
        ("LogRetentionDays", "2", "must be one of AllowedValues"),
    ],
)
def test_numbers_meet_their_min_max_and_allowed_values(name: str, value: str, said: str) -> None:
    assert said in refusal(**HOST, **{name: value})
    assert f"Parameter '{name}'" in refusal(**HOST, **{name: value})


def test_lengths_are_checked() -> None:
    template = {"Parameters": {"Name": {"Type": "String", "MinLength": 3, "MaxLength": 5}}}
    with pytest.raises(TemplateError, match="'Name' must contain at least 3 characters"):
        parameter_values(template, {"Name": "ab"})
    with pytest.raises(TemplateError, match="'Name' must contain at most 5 characters"):
        parameter_values(template, {"Name": "abcdef"})


def test_valid_parameters_resolve_as_cloudformation_strings() -> None:
    values = parameter_values(TEMPLATE, HOST)
    assert values["DxHostname"] == "dx.example.com"
    assert values["PollMaxDurationSeconds"] == "7200"
    assert values["AllowedDxHosts"] == [""]


def lookup_of(values: dict[str, Any]) -> Any:
    def lookup(name: str, attribute: str | None) -> Any:
        return values[name]

    return lookup


RULES = {
    "Parameters": {"Transition": {"Type": "Number"}, "Retention": {"Type": "Number"}},
    "Rules": {
        "TransitionIsAllowed": {
            "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Transition"}, "0"]}]},
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "29"], {"Ref": "Transition"}]}]},
                    "AssertDescription": "ReportTransitionDays must be 0 or at least 30",
                }
            ],
        }
    },
}


def test_a_failed_rule_assertion_is_refused_with_its_description() -> None:
    with pytest.raises(
        TemplateError, match=r"^Rule TransitionIsAllowed: ReportTransitionDays must be 0 or at least 30$"
    ):
        check_rules(RULES, lookup_of({"Transition": "29", "Retention": "400"}))
    check_rules(RULES, lookup_of({"Transition": "0", "Retention": "400"}))  # the RuleCondition is false
    check_rules(RULES, lookup_of({"Transition": "90", "Retention": "400"}))


def test_a_list_inside_fn_sub_is_refused_not_made_python_text() -> None:
    lookup = lookup_of({"Hosts": ["a.example.com", "b.example.com"]})
    with pytest.raises(TemplateError, match="variable Hosts in Fn::Sub resolves to"):
        resolve({"Fn::Sub": "hosts=${Hosts}"}, lookup)


def test_a_list_inside_fn_join_items_is_refused() -> None:
    lookup = lookup_of({"Hosts": ["a.example.com", "b.example.com"]})
    with pytest.raises(TemplateError, match="Fn::Join joins a list of strings"):
        resolve({"Fn::Join": [",", ["x", {"Ref": "Hosts"}]]}, lookup)
    assert resolve({"Fn::Join": [",", {"Ref": "Hosts"}]}, lookup) == "a.example.com,b.example.com"


def test_a_resource_whose_condition_is_not_defined_is_refused_not_created() -> None:
    conditions = evaluate_conditions(TEMPLATE, lookup_of(parameter_values(TEMPLATE, HOST)))
    with pytest.raises(TemplateError, match="resource Extra names condition 'NoSuch'"):
        condition_holds(conditions, "resource Extra", {"Type": "AWS::SNS::Topic", "Condition": "NoSuch"})
    with pytest.raises(TemplateError, match="Fn::If names condition 'NoSuch'"):
        resolve({"Fn::If": ["NoSuch", "a", "b"]}, lookup_of({}), conditions)
    assert condition_holds(conditions, "resource ChatTopic", TEMPLATE["Resources"]["ChatTopic"]) is False
