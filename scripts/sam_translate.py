"""Writes template.yaml as plain CloudFormation, translated by the SAM CLI's own translator, offline.

Run with the SAM CLI's interpreter (.venv-sam/bin/python), not the project's: it imports samcli.
checkov then scans what CloudFormation will really create (the Lambda functions, the state machine
and the scheduler's role that the SAM transform generates), not only the SAM shorthand.

    .venv-sam/bin/python scripts/sam_translate.py template.yaml OUT.yaml [Name=Value ...]

No AWS call is made: the translator asks IAM for managed policy ARNs only when a function's
``Policies`` names one, and this template gives every function an explicit ``Role``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse


class _NoManagedPolicies:
    def load(self) -> NoReturn:
        raise SystemExit("the template names a managed policy in Policies; use explicit roles instead")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target, *overrides = argv
    parameters = dict(item.split("=", 1) for item in overrides)
    template = yaml_parse(Path(source).read_text(encoding="utf-8"))
    validator = SamTemplateValidator(
        template, _NoManagedPolicies(), region="us-east-1", parameter_overrides=parameters
    )
    Path(target).write_text(validator.get_translated_template_if_valid(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
