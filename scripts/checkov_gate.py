"""Reads checkov's JSON report (stdin) and fails unless every check passed or was skipped with a reason.

checkov alone exits 0 on a template it could not parse; this also fails on parsing errors and on a
scan that saw too few resources to be the template we meant.

    checkov -f template.yaml -o json | python scripts/checkov_gate.py LABEL MIN_RESOURCES
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    label, minimum = argv[0], int(argv[1])
    report = json.load(sys.stdin)
    reports = report if isinstance(report, list) else [report]
    failed, problems = 0, []
    for part in reports:
        summary = part.get("summary", {})
        results = part.get("results", {})
        print(
            f"checkov {label}: passed {summary.get('passed')}, failed {summary.get('failed')}, "
            f"skipped {summary.get('skipped')}, resources {summary.get('resource_count')}, "
            f"parsing errors {summary.get('parsing_errors')}"
        )
        for check in results.get("failed_checks", []):
            failed += 1
            problems.append(f"  FAILED {check['check_id']} {check['resource']}: {check['check_name']}")
        for check in results.get("skipped_checks", []):
            comment = (check.get("check_result", {}).get("suppress_comment") or "").strip()
            if len(comment) < 20:
                problems.append(f"  SKIPPED WITHOUT A REASON {check['check_id']} {check['resource']}")
        if summary.get("parsing_errors"):
            problems.append(f"  {summary['parsing_errors']} parsing error(s)")
        if int(summary.get("resource_count", 0)) < minimum:
            problems.append(
                f"  only {summary.get('resource_count')} resources scanned, expected >= {minimum}"
            )
    for line in problems:
        print(line)
    return 1 if problems or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
