"""``damdrift approve``: answer a remediation request (``remediate: ask``) of a deployed stack.

The drift notice names the approval id. This does what the approval link does: it resumes the
waiting execution with approve (default) or ``--deny``, once. ``--list`` shows what is waiting, each
by its reference (the SHA-256 its record is filed under; the id itself is stored nowhere), which
``--approval-id`` also takes. It uses your AWS credentials (the usual boto3 chain): it reads and
deletes ``approvals/*`` of the report bucket and calls ``states:SendTaskSuccess``. A deployed
stack's bucket policy lets only its two approval roles touch ``approvals/*``, so against a deployed
stack use the notice's link; this command answers the local run's requests.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from damdrift.errors import ApprovalError
from damdrift_cli.exit_status import TOOL_FAILED

if TYPE_CHECKING:
    from damdrift.remediation.approval import PendingApproval


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "approve",
        help="approve or deny a remediation request of a deployed stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--approval-id", help="the id the drift notice names, or the reference --list shows")
    parser.add_argument("--deny", action="store_true", help="deny instead of approve")
    parser.add_argument("--list", action="store_true", help="list the requests waiting for an answer")
    parser.add_argument("--bucket", required=True, help="the stack's report bucket (output ReportBucketName)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    import boto3

    from damdrift.remediation.approval import ApprovalStore
    from damdrift.s3_client import s3_client

    store = ApprovalStore(s3_client(args.region), args.bucket)
    if args.list:
        for pending in store.pending():
            print(describe(pending), file=out)
        return 0
    if not args.approval_id:
        print("damdrift approve: give --approval-id (or --list)", file=err)
        return TOOL_FAILED
    try:
        pending = store.answer_listed(
            boto3.client("stepfunctions", region_name=args.region),
            args.approval_id,
            approved=not args.deny,
            decided_by=f"damdrift approve ({getpass.getuser()}@{socket.gethostname()})",
            now=datetime.now(UTC),
        )
    except ApprovalError as exc:
        print(f"damdrift approve: {exc.message}", file=err)
        return TOOL_FAILED
    print(f"{'Denied' if args.deny else 'Approved'}: {describe(pending)}", file=out)
    return 0


def describe(pending: PendingApproval) -> str:
    subscriber = pending.target_host or pending.subscriber_id
    return (
        f"{pending.approval_id or pending.handle}  resync {subscriber} from {pending.publisher} "
        f"({pending.mismatches} mismatches; execution {pending.execution}; "
        f"expires {pending.expires_at:%Y-%m-%d %H:%M} UTC)"
    )
