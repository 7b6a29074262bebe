"""``report.html``: one check, readable by a person, in one self-contained file.

No external asset (styles, two inline SVG charts and a few lines of script are in the file), so it
opens through the report viewer's link, from a mail attachment or from disk alike. Every value that
came from DX or from a rules file is HTML-escaped text; the script holds no data (it sorts the
tables' cells in the DOM), and a Content-Security-Policy allows only that script, by its hash: even a
value that slipped through escaping could not load or run anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from damdrift.models.summary import CheckStatus, ReportKeys, Summary, counts_table
from damdrift.report.analysis.diff import (
    DIFF_FILENAME,
    NEW_FILENAME,
    RESOLVED_FILENAME,
    ChangeClass,
    RecordSample,
    RunDiff,
)
from damdrift.report.ingest.writer import CSV_FILENAME, RECORDS_FILENAME
from damdrift.report.rendering.next_steps import NextStep, error_hint, next_steps
from damdrift.report_layout import SUMMARY_FILENAME
from damdrift.report_page import CONTENT_SECURITY_POLICY, SORT_SCRIPT

_ACTION_COLOURS = {"CREATE": "#2f6fb0", "UPDATE": "#e08a1e", "DELETE": "#c0392b"}
_OTHER_COLOUR = "#7f8c8d"
_STATUS_COLOURS = {
    CheckStatus.IN_SYNC: "#2e8b57",
    CheckStatus.DRIFT: "#c0392b",
    CheckStatus.ERRORED: "#7f8c8d",
}
_TREND_ERRORED = "#cfd4da"  # a pale full-height bar: no answer, not "0"
_CHART_WIDTH = 860
_LABEL_WIDTH = 230

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a}
body{background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px}
header{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:2px 10px;font-weight:600;margin-right:8px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0 0}
.facts dt{color:#5c6670}.facts dd{margin:0}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:4px 20px 16px;margin-top:16px}
.numbers{display:flex;gap:24px;flex-wrap:wrap}.numbers div{min-width:110px}
.numbers b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff2;vertical-align:top}
td.id{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
td.num,th.num{text-align:right}
table.sortable th{cursor:pointer;user-select:none;background:#f0f2f5}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.note{color:#5c6670;font-size:13px}.error{white-space:pre-wrap;background:#fff4f2;padding:8px}
pre{white-space:pre-wrap;background:#f4f6f8;padding:6px;margin:4px 0}
svg text{font:12px system-ui,sans-serif;fill:#1d232a}
"""


@dataclass(frozen=True)
class TrendPoint:
    """One earlier (or this) check of the subscriber, for the trend chart."""

    execution: str
    finished_at: datetime | None
    status: CheckStatus
    mismatches: int  # not ignored
    ignored: int = 0
    new: int | None = None
    resolved: int | None = None

    @classmethod
    def of(cls, summary: Summary) -> TrendPoint:
        changes = summary.changes
        compared = changes is not None and changes.previous_execution is not None
        return cls(
            execution=summary.execution,
            finished_at=summary.finished_at,
            status=summary.status,
            mismatches=summary.effective_total,
            ignored=summary.ignored_total,
            new=changes.effective_new if changes is not None and compared else None,
            resolved=changes.effective_resolved if changes is not None and compared else None,
        )


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def report_page(summary: Summary, diff: RunDiff | None, earlier: Sequence[Summary], runs: int) -> bytes:
    """``report.html`` as stored beside the check's files: the page (its trend the newest ``runs``
    checks, ``earlier`` newest first) linking to the files ``summary.files`` names, in UTF-8."""
    stored = summary.files or ReportKeys()
    candidates = (
        ("All records (JSON Lines, as DX sent them)", RECORDS_FILENAME, stored.records),
        ("All records (CSV)", CSV_FILENAME, stored.csv),
        ("New records (JSON Lines)", NEW_FILENAME, stored.new),
        ("Resolved records (JSON Lines)", RESOLVED_FILENAME, stored.resolved),
        ("What changed (diff.json)", DIFF_FILENAME, stored.diff),
        ("Summary (summary.json)", SUMMARY_FILENAME, stored.summary),
    )
    # Relative links: they work beside the report, in S3 as in a downloaded folder.
    files = {label: name for label, name, key in candidates if key}
    page = render_report(summary, diff, trend_points(summary, earlier, runs), files=files)
    # A lone surrogate DX sent (JSON "\ud800") has no UTF-8 form: the page shows U+FFFD instead.
    return _LONE_SURROGATE.sub("\ufffd", page).encode("utf-8")


