"""Retention: delete what the governance policy keeps no longer, and record each deletion.

Reads no data values: it looks at file names and modification times only. What it may
delete, by kind (``policy.RETENTION_KINDS``): the raw drops and their references, Dagster's
stored asset values, candidates and staged releases, models, the internal review, and
published releases. The privacy ledger, the governance records and the instance secret are
never touched: they are not under any of these folders, and the deletion of each file or
folder is itself recorded there (``records.deletions``).

The age of an item is the time since its newest file was last written (a run folder's
``model/`` since training, ``release/`` since publishing or revocation).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from synth_pipeline.evaluation.release import INTERNAL_DIR, RELEASE_DIR, STAGED_DIR
from synth_pipeline.governance.policy import RETENTION_KINDS, RetentionPolicy
from synth_pipeline.governance.records import GovernanceRecords

log = logging.getLogger(__name__)
DAY = 86400.0
CANDIDATE_DIRS = ("candidate", STAGED_DIR)  # under internal/: synthetic rows not (yet) published


@dataclass(frozen=True)
class Folders:
    """Where each kind lives (absolute paths)."""

    outputs: Path
    incoming: Path
    references: Path
    dagster_storage: Path


@dataclass(frozen=True)
class Item:
    kind: str
    path: Path
    release_id: str
    dataset: str
    age_days: float


def _age_days(path: Path, now: float) -> float:
    if path.is_file():
        newest = path.stat().st_mtime
    else:
        stamps = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
        newest = max(stamps) if stamps else path.stat().st_mtime
    return max(0.0, (now - newest) / DAY)


def _run_folders(outputs: Path):
    """(release id, dataset, run folder) for every run under ``<outputs>/<dataset>/<partition>/<run>``."""
    for run in sorted(outputs.glob("*/*/*")):
        if run.is_dir() and not run.name.startswith("."):
            yield "/".join(run.relative_to(outputs).parts), run.relative_to(outputs).parts[0], run


def items(folders: Folders, *, now: float) -> list[Item]:
    """Every item retention governs, with its kind and age."""
    found: list[Item] = []

    def add(kind, path, release_id="", dataset=""):
        found.append(Item(kind, path, release_id, dataset, _age_days(path, now)))

    for path in sorted(folders.incoming.glob("*")):
        if path.is_file() and not path.name.startswith("."):
            add("raw_drops", path)
    for path in sorted(folders.references.rglob("*")):
        if path.is_file():
            add("raw_drops", path)
    for path in sorted(folders.dagster_storage.glob("*/*")):
        add("dagster_copies", path)
    for release_id, dataset, run in _run_folders(folders.outputs):
        internal = run / INTERNAL_DIR
        for name in CANDIDATE_DIRS:
            if (internal / name).exists():
                add("candidates", internal / name, release_id, dataset)
        if (run / "model").exists():
            add("models", run / "model", release_id, dataset)
        if internal.exists():
            for child in sorted(internal.iterdir()):
                if child.name not in CANDIDATE_DIRS:
                    add("internal_review", child, release_id, dataset)
        if (run / RELEASE_DIR).exists():
            add("released_tables", run / RELEASE_DIR, release_id, dataset)
    return found


def apply_retention(records: GovernanceRecords, policy: RetentionPolicy, folders: Folders, *,
                    dry_run: bool = False, now: float | None = None) -> dict:
    """Delete every item older than its kind's retention (kinds without one are kept) and
    record each deletion; ``dry_run`` lists them and deletes nothing."""
    now = time.time() if now is None else now
    due = [i for i in items(folders, now=now)
           if policy.days_for(i.kind) is not None and i.age_days > policy.days_for(i.kind)]
    for item in due if not dry_run else ():
        # A published table, or a staged release that waited past its retention: its record says so,
        # and an approval or export of it is refused from then on.
        state = (records.by_release(item.release_id) if item.kind == "released_tables"
                 or (item.kind == "candidates" and item.path.name == STAGED_DIR) else None)
        if item.path.is_dir():
            shutil.rmtree(item.path)
        else:
            item.path.unlink()
        records.record_deletion(kind=item.kind, path=str(item.path), release_id=item.release_id, dataset=item.dataset,
                                policy_days=policy.days_for(item.kind), age_days=item.age_days)
        if state is not None and state.status in ("published", "awaiting approval", "revoked"):
            what = "published table" if item.kind == "released_tables" else "staged release, never approved,"
            records.append_if(run_id=state.run_id, event="deleted", actor="retention",
                              note=f"{what} deleted after {policy.days_for(item.kind):g} days", check=None)
        log.info("retention: deleted %s %s (%.0f days old, kept %g)", item.kind, item.path.name, item.age_days,
                 policy.days_for(item.kind))
    by_kind = {kind: sum(1 for i in due if i.kind == kind) for kind in RETENTION_KINDS}
    return {"dry_run": dry_run, "deleted" if not dry_run else "would_delete": by_kind,
            "items": [{"kind": i.kind, "path": str(i.path), "age_days": round(i.age_days, 2)} for i in due],
            "policy_days": policy.as_dict()}
