"""`synth-pipeline watermark check --input FILE`: is this table one of our releases?

Tests the file against the watermark key of every release under the outputs folder
(``<outputs>/<dataset>/<partition>/<run8>/release/``), each key derived from the instance
secret; prints one JSON object: "ours" (exit 0) with the release it matches, or "not ours"
(exit 1), with a p-value Bonferroni-corrected over the releases tested. Bad input (a file with
other columns than every release, unreadable or empty; no release; no instance secret) exits
2 and changes nothing. Reads no private data: the file checked and the releases' public model
cards; no key and no value of the file is printed or logged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger("synth_pipeline")


def find_releases(outputs: str | Path, *, secret: bytes) -> list[tuple[str, bytes, object]]:
    """(release id, its watermark key, its public schema) for every release whose model card
    says it is watermarked; the id is the run folder relative to ``outputs``."""
    from synth_pipeline.watermark import WatermarkError, release_key, release_schema

    root = Path(outputs)
    found = []
    for card in sorted(root.glob("*/*/*/release/model_card.json")):
        release_id = card.parent.parent.relative_to(root).as_posix()
        try:
            facts = json.loads(card.read_text(encoding="utf-8"))
            if not (facts.get("watermark") or {}).get("watermarked"):
                continue  # released without a mark (before marks, or no column can carry one): nothing to test
            schema = release_schema(facts)
        except (OSError, ValueError, KeyError, TypeError, WatermarkError) as exc:
            log.warning("release %s: model card unreadable (%s); not tested", release_id, type(exc).__name__)
            continue
        found.append((release_id, release_key(secret, release_id), schema))
    return found


def cmd_watermark_check(args) -> int:
    """Exit 0 "ours", 1 "not ours", 2 on bad input (``UsageError``)."""
    from synth_pipeline.cli import UsageError, emit
    from synth_pipeline.reporting.documents import instance_secret
    from synth_pipeline.watermark import WatermarkError, check_file

    secret_path = Path(args.state) / "instance_secret"
    if not secret_path.is_file():  # never create one here: a check changes nothing
        raise UsageError(f"no instance secret at {secret_path}: this instance has made no release; "
                         "give --state of the instance that made them")
    releases = find_releases(args.outputs, secret=instance_secret(secret_path))
    if not releases:
        raise UsageError(f"no watermarked release under {args.outputs} (looked for <dataset>/<partition>/<run>/"
                         "release/model_card.json); give --outputs of the instance that made them")
    try:
        result = check_file(args.input, releases)
    except WatermarkError as exc:
        raise UsageError(str(exc)) from None
    emit(result)
    return 0 if result["verdict"] == "ours" else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("watermark", help="check whether a table is one of this instance's releases "
                                                "(keyed watermark, no ε)")
    sub = p.add_subparsers(dest="watermark_command", required=True)
    check = sub.add_parser("check", help="test a file against every release's watermark key: 'ours' (exit 0) "
                                         "or 'not ours' (exit 1) with a p-value; bad input exits 2")
    check.add_argument("--input", required=True, help="the table to check (CSV or Parquet)")
    check.add_argument("--outputs", default="data/outputs", help="the outputs folder holding the releases")
    check.add_argument("--state", default="data/state", help="the folder holding the instance secret")
    check.set_defaults(func=cmd_watermark_check)