def trend_points(current: Summary, earlier: Sequence[Summary], runs: int) -> list[TrendPoint]:
    """The newest ``runs`` checks, ``current`` included, oldest first (``earlier`` is newest first)."""
    points = [TrendPoint.of(summary) for summary in earlier[: max(runs - 1, 0)]]
    return [*reversed(points), TrendPoint.of(current)] if runs else []


def render_report(
    summary: Summary,
    diff: RunDiff | None = None,
    trend: Sequence[TrendPoint] = (),
    *,
    files: dict[str, str] | None = None,
    rerun: str | None = None,
    subscriber_dam: str | None = None,
) -> str:
    """The whole page. ``trend`` is oldest first; ``files`` maps a label to a link (relative: the
    report's own folder, locally or in S3). ``rerun`` and ``subscriber_dam`` are the next steps'
    (:func:`~damdrift.report.rendering.next_steps.next_steps`): a local check knows the options it ran
    with."""
    # What other modules work out for the page first, then the page from them, section by section.
    steps = next_steps(summary, rerun=rerun, subscriber_dam=subscriber_dam)
    counts = counts_table(summary.counts)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(_title(summary))}</title><style>{_STYLE}</style></head><body><main>",
        _header(summary),
        _numbers(summary),
    ]
    if summary.error is not None:
        parts.append(_error(summary))
    parts.append(_next_steps(steps))
    parts.append(_remediation(summary))
    parts.append(_drift_age(summary, diff))
    if summary.counts:
        parts.append(_section("Records by type and action", _by_type_chart(summary, counts), "chart"))
    if len(trend) > 1:
        parts.append(_section(f"Trend: the last {len(trend)} checks", _trend_chart(trend), "trend"))
    if diff is not None:
        parts += _change_sections(diff)
    parts.append(_rules(summary))
    if files:
        items = "".join(
            f'<li><a href="{_text(link)}">{_text(label)}</a></li>' for label, link in files.items()
        )
        parts.append(_section("Files", f"<ul>{items}</ul>", "files"))
    parts.append(f"</main><script>{SORT_SCRIPT}</script></body></html>\n")
    return "\n".join(part for part in parts if part)


def _title(summary: Summary) -> str:
    return f"{summary.status} {summary.publisher} -> {summary.target_host or summary.subscriber_id}"


def _header(summary: Summary) -> str:
    colour = _STATUS_COLOURS[summary.status]
    facts = [
        ("Publisher", summary.publisher),
        ("Subscriber", summary.subscriber_id),
        ("Target host", summary.target_host or "-"),
        ("Execution", summary.execution),
        ("Started", _when(summary.started_at)),
        ("Find started", _when(summary.find_started_at)),
        ("Find completed", _when(summary.find_completed_at)),
        (
            "Find took",
            f"{summary.find_duration_seconds:.1f} s" if summary.find_duration_seconds is not None else "-",
        ),
        ("Status polls", str(summary.poll_count) if summary.poll_count is not None else "-"),
        ("Finished", _when(summary.finished_at)),
    ]
    rows = "".join(f"<dt>{_text(label)}</dt><dd>{_text(value)}</dd>" for label, value in facts)
    partial = ' <span class="note">(partial report)</span>' if summary.partial else ""
    return (
        f'<header><h1><span class="badge" id="status" style="background:{colour}">'
        f"{_text(summary.status.replace('_', ' '))}</span>"
        f"{_text(summary.target_host or summary.subscriber_id)}{partial}</h1>"
        f'<dl class="facts">{rows}</dl></header>'
    )


def _numbers(summary: Summary) -> str:
    unknown = summary.status is CheckStatus.ERRORED and not summary.partial  # "0" would read as in sync
    cells: list[tuple[str, object]] = [
        ("Mismatches", "unknown" if unknown else summary.effective_total),
        ("Ignored", "unknown" if unknown else summary.ignored_total),
    ]
    changes = summary.changes
    note = ""
    if changes is not None and changes.error is None and changes.previous_execution is not None:
        cells += [("New", changes.new), ("Resolved", changes.resolved), ("Unchanged", changes.unchanged)]
        when = f" ({_when(changes.previous_finished_at)})" if changes.previous_finished_at else ""
        note = f"Compared with {_text(changes.previous_execution)}{when}."
    elif changes is not None and changes.error is not None:
        note = f"Not compared with the previous check: {_text(changes.error)}"
    elif changes is not None:
        note = "The first check of this subscriber: every record is new."
    items = "".join(f'<div><b id="n-{_text(k.lower())}">{_text(v)}</b>{_text(k)}</div>' for k, v in cells)
    if unknown:
        note = "The check did not finish: what DX would have reported is unknown."
    return _section("Summary", f'<div class="numbers">{items}</div><p class="note">{note}</p>', "summary")


