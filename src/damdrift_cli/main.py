"""The `damdrift` console script: one command for people, with a subcommand per job.

Whatever happens, a person sees one sentence naming the cause, never a traceback, and the exit status
tells the truth (see :mod:`damdrift_cli.exit_status`). ``DAMDRIFT_DEBUG=1`` shows the traceback of an
unexpected error, for a bug report.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from damdrift.errors import DamDriftError
from damdrift_cli import exit_status
from damdrift_cli.commands import approve, baseline, check, doctor, report, simulate, subscribers
from damdrift_cli.exit_status import CommandFailed


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and every option's default in its help (unless the help says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if text == argparse.SUPPRESS or "default" in text or not action.option_strings:
            return text
        if default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error exits with TOOL_FAILED: 2 means "a check errored" here,
    and --help shows every default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("formatter_class") in (
            None,
            argparse.HelpFormatter,
            argparse.RawDescriptionHelpFormatter,
        ):
            kwargs["formatter_class"] = _HelpFormatter
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """The error and one hint (argparse's usage block would bury the one line that matters)."""
        self.exit(
            exit_status.TOOL_FAILED,
            f"{self.prog}: error: {message}{self._did_you_mean()}\n"
            f"  (`{self._help_prog()} --help` lists the options)\n",
        )

    def _help_prog(self) -> str:
        """The deepest subcommand typed: argparse reports an unknown option from the top parser, whose
        --help lists no subcommand's options."""
        parser: argparse.ArgumentParser = self
        for arg in getattr(self, "argv", None) or sys.argv[1:]:
            subcommands = next((a.choices for a in parser._actions if isinstance(a.choices, dict)), {})
            parser = subcommands.get(arg, parser)
        return parser.prog

    def _did_you_mean(self) -> str:
        """For a misspelt option (``-dxport``, ``--host-name``): the closest spelling damdrift has, in
        the typed style (dxclient's ``-camelCase`` or ours)."""
        known: dict[str, list[str]] = {}
        for name in sorted(_option_strings(self)):
            known.setdefault(name.lower().replace("-", ""), []).append(name)
        spelled = {name for names in known.values() for name in names}
        for arg in getattr(self, "argv", None) or sys.argv[1:]:
            typed = arg.split("=", 1)[0]
            if not typed.startswith("-") or typed in spelled:
                continue
            close = difflib.get_close_matches(typed.lower().replace("-", ""), known, n=1, cutoff=0.8)
            if close:
                names = known[close[0]]
                same_style = [n for n in names if n.startswith("--") == typed.startswith("--")]
                return f" (did you mean {(same_style or names)[0]}?)"
        return ""


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of the parser and its subcommands (argparse keeps them in ``_actions``)."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(name for name in action.option_strings if len(name) > 2)
        if isinstance(action.choices, dict):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="damdrift",
        description="Find and report drift between an HCL DX DAM publisher and its staging subscribers.",
        epilog="Exit status: 0 all in sync, 1 drift found, 2 a check errored, 3 or more: damdrift itself "
        "could not run (3 bad settings or an unreachable publisher, 4 a bug, 130 interrupted).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate.register(subparsers)
    check.register(subparsers)
    subscribers.register(subparsers)
    report.register(subparsers)
    baseline.register(subparsers)
    approve.register(subparsers)
    doctor.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.argv = list(argv) if argv is not None else sys.argv[1:]  # type: ignore[attr-defined]
    try:
        args = parser.parse_args(argv)
        result: int = args.run(args)
        sys.stdout.flush()
        return result
    except CommandFailed as exc:
        return _fail(exc.message, exc.status)
    except NoCredentialsError:
        return _fail("no AWS credentials found: configure them (aws configure; AWS_PROFILE or --profile)")
    except NoRegionError:
        return _fail(
            "no AWS region: give --region, set AWS_REGION, or set one in ~/.aws/config (aws configure)"
        )
    except (DamDriftError, BotoCoreError, ClientError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted", exit_status.INTERRUPTED)
    except BrokenPipeError:
        # The reader left (`| head`): point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_status.BROKEN_PIPE
    except Exception as exc:  # the last line of defence: one sentence, never a traceback
        if os.environ.get("DAMDRIFT_DEBUG"):
            traceback.print_exc()
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (a bug in damdrift; DAMDRIFT_DEBUG=1 shows where)",
            exit_status.INTERNAL_ERROR,
        )


def _fail(message: str, status: int = exit_status.TOOL_FAILED) -> int:
    with contextlib.suppress(OSError):
        print(f"damdrift: {message}", file=sys.stderr, flush=True)
    return status


def _version() -> str:
    try:
        return version("dam-drift")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
