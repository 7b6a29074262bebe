"""The `damdrift` console script: one command for people, with a subcommand per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from damdrift_cli.commands import approve, baseline, check, doctor, report, simulate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="damdrift",
        description="Find and report drift between an HCL DX DAM publisher and its staging subscribers.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate.register(subparsers)
    check.register(subparsers)
    report.register(subparsers)
    baseline.register(subparsers)
    approve.register(subparsers)
    doctor.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