def _error(summary: Summary) -> str:
    assert summary.error is not None
    text = summary.error.message
    if summary.error.diagnosis:
        text += "\n\n" + json.dumps(summary.error.diagnosis, indent=2, ensure_ascii=False, default=str)
    body = f"<p><b>{_text(summary.error.type)}</b></p><div class=error>{_text(text)}</div>"
    hint = error_hint(summary.error)
    if hint is not None:
        body += f'<p id="hint"><b>Hint:</b> {_text(hint)}</p>'
    return _section("Error", body, "error")


def _next_steps(steps: Sequence[NextStep]) -> str:
    """A DRIFT check's next steps, as the terminal prints them, for a terminal where the reports
    folder is (the run is named by its key, which ``baseline create`` finds under ``--reports``)."""
    if not steps:
        return ""
    items = "".join(f"<li>{_text(step.what)}:<pre>{_text(step.command)}</pre></li>" for step in steps)
    intro = (
        '<p class="note">Commands for a terminal in the folder where <code>damdrift check</code> ran '
        "or <code>damdrift report pull</code> wrote (the reports folder beneath it is found by the run's "
        "key); from elsewhere, add <code>--reports DIR</code> to <code>baseline create</code>.</p>"
    )
    return _section("Next steps", f'{intro}<ol id="next-steps">{items}</ol>', "next-steps")


def _remediation(summary: Summary) -> str:
    """The verdict of a resync (on a remediation's verifying check only) and what led to it."""
    record = summary.remediation
    if record is None:
        return ""
    verdict = record.verdict or "FAILED"
    facts = [
        ("Verdict", f"{verdict} (remediate: {record.mode})"),
        ("Before resync", f"{record.initial_effective_total} mismatches not ignored"),
        ("After resync", "-" if record.remaining_total is None else f"{record.remaining_total} not ignored"),
        ("Approved by", record.approved_by or "-"),
        ("Resync started", _when(record.resync_started_at)),
    ]
    ops = record.operations
    if ops is not None:
        failed = f" ({', '.join(ops.failed_functions)})" if ops.failed_functions else ""
        facts.append(("Sync operations", f"{ops.succeeded} succeeded, {ops.failed} failed{failed}"))
    if record.initial_summary_key:
        facts.append(("Report before", record.initial_summary_key))
    if record.error:
        facts.append(("Error", record.error))
    rows = "".join(f"<dt>{_text(label)}</dt><dd>{_text(value)}</dd>" for label, value in facts)
    return _section("Remediation", f'<dl class="facts" id="remediation-facts">{rows}</dl>', "remediation")


