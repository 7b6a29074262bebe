"""The deploy guide's first steps work as written: the questions name real parameters, and the
commands it prints take inputs the stack accepts (a newcomer copies them without reading the source)."""

from __future__ import annotations

import json
import re
import shlex

from damdrift.execution_input import CheckInput
from damdrift_cli.local.template import load_template
from tests.deploy.sam_artifacts import ROOT

GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def template_parameters() -> set[str]:
    return set(load_template()["Parameters"])


def test_every_parameter_the_first_deploy_questions_name_exists() -> None:
    section = GUIDE.split("## First deploy", 1)[1].split("\n```", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", section))
    assert {"DxHostname", "NotificationEmail", "VpcSubnetIds", "VpcSecurityGroupIds"} <= named
    assert not named - template_parameters(), f"the first questions name no such parameter: {named}"


def test_each_start_execution_input_the_docs_print_is_one_the_state_machine_accepts() -> None:
    printed = re.findall(r"--input '(\{.*?\})'", GUIDE + README)
    assert len(printed) >= 2
    for text in printed:
        CheckInput.model_validate(json.loads(text))


def test_the_short_path_names_no_sample_file_that_points_at_the_simulator() -> None:
    for line in (GUIDE + README).splitlines():
        if "start-execution" in line or line.strip().startswith("--input"):
            assert "file://events/" not in " ".join(shlex.split(line, posix=False)), line


def test_the_readme_deploy_turns_the_schedule_on_once_the_secret_holds_credentials() -> None:
    """The stack creates its secret empty, so ScheduleEnabled=auto leaves a new stack's schedule off:
    the README's five lines say 'then the daily schedule runs' only if they redeploy with it on."""
    block = README.split("## Deploy in five lines", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith(" ")]
    assert len(lines) <= 5, lines
    put = next(i for i, line in enumerate(lines) if "put-secret-value" in line)
    schedule_on = [i for i, line in enumerate(lines) if "ScheduleEnabled=true" in line]
    assert schedule_on and schedule_on[0] > put, lines
    assert "--guided" not in block  # its saved ScheduleEnabled=auto turns the schedule off again
