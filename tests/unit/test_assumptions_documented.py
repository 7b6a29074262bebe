"""Every DX assumption the code relies on is documented in docs/dx-assumptions.md.

The code marks each reliance with ``ASSUMPTION: <id>``; this test collects the ids and fails when one is
missing from its table, or when the table lists one the code no longer relies on.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"ASSUMPTION: ([a-z0-9][a-z0-9-]+)")
SOURCES = ["layers", "src", "functions"]


def ids_in_code() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for match in MARKER.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    return found


def ids_in_readme() -> set[str]:
    text = (ROOT / "docs" / "dx-assumptions.md").read_text(encoding="utf-8")
    section = text.split("# Assumptions about DX", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))


def test_the_code_marks_at_least_the_trigger_assumption() -> None:
    assert "trigger-via-patch" in ids_in_code()


def test_every_assumption_in_the_code_is_documented_in_the_readme() -> None:
    undocumented = {i: where for i, where in ids_in_code().items() if i not in ids_in_readme()}
    assert not undocumented, f"document these in docs/dx-assumptions.md: {undocumented}"


def test_the_readme_lists_no_assumption_the_code_has_dropped() -> None:
    stale = ids_in_readme() - set(ids_in_code())
    assert not stale, f"docs/dx-assumptions.md lists assumptions no code marks any more: {sorted(stale)}"


def test_the_doctor_has_a_line_for_every_assumption_in_the_readme() -> None:
    from damdrift.doctor.assumptions import ASSUMPTIONS

    assert set(ASSUMPTIONS) == ids_in_readme()
