"""Cold-start benchmark: how long each Lambda handler module takes to import in a fresh interpreter.

Each handler (``functions/<name>/app.py``, every one there is) is imported in a new process, with its
folder and the layer (``layers/shared``) first on ``sys.path`` and the environment a deployed function
has (bucket, topics, region), timed from inside the process so that the interpreter's own start is left
out, as it is the same for every function. The floor, measured in the same rounds: ``import boto3,
requests`` (what any Python Lambda that talks to AWS and HTTP pays). The median of several rounds is
kept; rounds interleave the floor and the handlers so that load from elsewhere hits them alike.

Target: every handler <= 1.3x the floor. ``--breakdown`` lists, from ``python -X importtime``, what a
handler imports beyond the floor, by package (self time, summed).

Bytecode decides a good part of an import's time, so it is set here, never inherited: by default every
module, ours and the floor's alike, is compiled once into a private cache before the timed rounds (an
environment with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile our code, and only ours, in every
round). ``--layer DIR`` instead measures a built layer (``sam build``'s ``SharedLayer/python``) as Lambda
loads it: ``/opt`` is read-only, so whatever bytecode the build did not ship is compiled at every cold
start (``sam build`` ships none); the floor's requests and urllib3 come from that layer too.
``--precompile`` measures a copy of it with the bytecode a build step could add (``compileall`` with
unchecked hashes, which a zip's rounded mtimes cannot invalidate). ``--python PATH`` runs every measured
interpreter from another Python (a virtualenv of it holding requirements-dev.txt), to compare runtimes:
the functions moved from python3.11 to python3.13 (bench/README.md has both).
"""

from __future__ import annotations

import argparse
import collections
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support import FAKE_AWS_ENV, PYTHON, REPO, busy_cpus, median, result_line, wait_for_quiet

FUNCTIONS = REPO / "functions"
LAYER = REPO / "layers" / "shared"
TARGET_RATIO = 1.3
FLOOR = "import boto3, requests"
#: What template.yaml gives every function (values made up; only their presence matters at import).
FUNCTION_ENV = {
    **FAKE_AWS_ENV,
    "REPORT_BUCKET": "dam-drift-bench-reports",
    "DRIFT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:dam-drift-drift",
    "OPS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:dam-drift-ops",
    "CREDENTIALS_SECRET": "dam-drift/dx-credentials",
    "REPORT_VIEWER_KEY_SECRET": "dam-drift/report-link-key",
    "POWERTOOLS_SERVICE_NAME": "dam-drift",
    "POWERTOOLS_METRICS_NAMESPACE": "DamDrift",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Setup:
    """Where the layer is imported from, and the environment that decides where bytecode comes from."""

    layer: Path
    env: dict[str, str]
    label: str
    python: str = PYTHON

    @classmethod
    def cached(cls, cache: Path, python: str = PYTHON) -> Setup:
        """The source tree, every module's bytecode in ``cache`` (filled by ``warm_up``)."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(FUNCTION_ENV, PYTHONPYCACHEPREFIX=str(cache))
        return cls(LAYER, env, "source tree, all bytecode cached", python)

    @classmethod
    def built(cls, layer: Path, label: str, python: str = PYTHON) -> Setup:
        """A built layer, read as Lambda reads ``/opt``: its own bytecode or none, nothing written."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        env.update(FUNCTION_ENV, PYTHONDONTWRITEBYTECODE="1")
        return cls(layer, env, label, python)

    def script(self, statement: str, function: str | None) -> str:
        paths = [str(self.layer)] + ([str(FUNCTIONS / function)] if function else [])
        return (
            f"import sys, time\nsys.path[:0] = {paths!r}\n"
            f"started = time.perf_counter()\n{statement}\n"
            "print(time.perf_counter() - started)\n"
        )

    def run(self, statement: str, function: str | None, *flags: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.python, *flags, "-c", self.script(statement, function)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{statement!r} ({function or 'floor'}) failed:\n{done.stderr[-3000:]}")
        return done


def handlers() -> list[str]:
    """Every ``functions/*/app.py``: a new function is measured without touching this file."""
    return sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))


def import_seconds(setup: Setup, statement: str, function: str | None = None) -> float:
    """Seconds ``statement`` takes in a fresh interpreter (``function``'s folder on the path)."""
    return float(setup.run(statement, function).stdout.strip().splitlines()[-1])


def warm_up(setup: Setup, names: list[str]) -> None:
    """One untimed import of everything, so that the timed rounds find every module compiled."""
    import_seconds(setup, FLOOR)
    for name in names:
        import_seconds(setup, "import app", name)


def _importtime(setup: Setup, statement: str, function: str | None) -> dict[str, int]:
    """Self time (us) per module from ``python -X importtime``."""
    result: dict[str, int] = {}
    for line in setup.run(statement, function, "-X", "importtime").stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _cumulative, name = line.removeprefix("import time:").split("|")
            result[name.strip()] = int(own)
    return result


