"""The release decision: synthetic rows go to the release folder only when every gate passed
at the model's first audit.

Reads no private values: it copies synthetic rows (post-processing of the DP model) and
records the gate verdicts (names and pass/fail) beside them. The gates themselves decided on
non-DP numbers of the raw rows: that is said in every release, and the numbers stay in the
internal review folder. The decision is taken once per model, at its first audit, and kept
in ``internal/release_decision.json``: a later re-audit (another policy, another holdout
draw) never changes it, so a blocked model cannot be retried into a release; a new release
means a new, charged fit.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

RELEASE_DIR = "release"  # the only folder of a run that is released
INTERNAL_DIR = "internal"  # review material computed on raw rows without DP: never released
STAGED_DIR = "staged_release"  # under internal/: a release whose gates passed, waiting for its approvals
DECISION_FILE = "release_decision.json"
NON_DP_DECISION = ("The decision to release was taken by release gates (utility floors and attack ceilings) "
                   "computed on the raw rows without differential privacy, for internal review; their values are "
                   "not published. Whether a release exists at all is therefore a non-DP function of the data.")


class ReleaseRefused(RuntimeError):
    """A gate failed (or the generator is not DP): the message names each failing gate."""


def refusal(audit: dict, *, generator: str, is_dp: bool) -> str | None:
    """Why the table may not be released, or None when it may."""
    reasons = [g["message"] if g["gate"] in g["message"] else f"{g['gate']}: {g['message']}"
               for g in audit.get("gates", []) if not g["passed"]]
    if not audit.get("gates"):
        reasons.append("no audit gate was evaluated")
    if not is_dp:
        reasons.append(f"dp_guarantee: {generator} is NOT differentially private")
    return "; ".join(reasons) or None


def record_decision(audit: dict, *, generator: str, is_dp: bool, folder: str | Path) -> dict:
    """The model's release decision: taken from ``audit`` at its first audit and written to
    ``<folder>/internal/release_decision.json``; afterwards the recorded one, whatever a new
    audit says. Internal: the reasons quote gate values."""
    path = Path(folder) / INTERNAL_DIR / DECISION_FILE
    if path.is_file():
        return {**json.loads(path.read_text(encoding="utf-8")), "recorded_earlier": True}
    why = refusal(audit, generator=generator, is_dp=is_dp)
    decision = {"released": why is None, "reason": why, "generator": generator, "differentially_private": is_dp,
                "gates": [{"gate": g["gate"], "passed": bool(g["passed"])} for g in audit.get("gates", [])],
                "decided_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "classification": "INTERNAL"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(decision, indent=2), encoding="utf-8")
    return {**decision, "recorded_earlier": False}


def stage_release(synthetic: pd.DataFrame, audit: dict, *, generator: str, is_dp: bool, folder: str | Path,
                  public_documents: dict) -> Path:
    """Stage ``<folder>/internal/staged_release/``: the synthetic table (CSV and Parquet) and
    the public documents (model card, privacy report, compliance statement, as dicts), when the
    model's recorded decision is to release; otherwise raise ``ReleaseRefused`` and stage
    nothing. Publishing (``governance.releases``) adds the approvals and terms and writes
    ``release/``; until then nothing leaves the internal folder."""
    decision = record_decision(audit, generator=generator, is_dp=is_dp, folder=folder)
    if not decision["released"]:
        later = (" (decided at this model's first audit: a re-audit never releases it; a new release needs a "
                 "new, charged fit)") if decision["recorded_earlier"] else ""
        raise ReleaseRefused(f"not released: {decision['reason']}{later}")
    staged = Path(folder) / INTERNAL_DIR / STAGED_DIR
    staged.mkdir(parents=True, exist_ok=True)
    synthetic.to_csv(staged / "synthetic.csv", index=False)
    synthetic.to_parquet(staged / "synthetic.parquet", index=False)
    (staged / "public_documents.json").write_text(json.dumps(public_documents, indent=2, ensure_ascii=False,
                                                             default=str), encoding="utf-8")
    return staged
