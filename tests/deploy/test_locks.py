"""The dependency locks: every package, transitive ones too, pinned exactly with its hashes, and each
lock in agreement with the requirement input it was compiled from (``make lock`` regenerates them).

A lock that disagrees with its input means someone changed a pin and did not run ``make lock`` (or
edited a lock by hand): ``sam build`` and the venv would then install something nobody asked for.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker

from tests.deploy.sam_artifacts import ROOT

#: Each lock and the input it is compiled from (Makefile ``lock``).
LOCKS = {
    "layers/shared/requirements.txt": "layers/shared/requirements.in",
    "requirements-dev.txt": "requirements-dev.in",
    "scripts/requirements-sam.txt": "scripts/requirements-sam.in",
    "scripts/requirements-checkov.txt": "scripts/requirements-checkov.in",
    "scripts/requirements-docs.txt": "scripts/requirements-docs.in",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Locked:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)
    #: The environment marker of a package only some platforms need (``colorama ; sys_platform == ...``).
    marker: str | None = None

    def applies_here(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate()


def read_lock(path: str) -> dict[str, Locked]:
    """``name -> Locked`` from a lock in pip's format with uv's ``# via`` annotations."""
    locked: dict[str, Locked] = {}
    current: Locked | None = None
    in_via = False
    for raw in (ROOT / path).read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            requirement, *options = line.split(" --")
            requirement, _, marker = requirement.partition(";")
            name, sep, version = requirement.strip().partition("==")
            assert sep, f"{path}: not pinned exactly: {requirement}"
            current = locked[canonical(name.split("[")[0])] = Locked(version, marker=marker.strip() or None)
            options = [f"--{o.strip()}" for o in options]
            current.hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
            in_via = False
            continue
        assert current is not None or not line.startswith("# via"), path
        comment = line.lstrip("#").strip()
        if comment.startswith("via"):
            in_via = True
            comment = comment.removeprefix("via").strip()
        elif not in_via or not raw.startswith("    #   "):
            in_via = False
            continue
        if current is not None and comment:
            current.via.update(part.strip() for part in comment.split(","))
    return locked


def read_input(path: str) -> dict[str, str]:
    """``name -> version`` of an input file, following its ``-r`` includes (``-c`` only constrains)."""
    pins: dict[str, str] = {}
    for raw in (ROOT / path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-c "):
            continue
        if line.startswith("-r "):
            pins |= read_input(line.removeprefix("-r ").strip())
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path}: an input pins exactly (name==version): {line}"
        pins[canonical(name.split("[")[0])] = version
    return pins


def includes(path: str) -> set[str]:
    """The input itself and every file it ``-r``-includes: the names uv writes as ``-r <file>``."""
    found = {path}
    for raw in (ROOT / path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= includes(line.removeprefix("-r ").strip())
    return found


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_pinned_exactly_with_its_hashes(lock: str) -> None:
    locked = read_lock(lock)
    assert locked
    for name, entry in locked.items():
        assert entry.hashes, (
            f"{lock}: {name}=={entry.version} has no --hash (pip --require-hashes refuses it)"
        )
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in entry.hashes), name


@pytest.mark.parametrize(("lock", "source"), LOCKS.items())
def test_each_lock_holds_every_input_pin_at_its_version(lock: str, source: str) -> None:
    locked = read_lock(lock)
    for name, version in read_input(source).items():
        assert name in locked, f"{source} asks for {name}, {lock} lacks it: run make lock"
        assert locked[name].version == version, (
            f"{source} pins {name}=={version}, {lock} has {locked[name].version}: run make lock"
        )


@pytest.mark.parametrize(("lock", "source"), LOCKS.items())
def test_each_lock_holds_only_what_its_input_asks_for_and_their_dependencies(lock: str, source: str) -> None:
    locked = read_lock(lock)
    direct = {f"-r {path}" for path in includes(source)}
    asked = read_input(source)
    for name, entry in locked.items():
        assert entry.via, f"{lock}: {name} says nothing about why it is there"
        if entry.via & direct:
            assert name in asked, (
                f"{lock} holds {name} for {source}, which no longer asks for it: run make lock"
            )
        else:
            needed_by = {canonical(v) for v in entry.via}
            assert needed_by & locked.keys(), f"{lock}: {name} is needed by {entry.via}, none of them locked"
    assert asked.keys() <= locked.keys()


def test_the_dev_lock_holds_the_layer_at_exactly_the_layer_locks_versions() -> None:
    layer = read_lock("layers/shared/requirements.txt")
    dev = read_lock("requirements-dev.txt")
    for name, entry in layer.items():
        assert dev.get(name, Locked("absent")).version == entry.version, name  # tests run what deploys


def test_the_layer_ships_the_sdk_whose_s3_conditional_writes_the_store_uses() -> None:
    layer = read_lock("layers/shared/requirements.txt")
    assert {"boto3", "botocore", "s3transfer"} <= layer.keys()
    # IfMatch on PutObject arrived in botocore 1.35.69 (IfNoneMatch earlier).
    major, minor, patch = (int(p) for p in layer["botocore"].version.split(".")[:3])
    assert (major, minor, patch) >= (1, 35, 69)


def test_this_venv_holds_exactly_the_dev_lock() -> None:
    dev = read_lock("requirements-dev.txt")
    # The venv's own site-packages only: pkg_resources (imported by parliament in this process) puts
    # setuptools' vendored packages on sys.path, and they are not the venv's.
    site_packages = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    installed = {
        canonical(d.metadata["Name"]): d.version
        for d in importlib.metadata.distributions(path=site_packages)
        if canonical(d.metadata["Name"]) not in {"pip", "dam-drift"}
    }
    assert installed == {name: entry.version for name, entry in dev.items() if entry.applies_here()}, (
        "the venv differs from requirements-dev.txt: make .venv/.installed (or rm -rf .venv && make)"
    )


def test_a_lock_that_lost_an_input_pin_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above fail on a stale lock: here, one whose input now asks for another version."""
    (tmp_path / "in.txt").write_text("pydantic==9.9.9\n", encoding="utf-8")
    lock = (ROOT / "layers/shared/requirements.txt").read_text(encoding="utf-8")
    (tmp_path / "lock.txt").write_text(lock, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    with pytest.raises(AssertionError, match=r"pins pydantic==9\.9\.9"):
        test_each_lock_holds_every_input_pin_at_its_version("lock.txt", "in.txt")


def test_the_node_tools_are_pinned_exactly_and_locked_with_integrity_hashes() -> None:
    """scripts/node: what check-template.sh installs with ``npm ci`` (asl-validator)."""
    manifest = json.loads((ROOT / "scripts/node/package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "scripts/node/package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    for name, version in manifest["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version}: pin an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    for path, package in lock["packages"].items():
        assert not path or package["integrity"].startswith("sha512-"), path