def breakdown(setup: Setup, function: str, top: int = 15) -> list[tuple[str, float]]:
    """What ``function`` imports beyond the floor, summed per package (ours per module), in ms."""
    floor = _importtime(setup, FLOOR, None)
    extra: collections.Counter[str] = collections.Counter()
    for name, own in _importtime(setup, "import app", function).items():
        if name in floor:
            continue
        parts = name.split(".")
        group = name if parts[0] in ("damdrift", "app") else ".".join(parts[:2])
        extra[group] += own
    return [(name, us / 1000) for name, us in extra.most_common(top)]


def precompiled_copy(layer: Path, into: Path, python: str = PYTHON) -> Path:
    """A copy of ``layer`` with the bytecode a build step would add (for ``python``'s version)."""
    copy = into / "python"
    shutil.copytree(layer, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if python != PYTHON:
        done = subprocess.run(
            [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(copy)],
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"compileall failed on {copy}")
        return copy
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    if not compileall.compile_dir(copy, quiet=1, invalidation_mode=mode):
        raise RuntimeError(f"compileall failed on {copy}")
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=9, help="fresh imports per target (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, no waiting for an idle machine")
    parser.add_argument(
        "--breakdown", action="store_true", help="also list each handler's imports beyond the floor"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each round, wait up to this long for an idle machine (default: %(default)s)",
    )
    parser.add_argument(
        "--layer",
        type=Path,
        metavar="DIR",
        help="import the layer from this built folder (sam build's SharedLayer/python) as Lambda does: "
        "only the bytecode it holds, nothing cached between processes",
    )
    parser.add_argument(
        "--precompile",
        action="store_true",
        help="with --layer: measure a copy of it with bytecode compiled in, as a build step could ship",
    )
    parser.add_argument(
        "--python",
        default=PYTHON,
        metavar="PATH",
        help="the interpreter to measure (a virtualenv of it with requirements-dev.txt; default: this one)",
    )
    args = parser.parse_args(argv)
    if args.precompile and args.layer is None:
        parser.error("--precompile needs --layer")
    if args.layer is not None and not (args.layer / "damdrift").is_dir():
        parser.error(f"{args.layer} holds no damdrift package: expected a built SharedLayer/python")
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        if args.layer is None:
            setup = Setup.cached(Path(scratch), args.python)
        elif args.precompile:
            copy = precompiled_copy(args.layer, Path(scratch), args.python)
            setup = Setup.built(copy, f"{args.layer}, precompiled", args.python)
        else:
            setup = Setup.built(args.layer, f"{args.layer}, bytecode as built", args.python)
        return measure(args, setup)


def measure(args: argparse.Namespace, setup: Setup) -> int:
    rounds = 3 if args.quick else args.rounds
    names = handlers()
    warm_up(setup, names)
    timings: dict[str, list[float]] = {name: [] for name in ["floor", *names]}
    busiest = 0.0
    for _ in range(rounds):
        if not args.quick and args.quiet_wait:
            busiest = max(busiest, wait_for_quiet(args.quiet_wait))
        timings["floor"].append(import_seconds(setup, FLOOR))
        for name in names:
            timings[name].append(import_seconds(setup, "import app", name))
    if args.quick:
        busiest = busy_cpus(0.2)
    floor_ms = median(timings["floor"]) * 1000
    version = setup.run("import platform; print(platform.python_version())", None).stdout.split()[0]
    print(f"layer: {setup.label}; Python {version} ({setup.python})")
    print(f"median of {rounds} fresh interpreters each; others kept up to {busiest:.2f} CPUs busy")
    print(f"{'module':<18} {'ms':>7} {'x floor':>8}")
    print(f"{'floor: ' + FLOOR:<18} {floor_ms:>7.1f} {1:>8.2f}")
    ratios: dict[str, float] = {}
    for name in names:
        ms = median(timings[name]) * 1000
        ratios[name] = ms / floor_ms
        print(f"{name:<18} {ms:>7.1f} {ratios[name]:>8.2f}")
    worst = max(ratios, key=lambda n: ratios[n])
    met = ratios[worst] <= TARGET_RATIO
    if args.breakdown:
        for name in names:
            print(f"{name}: beyond the floor (python -X importtime, self ms per package)")
            for group, ms in breakdown(setup, name):
                print(f"  {ms:7.1f}  {group}")
    print(f"target: every handler <= {TARGET_RATIO}x the floor: {'met' if met else 'MISSED'}")
    print(
        result_line(
            "coldstart",
            floor_ms=round(floor_ms, 1),
            worst=worst,
            worst_ms=round(ratios[worst] * floor_ms, 1),
            ratio=round(ratios[worst], 2),
            **{f"{name}_ratio": round(r, 2) for name, r in ratios.items()},
            targets_met=met,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
