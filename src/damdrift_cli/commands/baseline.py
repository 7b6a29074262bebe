"""``damdrift baseline create``: accept a check's drift as it is, as ignore rules.

The rules ignore exactly the records of that check (by record type, action and id, for its publisher
and subscriber only); later checks stay DRIFT only for drift beyond it, and keep counting the baselined
records as ignored. Upload the file to the report bucket at IGNORE_RULES_KEY (default
config/ignore-rules.json), or pass it to `damdrift check --ignore-file`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from damdrift.report.analysis.baseline import baseline_rules, merged
from damdrift.report.records.ignore import IgnoreRules, IgnoreRulesError
from damdrift_cli.exit_status import TOOL_FAILED
from damdrift_cli.local.reports import DEFAULT_REPORTS, ReportsError, resolve_run

EXIT_OK, EXIT_FAILED = 0, TOOL_FAILED


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="turn a check's drift into ignore rules (a baseline)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="baseline_command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create",
        help="write ignore rules for every record of a check",
        description="Write ignore rules for every record of a check. Without --out they are printed; "
        "an existing --out file keeps its rules and gets the new ones appended.",
    )
    create.add_argument(
        "check",
        metavar="RUN",
        help="the check: its folder, its summary.json or its key (reports/...), or a subscriber (id or "
        "target host) for its latest check",
    )
    create.add_argument(
        "--reports",
        type=Path,
        default=DEFAULT_REPORTS,
        help="the folder damdrift check --out (or report pull) wrote, where keys and subscribers are "
        f"looked up (default: {DEFAULT_REPORTS})",
    )
    create.add_argument("--publisher", help="the publisher, when the subscriber is checked against several")
    create.add_argument("--out", type=Path, help="the rules file to write or add to (default: print)")
    create.add_argument("--comment", help="why this drift is accepted (default: names the check)")
    create.add_argument(
        "--expires",
        type=future_date,
        metavar="YYYY-MM-DD",
        help="the last day the baseline applies, a future date (default: it never expires)",
    )
    create.set_defaults(run=run_create)


def future_date(value: str) -> date:
    """``--expires``: an ISO date (YYYY-MM-DD) from today (UTC) on; anything else says what it wants."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD, e.g. 2026-12-31; got {value!r}"
        ) from None
    today = datetime.now(UTC).date()
    if day < today:
        raise argparse.ArgumentTypeError(f"{value} is in the past: give today ({today}) or a later day")
    return day


def run_create(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        run = resolve_run(args.reports, args.check, args.publisher)
        existing = IgnoreRules.parse(args.out.read_bytes()) if args.out and args.out.exists() else None
        baseline = baseline_rules(run.summary, run.iter_records(), comment=args.comment, expires=args.expires)
    except (ReportsError, IgnoreRulesError, OSError, ValueError) as exc:
        print(f"damdrift baseline create: {exc}", file=err)
        return EXIT_FAILED
    rules = merged(existing, baseline)
    if args.out is None:
        print(rules.dumps(), file=out)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(rules.dumps() + "\n", encoding="utf-8")
    verb = f"added to {args.out}" if existing else (f"written to {args.out}" if args.out else "printed")
    counted = f"{baseline.records} records in {len(baseline.rules)} rules"
    print(f"Baseline of {run.summary.execution}: {counted}, {verb}.", file=err)
    if baseline.skipped:
        print(f"  {baseline.skipped} records without a record id could not be baselined.", file=err)
    return EXIT_OK
