"""The audit suite: every metric on (real train, real holdout, synthetic), then the gates.

Reads private values, not DP: the results are internal review material, aggregated, and
every report marks them as such (DESIGN.md, invariant 4).
"""

from __future__ import annotations

import pandas as pd

from synth_pipeline.evaluation.fidelity import quality
from synth_pipeline.evaluation.gates import AuditPolicy, evaluate_gates
from synth_pipeline.evaluation.privacy_risk import dcr
from synth_pipeline.evaluation.utility import tstr
from synth_pipeline.schema import TableSchema


def run_audit(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
              policy: AuditPolicy, seed: int = 0) -> dict:
    metrics = {
        "dp": False,
        "note": "computed on private data for internal review; not differentially private",
        "quality": quality(holdout, synthetic, schema),
        "tstr": tstr(real_train=real_train, holdout=holdout, synthetic=synthetic, schema=schema, seed=seed),
        "dcr": dcr(real_train=real_train, holdout=holdout, synthetic=synthetic, schema=schema, seed=seed),
    }
    gates = evaluate_gates(metrics, policy)
    metrics["gates"] = [g.as_dict() for g in gates]
    metrics["passed"] = all(g.passed for g in gates)
    return metrics
