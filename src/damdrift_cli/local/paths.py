"""Where a local check's reports go, and the one rule for paths under it: nothing leaves the folder.

Kept free of boto3 and moto so that commands importing it start fast (a wrong port must fail in
seconds, not after the AWS libraries load).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_REPORTS = Path("dam-drift-reports")  # damdrift check's default --out


def inside(root: Path, key: str) -> Path | None:
    """``root / key`` when it stays under ``root`` once resolved (``..`` and symlinks followed), else None.

    Paths are resolved, not compared as text: ``out/reports/../../x`` and a symlink to ``/etc`` both
    start with ``out/`` lexically."""
    parts = Path(key).parts
    if not parts or Path(key).is_absolute() or ".." in parts:
        return None
    base = root.resolve()
    target = (root / key).resolve()
    return target if target.is_relative_to(base) and target != base else None
