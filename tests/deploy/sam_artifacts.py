"""Where scripts/check-template.sh puts its ``sam build`` output, and how a test knows it is current.

The script builds the deployable artifact (arm64) and one for this machine's architecture (for the
import test) into ``.aws-sam/check/<architecture>/``, then stamps the digest of everything a build
reads. Tests use a build only when its stamp matches the working tree, so they never judge a stale
artifact, and pytest never runs ``sam build`` itself (the script is the one place that builds).

    python -m tests.deploy.sam_artifacts stamp    # what the script runs after building
"""

from __future__ import annotations

import hashlib
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK_DIR = ROOT / ".aws-sam" / "check"
STAMP = CHECK_DIR / "inputs.sha256"
SAM_VENV = ROOT / ".venv-sam"
SAM = SAM_VENV / "bin" / "sam"
DEPLOYED_ARCHITECTURE = "arm64"

#: Everything ``sam build`` reads.
BUILD_INPUTS = ("template.yaml", "layers/shared", "functions", "statemachine")

#: ELF ``e_machine`` of each Lambda architecture.
ELF_MACHINE = {"x86_64": 62, "arm64": 183}


def inputs_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in BUILD_INPUTS:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def host_architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[machine]


def build_architectures() -> list[str]:
    """The deployable build and, if it differs, the one this machine can import."""
    return sorted({DEPLOYED_ARCHITECTURE, host_architecture()})


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def current_build_dir() -> Path | None:
    """The check build, if it exists and was built from the working tree as it is now."""
    if not STAMP.is_file() or STAMP.read_text(encoding="utf-8").strip() != inputs_digest():
        return None
    if not all((CHECK_DIR / arch / "template.yaml").is_file() for arch in build_architectures()):
        return None
    return CHECK_DIR


def main(argv: list[str]) -> int:
    if argv == ["stamp"]:
        STAMP.write_text(inputs_digest() + "\n", encoding="utf-8")
        return 0
    if argv == ["architectures"]:
        sys.stdout.write(" ".join(build_architectures()) + "\n")
        return 0
    sys.stderr.write("usage: python -m tests.deploy.sam_artifacts stamp|architectures\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
