"""``damdrift report``: read a local reports folder (what ``damdrift check --out DIR`` writes).

show <subscriber>   the subscriber's latest check as a table (id or target host)
diff <old> <new>    what changed between two checks (run folders or summary.json paths)
open <run>          the check's HTML report: its path, or a fresh one written to --out
pull --bucket B     a deployed stack's reports, from its bucket into the folder the others read
overview            each publisher's overview.html (every subscriber's latest status): its path
serve               the report viewer on loopback: opens the links a local check printed
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from damdrift.models.summary import CheckStatus, Summary, counts_table
from damdrift.report.analysis.diff import ChangeClass, PreviousRun, RunDiff, compare
from damdrift.report.rendering.html import render_report
from damdrift.report.rendering.notice import mismatches_text, since_text
from damdrift.report.rendering.notification import counts_lines
from damdrift.report.rendering.overview import OVERVIEW_FILENAME, ROW_FILENAME, OverviewRow, render_overview
from damdrift.report_layout import ROOT
from damdrift_cli.exit_status import TOOL_FAILED
from damdrift_cli.local import viewer as local_viewer
from damdrift_cli.local.pull import PullError, pull_reports
from damdrift_cli.local.reports import (
    DEFAULT_REPORTS,
    ReportsError,
    Run,
    latest_run,
    resolve_run,
    resolve_runs,
    subscriber_directories,
    trend,
)

EXIT_OK, EXIT_FAILED = 0, TOOL_FAILED


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="show, compare and open stored reports (a folder written by `damdrift check --out`)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="report_command", required=True, metavar="COMMAND")

    show = commands.add_parser(
        "show",
        help="the subscriber's latest check as a table",
        description="The latest check of a subscriber.",
    )
    show.add_argument("subscriber", help="subscriber id, or its target host")
    _reports_option(show)
    _publisher_option(show)
    show.set_defaults(run=run_show)

    diff = commands.add_parser(
        "diff",
        help="what changed between two checks",
        description="NEW, RESOLVED and UNCHANGED records from the OLD check to the NEW one.",
    )
    diff.add_argument(
        "old",
        help="the earlier check: its folder, summary.json or key; or a subscriber (id or target host): "
        "its latest check compared with the one before",
    )
    diff.add_argument("new", nargs="?", help="the later check (default: OLD's subscriber's latest)")
    _reports_option(diff)
    _publisher_option(diff)
    diff.add_argument("--limit", type=int, default=10, help="records listed per class (default 10)")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON (diff.json's format)")
    diff.set_defaults(run=run_diff)

    open_ = commands.add_parser(
        "open",
        help="the check's HTML report: prints its path",
        description="Prints the path of the check's report.html; with --out, writes a fresh one there "
        "(also for checks stored without one).",
    )
    open_.add_argument(
        "check",
        metavar="RUN",
        help="the check: its folder, summary.json or key; or a subscriber (id or target host): its latest",
    )
    _reports_option(open_)
    _publisher_option(open_)
    open_.add_argument("--out", type=Path, help="write the HTML report to this file")
    open_.add_argument("--trend", type=int, default=30, help="checks in the trend chart (default 30)")
    open_.set_defaults(run=run_open)

    pull = commands.add_parser(
        "pull",
        help="a deployed stack's reports, from its bucket into a local folder",
        description="Copies reports/ of the stack's report bucket (output ReportBucketName) into --out, in "
        "the layout `damdrift report show|diff|open` read; a second pull fetches only what changed. "
        "Uses your AWS credentials (s3:ListBucket and s3:GetObject on the bucket).",
    )
    pull.add_argument("--bucket", required=True, help="the report bucket (the stack's ReportBucketName)")
    pull.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REPORTS,
        help=f"the local reports folder (default {DEFAULT_REPORTS}, where `report show` looks)",
    )
    pull.add_argument("--publisher", help="only this publisher's reports (its host name)")
    pull.add_argument(
        "--region", help="the bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION or ~/.aws/config's)"
    )
    pull.add_argument("--profile", help="the AWS CLI profile to use (default: AWS_PROFILE, else 'default')")
    pull.set_defaults(run=run_pull)

    overview = commands.add_parser(
        "overview",
        help="the publisher's overview page: prints its path",
        description="Renders DIR/reports/<publisher>/overview.html afresh from every subscriber's row in the "
        "folder (what the last check of each wrote) and prints its path.",
    )
    overview.add_argument("--publisher", help="only this publisher (default: every publisher in the folder)")
    _reports_option(overview)
    overview.set_defaults(run=run_overview)

    serve = commands.add_parser(
        "serve",
        help="the report viewer on 127.0.0.1: opens the links `damdrift check` printed",
        description="Serves the reports folder through the report viewer (the function URL's code) on "
        "loopback, one request at a time, for --for seconds: the report and overview links a local "
        "check printed open in a browser until they expire. Deleting DIR/.viewer-key revokes them.",
    )
    _reports_option(serve)
    serve.add_argument(
        "--port", type=int, default=local_viewer.DEFAULT_PORT, help="loopback port (default %(default)s)"
    )
    serve.add_argument(
        "--for", dest="seconds", type=float, default=3600, help="stop after this many seconds (default 3600)"
    )
    serve.set_defaults(run=run_serve)


def _reports_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reports",
        type=Path,
        default=DEFAULT_REPORTS,
        help=f"the folder damdrift check wrote (its out option; default: {DEFAULT_REPORTS}; "
        "make demo's is reports-demo)",
    )


def _publisher_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--publisher", help="only this publisher's checks (a subscriber checked against several needs it)"
    )


def run_show(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        directories = subscriber_directories(args.reports, args.subscriber)
        if args.publisher is not None:
            directories = [d for d in directories if d.parent.name == args.publisher]
        runs = [run for run in (latest_run(d) for d in directories) if run is not None]
    except ReportsError as exc:
        print(f"damdrift report show: {exc}", file=err)
        return EXIT_FAILED
    if not runs:
        print(f"damdrift report show: no checks stored for {args.subscriber!r}", file=err)
        return EXIT_FAILED
    runs.sort(key=lambda run: run.summary.finished_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    if len(runs) > 1:
        publishers = ", ".join(run.summary.publisher for run in runs)
        print(
            f"{args.subscriber} was checked against {len(runs)} publishers; the latest check of each, newest "
            f"first: {publishers} (--publisher shows one)",
            file=err,
        )
    for run in runs:
        _print_run(run, out)
    return EXIT_OK


def _print_run(run: Run, out: TextIO) -> None:
    summary = run.summary
    print(f"{summary.status:<8} {summary.target_host or summary.subscriber_id}", file=out)
    for label, value in (
        ("Publisher", summary.publisher),
        ("Subscriber", summary.subscriber_id),
        ("Check", f"{summary.execution}, finished {_when(summary)}"),
        ("Mismatches", _mismatches(summary)),
    ):
        print(f"  {label + ':':<16}{value}", file=out)
    if summary.changes is not None:
        print(f"  {'Since previous:':<16}{since_text(summary.changes)}", file=out)
    if summary.error is not None:
        print(f"  {'Error:':<16}{summary.error.type}: {summary.error.message}", file=out)
    diff = run.diff()
    if summary.counts:
        print(file=out)
        for line in counts_lines(summary, diff):
            print(f"  {line}", file=out)
    if summary.ignore_rules is not None and summary.ignore_rules.expired:
        print(f"\n  Expired ignore rules: {len(summary.ignore_rules.expired)} (see summary.json)", file=out)
    html = f" (HTML: {run.html})" if run.html.is_file() else ""
    print(f"\n  Report: {run.directory}/{html}", file=out)


def run_diff(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        old, new = _diff_pair(args)
        diff = compare(
            new.summary.execution,
            new.sorted_keys(),
            new.records,
            previous=PreviousRun(
                execution=old.summary.execution,
                summary_key=str(old.directory / "summary.json"),
                status=old.summary.status,
                finished_at=old.summary.finished_at,
                total=old.summary.total,
            ),
            previous_keys=old.sorted_keys(),
            previous_records=lambda: open(old.records, "rb"),  # noqa: SIM115 - compare() closes it
            sample_cap=max(args.limit, 0),
        )
    except (ReportsError, OSError, ValueError) as exc:
        print(f"damdrift report diff: {exc}", file=err)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(diff.model_dump(by_alias=True, mode="json"), indent=2, ensure_ascii=False), file=out)
        return EXIT_OK
    print(f"From {old.summary.execution} ({old.directory})", file=out)
    print(f"  to {new.summary.execution} ({new.directory})", file=out)
    print(
        f"\n  +{diff.new.total} new, -{diff.resolved.total} resolved, {diff.unchanged.total} unchanged"
        + (f" ({diff.collisions} hash collisions told apart)" if diff.collisions else ""),
        file=out,
    )
    _print_classes(diff, out)
    for title, changes in (("New", diff.new), ("Resolved", diff.resolved)):
        _print_samples(title, changes, out)
    return EXIT_OK


def _diff_pair(args: argparse.Namespace) -> tuple[Run, Run]:
    """(OLD, NEW) as given; a subscriber alone: its check before the latest, and the latest."""
    if args.new is not None:
        return resolve_run(args.reports, args.old, args.publisher), resolve_run(
            args.reports, args.new, args.publisher
        )
    runs = resolve_runs(args.reports, args.old, args.publisher)
    if len(runs) < 2:
        raise ReportsError(f"{args.old!r} has one stored check: give NEW too, or check again first")
    new = resolve_run(args.reports, args.old, args.publisher)  # latest.json's: an absolute path
    return [run for run in runs if run.directory.resolve() != new.directory.resolve()][-1], new


def _print_classes(diff: RunDiff, out: TextIO) -> None:
    merged: dict[str, dict[str, int]] = {}
    for changes in (diff.new, diff.resolved, diff.unchanged):
        for rtype, actions in changes.counts.items():
            for action in actions:
                merged.setdefault(rtype, {})[action] = 0
    if not merged:
        return
    print(f"\n  {'Record type':<26} {'Action':<8} {'New':>8} {'Resolved':>9} {'Unchanged':>10}", file=out)
    for rtype, action, _n in counts_table(merged):
        cells = [c.counts.get(rtype, {}).get(action, 0) for c in (diff.new, diff.resolved, diff.unchanged)]
        print(f"  {rtype:<26} {action:<8} {cells[0]:>8} {cells[1]:>9} {cells[2]:>10}", file=out)


def _print_samples(title: str, changes: ChangeClass, out: TextIO) -> None:
    if not changes.samples:
        return
    print(f"\n  {title} ({len(changes.samples)} of {changes.total}):", file=out)
    for sample in changes.samples:
        print(f"    {sample.record_type} {sample.record_action} {sample.record_id}", file=out)


def run_open(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        run = resolve_run(args.reports, args.check, args.publisher)
        if args.out is None and run.html.is_file():
            print(run.html.resolve(), file=out)
            return EXIT_OK
        target = args.out or run.html
        write_html(run, target, args.trend)
    except (ReportsError, OSError, ValueError) as exc:
        print(f"damdrift report open: {exc}", file=err)
        return EXIT_FAILED
    print(target.resolve(), file=out)
    return EXIT_OK


def run_pull(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    import boto3  # only this command talks to AWS

    from damdrift.s3_client import s3_client

    try:
        s3 = s3_client(session=boto3.Session(profile_name=args.profile, region_name=args.region))
        result = pull_reports(s3, args.bucket, args.out, args.publisher)
    except PullError as exc:
        print(f"damdrift report pull: {exc}", file=err)
        return EXIT_FAILED
    for key in result.refused:
        print(
            f"damdrift report pull: skipped {key!r}: it would be written outside {args.out / ROOT}", file=err
        )
    print(
        f"{len(result.downloaded)} files downloaded, {result.unchanged} already up to date, into {args.out}",
        file=out,
    )
    subscribers = sorted({p.parent.name for p in (args.out / "reports").glob("*/*/latest.json")})
    if subscribers:
        reports = [] if args.out == DEFAULT_REPORTS else ["--reports", str(args.out)]
        print(f"subscribers: {', '.join(subscribers)}", file=out)
        print(f"next: {shlex.join(['damdrift', 'report', 'show', subscribers[0], *reports])}", file=out)
    return EXIT_FAILED if result.refused else EXIT_OK


def run_overview(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        pages = refresh_overviews(args.reports, args.publisher)
    except (OSError, ValueError) as exc:
        print(f"damdrift report overview: {exc}", file=err)
        return EXIT_FAILED
    if not pages:
        wanted = f" of publisher {args.publisher}" if args.publisher else ""
        print(
            f"damdrift report overview: no checks{wanted} in {args.reports} (damdrift check --out DIR)",
            file=err,
        )
        return EXIT_FAILED
    for page in pages:
        print(page.resolve(), file=out)
    return EXIT_OK


def refresh_overviews(reports: Path, publisher: str | None = None) -> list[Path]:
    """Renders each publisher's overview.html from the rows its subscribers' checks left in the folder."""
    written = []
    for folder in sorted((reports / "reports").glob("*/")):
        if not folder.is_dir() or (publisher is not None and folder.name != publisher):
            continue
        rows = [
            OverviewRow.model_validate_json(path.read_bytes())
            for path in sorted(folder.glob(f"*/{ROW_FILENAME}"))
        ]
        if rows:
            page = folder / OVERVIEW_FILENAME
            newest = max((r.finished_at for r in rows if r.finished_at), default=None)
            page.write_text(render_overview(folder.name, rows, newest or datetime.now(UTC)), encoding="utf-8")
            written.append(page)
    return written


def run_serve(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if not (args.reports / "reports").is_dir():
        print(f"damdrift report serve: {args.reports} holds no reports (damdrift check --out DIR)", file=err)
        return EXIT_FAILED
    if not 0 < args.seconds <= 24 * 3600:
        print("damdrift report serve: --for must be between 1 and 86400 seconds", file=err)
        return EXIT_FAILED
    try:
        print(
            f"Report viewer on {local_viewer.viewer_url(args.port)} for {args.seconds:.0f} s (Ctrl-C stops)",
            file=out,
            flush=True,
        )
        local_viewer.serve(args.reports, port=args.port, seconds=args.seconds, log=out)
    except OSError as exc:
        print(f"damdrift report serve: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def write_html(
    run: Run, target: Path, trend_limit: int = 30, rerun: str | None = None, subscriber_dam: str | None = None
) -> None:
    """Writes the run's HTML report to ``target``; ``rerun``/``subscriber_dam``: its next steps' check."""
    page = render_report(
        run.summary,
        run.diff(),
        trend(run, trend_limit),
        files=_files(run, target),
        rerun=rerun,
        subscriber_dam=subscriber_dam,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")


def _files(run: Run, target: Path) -> dict[str, str]:
    """Links to the run's files, relative to where the page is written when that is the run's folder."""
    beside = target.resolve().parent == run.directory.resolve()
    names = [path.name for path in sorted(run.directory.iterdir()) if path.is_file() and path != target]
    return {name: name if beside else run.directory.resolve().joinpath(name).as_uri() for name in names}


def _mismatches(summary: Summary) -> str:
    if summary.status is CheckStatus.ERRORED:
        return mismatches_text(summary)  # as the notice and the HTML report say it
    if summary.ignored_total:
        return f"{summary.effective_total} ({summary.ignored_total} ignored, {summary.total} in all)"
    return str(summary.total)


def _when(summary: Summary) -> str:
    finished = summary.finished_at
    return finished.isoformat().replace("+00:00", "Z") if finished else "-"
