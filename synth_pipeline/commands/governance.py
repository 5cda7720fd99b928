"""Release governance by hand: `approve`, `reject`, `revoke`, `releases list|show|export` and
`retention apply`. Each prints one JSON object; a refused action exits 2 with a one-line
error that says why, and changes nothing. Reads no data values: release records, public
documents and file times only.
"""

from __future__ import annotations

import os
from pathlib import Path

from synth_pipeline.governance.policy import DEFAULT_PATH


def _records(args):
    from synth_pipeline.governance.records import GovernanceRecords
    from synth_pipeline.privacy.ledger_stores import open_store

    return GovernanceRecords(open_store(args.ledger, lock_timeout_s=60.0))


def _policy(args):
    from synth_pipeline.governance.policy import load_governance

    return load_governance(args.governance, required=args.governance != DEFAULT_PATH)


def cmd_approve(args) -> int:
    from synth_pipeline.cli import emit
    from synth_pipeline.governance.releases import approve

    emit(approve(_records(args), _policy(args), run=args.run, by=args.by, note=args.note or ""))
    return 0


def cmd_reject(args) -> int:
    from synth_pipeline.cli import emit
    from synth_pipeline.governance.releases import reject

    emit(reject(_records(args), _policy(args), run=args.run, by=args.by, note=args.note))
    return 0


def cmd_revoke(args) -> int:
    from synth_pipeline.cli import emit
    from synth_pipeline.governance.releases import revoke

    emit(revoke(_records(args), run=args.run, by=args.by, reason=args.reason))
    return 0


def cmd_releases(args) -> int:
    from synth_pipeline.cli import emit
    from synth_pipeline.governance.releases import export

    records = _records(args)
    if args.releases_command == "list":
        emit({"releases": [{k: v for k, v in s.as_dict().items() if k != "events"}
                           for s in records.all_states(args.dataset)]})
    elif args.releases_command == "show":
        emit(records.state(records.find(args.run)).as_dict())
    else:
        emit(export(records, run=args.run, to=args.to, recipient=args.recipient))
    return 0


def cmd_retention(args) -> int:
    from synth_pipeline.cli import emit
    from synth_pipeline.governance.retention import Folders, apply_retention

    folders = Folders(outputs=Path(args.outputs), incoming=Path(args.incoming),
                      references=Path(args.state) / "drop_references", dagster_storage=Path(args.state) / "dagster/storage")
    emit(apply_retention(_records(args), _policy(args).retention, folders, dry_run=args.dry_run))
    return 0


def register(subparsers) -> None:
    def common(p, *, governance=True):
        p.add_argument("--ledger", default=os.environ.get("SYNTH_PIPELINE_LEDGER", "data/state/ledger.duckdb"),
                       help="the ledger holding the release records (default: $SYNTH_PIPELINE_LEDGER, else "
                            "data/state/ledger.duckdb)")
        if governance:
            p.add_argument("--governance", default=DEFAULT_PATH,
                           help=f"the governance policy (default {DEFAULT_PATH})")

    p = subparsers.add_parser("approve", help="approve a staged release (publishes it once the policy's approvals "
                                              "are complete)")
    p.add_argument("run", help="the run id, or its first 8 characters (the run folder's name)")
    p.add_argument("--by", required=True, help="your name, as the governance policy lists it")
    p.add_argument("--note", help="what you checked (recorded with the approval)")
    common(p)
    p.set_defaults(func=cmd_approve)

    p = subparsers.add_parser("reject", help="reject a staged release: it is never published")
    p.add_argument("run")
    p.add_argument("--by", required=True)
    p.add_argument("--note", required=True, help="why (recorded)")
    common(p)
    p.set_defaults(func=cmd_reject)

    p = subparsers.add_parser("revoke", help="mark a published release revoked, in the records and its documents")
    p.add_argument("run")
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    common(p, governance=False)
    p.set_defaults(func=cmd_revoke)

    p = subparsers.add_parser("releases", help="list, show or hand out releases")
    sub = p.add_subparsers(dest="releases_command", required=True)
    listing = sub.add_parser("list", help="every release with its status, approvals and expiry")
    listing.add_argument("dataset", nargs="?")
    show = sub.add_parser("show", help="one release with every event (staged, approvals, exports, revocation)")
    show.add_argument("run")
    out = sub.add_parser("export", help="copy a published release for a recipient named in its terms (recorded)")
    out.add_argument("run")
    out.add_argument("--to", required=True, help="the folder to copy the release into")
    out.add_argument("--recipient", required=True, help="who receives it (one of the terms' recipients)")
    for q in (listing, show, out):
        common(q, governance=False)
    p.set_defaults(func=cmd_releases)

    p = subparsers.add_parser("retention", help="apply the governance policy's retention")
    sub = p.add_subparsers(dest="retention_command", required=True)
    apply = sub.add_parser("apply", help="delete what is kept no longer and record each deletion")
    apply.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    apply.add_argument("--outputs", default="data/outputs")
    apply.add_argument("--incoming", default="data/incoming")
    apply.add_argument("--state", default="data/state")
    common(apply)
    apply.set_defaults(func=cmd_retention)