def _drift_age(summary: Summary, diff: RunDiff | None = None) -> str:
    """For how long the subscriber and each record type have been drifting (damdrift.report.analysis.age)."""
    from damdrift.report.analysis.age import age_text

    age = summary.drift_age
    if age is None or age.checks == 0:
        return ""
    rows = "".join(
        f'<tr><td>{_text(rtype)}</td><td class="num">{type_age.checks}</td>'
        f"<td>{_text(age_text(type_age))}</td>"
        f"<td>{_text(type_age.since_execution or '-')}</td></tr>"
        for rtype, type_age in sorted(age.by_type.items(), key=lambda item: (-item[1].checks, item[0]))
    )
    body = (
        f'<p id="drift-age-subscriber">Drifting since {_text(age_text(age))}, first found by '
        f"{_text(age.since_execution or '-')}.</p>"
        '<table class="sortable" id="table-drift-age"><thead><tr><th>Record type</th>'
        '<th class="num">Checks in a row</th><th>Drifting since</th><th>First found by</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    if diff is not None and diff.oldest:
        records = "".join(
            f"<tr><td>{_text(r.record_type)}</td><td>{_text(r.record_action)}</td>"
            f'<td class="id">{_text(_record_id(r))}</td>'
            f'<td class="num">{r.checks}</td><td>{_text(_when(r.since))}</td></tr>'
            for r in diff.oldest
        )
        body += (
            f"<h3>The {len(diff.oldest)} longest-drifting records</h3>"
            '<table class="sortable" id="table-oldest"><thead><tr><th>Record type</th><th>Action</th>'
            '<th>Record id</th><th class="num">Checks in a row</th><th>Drifting since</th></tr></thead>'
            f"<tbody>{records}</tbody></table>"
        )
    return _section("Drift age", body, "drift-age")


def _record_id(sample: RecordSample) -> str:
    return sample.record_id if isinstance(sample.record_id, str) else json.dumps(sample.record_id)


def _by_type_chart(summary: Summary, counts: Sequence[tuple[str, str, int]]) -> str:
    """Horizontal stacked bars: one per record type, a segment per action (``counts``: in display order)."""
    by_type: dict[str, list[tuple[str, int]]] = {}
    for rtype, action, n in counts:
        by_type.setdefault(rtype, []).append((action, n))
    widest = max(sum(n for _a, n in actions) for actions in by_type.values()) or 1
    scale = (_CHART_WIDTH - _LABEL_WIDTH - 70) / widest
    row_height, top = 26, 28
    height = top + row_height * len(by_type) + 8
    items = [_legend(sorted({a for actions in by_type.values() for a, _n in actions}, key=_action_order))]
    for row, (rtype, actions) in enumerate(by_type.items()):
        y = top + row * row_height
        items.append(f'<text x="0" y="{y + 15}">{_text(_cut(rtype, 30))}</text>')
        x = float(_LABEL_WIDTH)
        for action, n in actions:
            width = max(n * scale, 1.0)
            items.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{row_height - 8}" '
                f'fill="{_ACTION_COLOURS.get(action, _OTHER_COLOUR)}">'
                f"<title>{_text(f'{rtype} {action}: {n}')}</title></rect>"
            )
            x += width
        total = sum(n for _a, n in actions)
        items.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{total}</text>')
    ignored = f" {summary.ignored_total} of them ignored by rules." if summary.ignored_total else ""
    return _svg("chart-by-type", height, items, f"Mismatch records by type and action.{ignored}")


def _legend(actions: Iterable[str]) -> str:
    parts, x = [], float(_LABEL_WIDTH)
    for action in actions:
        parts.append(
            f'<rect x="{x:.0f}" y="4" width="12" height="12" '
            f'fill="{_ACTION_COLOURS.get(action, _OTHER_COLOUR)}"/>'
            f'<text x="{x + 16:.0f}" y="15">{_text(_cut(action, 20))}</text>'
        )
        x += 110
    return "".join(parts)


def _trend_chart(trend: Sequence[TrendPoint]) -> str:
    """Bars of the mismatches (not ignored) per check, oldest left, coloured by status."""
    height, top, bottom, left = 200, 12, 36, 50
    plot_height = height - top - bottom
    highest = max(point.mismatches for point in trend) or 1
    step = (_CHART_WIDTH - left - 10) / len(trend)
    bar = max(min(step * 0.7, 40), 2)
    items = [
        f'<text x="0" y="{top + 10}">{highest}</text>',
        f'<text x="0" y="{top + plot_height}">0</text>',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{_CHART_WIDTH}" y2="{top + plot_height}" '
        'stroke="#aab2bb"/>',
    ]
    for index, point in enumerate(trend):
        x = left + index * step + (step - bar) / 2
        bar_height = max(point.mismatches / highest * plot_height, 2)
        colour = _STATUS_COLOURS[point.status]
        if point.status is CheckStatus.ERRORED:
            bar_height, colour = plot_height, _TREND_ERRORED
        y = top + plot_height - bar_height
        changes = "" if point.new is None else f", +{point.new} new, -{point.resolved} resolved"
        tip = f"{point.execution} ({_when(point.finished_at)}): {point.status}, {point.mismatches} mismatches"
        tip += f", {point.ignored} ignored{changes}"
        items.append(
            f'<rect class="run" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{bar_height:.1f}" '
            f'fill="{colour}"><title>{_text(tip)}</title></rect>'
        )
    for index in sorted({0, len(trend) - 1}):
        point = trend[index]
        x = left + index * step + step / 2
        anchor = "start" if index == 0 else "end"
        label = point.finished_at.strftime("%Y-%m-%d %H:%M") if point.finished_at else point.execution
        items.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{_text(_cut(label, 40))}</text>'
        )
    label = "Mismatches not ignored, per check (green: in sync, red: drift, pale grey: errored, no answer)"
    return _svg("trend", height, items, label)


