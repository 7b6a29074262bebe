"""The local check deploys its stack with what the user typed: the person at the terminal both deploys
and starts the check, so ``--remediate auto`` is allowed (MaxRemediation=auto) and ``--two-way`` lists
the subscriber on the stack side (TwoWaySubscribers), not in the input."""

import argparse
from pathlib import Path

from damdrift_cli.commands.check import _ca_bundles
from damdrift_cli.remediation_options import (
    add_remediation_arguments,
    remediation_input,
    remediation_parameters,
)


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_remediation_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_ceiling_is_the_mode_the_user_asked_for() -> None:
    assert remediation_parameters(parsed()) == {"MaxRemediation": "never"}
    assert remediation_parameters(parsed("--remediate", "ask")) == {"MaxRemediation": "ask"}
    assert remediation_parameters(parsed("--remediate", "auto")) == {"MaxRemediation": "auto"}


def test_two_way_subscribers_are_a_stack_parameter_not_an_input_flag() -> None:
    args = parsed("--remediate", "auto", "--two-way", "sub-1", "--two-way", "sub-2")
    assert remediation_parameters(args) == {"MaxRemediation": "auto", "TwoWaySubscribers": "sub-1,sub-2"}
    assert "twoWayStaging" not in str(remediation_input(args, {}))


def test_the_ca_bundle_the_user_typed_is_the_local_stacks_only_one(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    assert _ca_bundles({"hostname": "dx.example.com", "caBundle": str(bundle)}) == {
        "DX_CA_BUNDLES": str(bundle)
    }
    assert _ca_bundles({"hostname": "dx.example.com"}) == {}
