"""Adds Python 3.13 bytecode to a ``sam build`` output, so cold starts do not compile from source.

``sam build`` ships sources only, and Lambda's ``/opt`` and ``/var/task`` are read-only: without
``.pyc`` files every cold start compiles pydantic, Powertools, requests and damdrift again (measured
0.4-0.6 s per cold start, bench/README.md "cold start"). Hash-based, unchecked bytecode is used because
a zip keeps 2-second mtimes and a layer is rebuilt whole, so the files can never go stale.

    .venv/bin/python scripts/precompile.py .aws-sam/build     # after sam build, before sam deploy
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path

RUNTIME = (3, 13)  # template.yaml: Runtime python3.13 (bytecode is specific to the minor version)


def precompile(build_dir: Path) -> int:
    """Compiles every ``.py`` under ``build_dir``; returns how many files were compiled."""
    if sys.version_info[:2] != RUNTIME:
        raise SystemExit(f"precompile: run with Python {RUNTIME[0]}.{RUNTIME[1]}, the functions' runtime")
    if not (build_dir / "template.yaml").is_file():
        raise SystemExit(f"precompile: {build_dir} is not a sam build output (no template.yaml)")
    sources = [p for p in build_dir.rglob("*.py") if "__pycache__" not in p.parts]
    ok = compileall.compile_dir(
        build_dir,
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise SystemExit("precompile: some files did not compile (see above)")
    return len(sources)


def main(argv: list[str]) -> int:
    for folder in argv or [".aws-sam/build"]:
        count = precompile(Path(folder))
        print(f"precompile: {count} modules of {folder} now ship their {RUNTIME[0]}.{RUNTIME[1]} bytecode")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
