"""Writes the shipped state machine definitions, ``statemachine/*.asl.json``, from their sources in
``statemachine/src/*.asl.yaml`` (``make definitions``).

The sources are where people edit: YAML with comments, each shared Retry/Catch policy written once as an
anchor. CloudFormation reads YAML with a parser that does not resolve aliases (docs/state-machines.md),
so what ships is plain JSON with the aliases written out, which every reader takes the same way. The
output is deterministic (the source's key order, two-space indent, ASCII, one trailing newline);
tests/unit/test_definitions.py fails when a shipped file is stale.

    .venv/bin/python scripts/build_definitions.py          # rewrites statemachine/*.asl.json
    .venv/bin/python scripts/build_definitions.py --check  # exit 1 naming each stale file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from damdrift_cli.local.definitions import DefinitionError, read_source

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "statemachine" / "src"
SHIPPED_DIR = ROOT / "statemachine"


def sources() -> list[Path]:
    return sorted(SOURCE_DIR.glob("*.asl.yaml"))


def shipped_path(source: Path) -> Path:
    """``statemachine/src/x.asl.yaml`` -> ``statemachine/x.asl.json``."""
    return SHIPPED_DIR / (source.name.removesuffix(".yaml") + ".json")


def render(source: Path) -> str:
    """The shipped JSON text of one source, its anchors, aliases and merge keys resolved. A source
    another YAML reader would read differently from PyYAML (``yes``, ``0777``, a tag) is refused in
    one line naming its file and line, so what ships is what its author meant."""
    try:
        definition = read_source(source)
    except DefinitionError as exc:
        raise SystemExit(str(exc)) from None
    return json.dumps(definition, indent=2, ensure_ascii=True) + "\n"


def stale() -> list[Path]:
    """The shipped files that differ from what their sources render (or are missing)."""
    return [
        shipped_path(source)
        for source in sources()
        if not shipped_path(source).is_file()
        or shipped_path(source).read_text(encoding="utf-8") != render(source)
    ]


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        outdated = stale()
        for path in outdated:
            print(f"{path.relative_to(ROOT)} is stale: run `make definitions`", file=sys.stderr)
        return 1 if outdated else 0
    for source in sources():
        target = shipped_path(source)
        text = render(source)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