def _change_sections(diff: RunDiff) -> list[str]:
    compared = diff.previous is not None
    classes: list[tuple[str, str, ChangeClass, str | None]] = [
        ("new", "New records" if compared else "Records (first check: all new)", diff.new, diff.new_file),
        ("resolved", "Resolved records", diff.resolved, diff.resolved_file),
        ("unchanged", "Unchanged records", diff.unchanged, None),
    ]
    sections = []
    for anchor, title, changes, full in classes:
        if not compared and anchor != "new":
            continue
        sections.append(_section(f"{title}: {changes.total}", _record_table(anchor, changes, full), anchor))
    return sections


def _record_table(anchor: str, changes: ChangeClass, full: str | None) -> str:
    if not changes.total:
        return '<p class="note">None.</p>'
    shown = len(changes.samples)
    where = f" All of them: <code>{_text(_basename(full))}</code>." if full else ""
    if anchor == "new" and not full:
        where = " All of them: <code>records.jsonl.gz</code> / <code>report.csv</code>."
    note = f"Showing {shown} of {changes.total}" + (
        f"; {changes.ignored} ignored by rules" if changes.ignored else ""
    )
    rows = "".join(_row(sample) for sample in changes.samples)
    return (
        f'<p class="note">{note}.{where} Click a column to sort.</p>'
        f'<table class="sortable" id="table-{anchor}"><thead><tr><th>Record type</th><th>Action</th>'
        f"<th>Record id</th><th>Ignored by rule</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _row(sample: RecordSample) -> str:
    record_id = sample.record_id if isinstance(sample.record_id, str) else json.dumps(sample.record_id)
    rule = "" if sample.ignored_by is None else str(sample.ignored_by)
    return (
        f"<tr><td>{_text(sample.record_type)}</td><td>{_text(sample.record_action)}</td>"
        f'<td class="id">{_text(record_id)}</td><td class="num">{rule}</td></tr>'
    )


def _rules(summary: Summary) -> str:
    rules = summary.ignore_rules
    if rules is None or (not rules.active and not rules.expired and rules.error is None):
        return ""
    parts = [f"<p>Rules file: <code>{_text(rules.rules_key or '-')}</code>; {rules.active} active rules.</p>"]
    if rules.error is not None:
        parts.append(f'<p class="error">Not applied: {_text(rules.error)}</p>')
    if rules.hits:
        hits = ", ".join(f"rule {_text(index)}: {n}" for index, n in sorted(rules.hits.items()))
        parts.append(f"<p>Records ignored per rule: {hits}.</p>")
    if rules.expired:
        rows = "".join(
            f'<tr><td class="num">{rule.index}</td><td>{_text(rule.rule)}</td><td>{_text(rule.expires)}</td>'
            f"<td>{_text(rule.comment or '')}</td></tr>"
            for rule in rules.expired
        )
        parts.append(
            "<p>Expired rules are no longer applied: renew or remove them.</p>"
            '<table class="sortable" id="table-expired"><thead><tr><th>Rule</th><th>Matches</th>'
            f"<th>Expired</th><th>Comment</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return _section("Ignore rules", "".join(parts), "rules")


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_text(title)}</h2>{body}</section>'


def _svg(element_id: str, height: int, items: list[str], label: str) -> str:
    return (
        f'<svg id="{element_id}" xmlns="http://www.w3.org/2000/svg" width="{_CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_CHART_WIDTH} {height}" role="img" aria-label="{_text(label)}">'
        f"<title>{_text(label)}</title>{''.join(items)}</svg>"
    )


def _action_order(action: str) -> tuple[int, str]:
    order = list(_ACTION_COLOURS)
    return (order.index(action) if action in order else len(order), action)


def _text(value: object) -> str:
    """Any value as HTML text (element content or a quoted attribute): nothing in it is markup."""
    return escape(str(value), quote=True)


def _when(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "-"


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _basename(key: str | None) -> str:
    return (key or "").rsplit("/", 1)[-1]
