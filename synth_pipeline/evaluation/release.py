"""The release decision: synthetic rows go to the release folder only when every gate passed.

Reads no private values: it copies synthetic rows (post-processing of the DP model) and
records the gate verdicts (aggregates) beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

RELEASE_DIR = "release"  # the only folder of a run that is released


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


def write_release(synthetic: pd.DataFrame, audit: dict, *, generator: str, is_dp: bool, folder: str | Path) -> dict:
    """Write ``<folder>/release/synthetic.csv`` (and .parquet, and ``release.json`` with the
    verdicts) when every gate passed; otherwise raise ``ReleaseRefused`` and write nothing."""
    why = refusal(audit, generator=generator, is_dp=is_dp)
    if why:
        raise ReleaseRefused(f"not released: {why}")
    release = Path(folder) / RELEASE_DIR
    release.mkdir(parents=True, exist_ok=True)
    paths = {"csv": release / "synthetic.csv", "parquet": release / "synthetic.parquet",
             "manifest": release / "release.json"}
    synthetic.to_csv(paths["csv"], index=False)
    synthetic.to_parquet(paths["parquet"], index=False)
    manifest = {"rows": len(synthetic), "generator": generator, "differentially_private": is_dp,
                "gates": [{k: g[k] for k in ("gate", "metric", "value", "threshold", "passed")} for g in audit["gates"]],
                "audit_note": audit.get("note")}
    paths["manifest"].write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}
