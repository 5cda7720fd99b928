"""The audit suite: every metric on (real train, real holdout, synthetic), then the gates.

Reads private values, not DP: the results are internal review material, aggregated, and
every report marks them as such (docs/privacy.md, invariant 4).
"""

from __future__ import annotations

import logging
import time

import pandas as pd
import sklearn

from synth_pipeline.evaluation.attribute_inference import attribute_inference
from synth_pipeline.evaluation.detection import detection
from synth_pipeline.evaluation.fidelity import association_retention, quality
from synth_pipeline.evaluation.features import AuditInputError
from synth_pipeline.evaluation.gates import AuditPolicy, evaluate_gates
from synth_pipeline.evaluation.linkage import inference, linkability
from synth_pipeline.evaluation.membership import membership_inference
from synth_pipeline.evaluation.privacy_risk import dcr
from synth_pipeline.evaluation.singling_out import singling_out
from synth_pipeline.evaluation.subgroups import category_coverage, subgroup_errors
from synth_pipeline.evaluation.utility import label_scores, tstr_summary
from synth_pipeline.progress import phase
from synth_pipeline.schema import TableSchema

log = logging.getLogger(__name__)
NOTE = "computed on private data for internal review; not differentially private"


WORKING_MEMORY_MB = 64


def evaluate_synthetic(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
              policy: AuditPolicy, seed: int = 0, max_rows: int = 20_000) -> dict:
    """Every audit metric and every release gate. Reads private values, not DP; internal, aggregated.

    ``holdout`` is the real split no generator saw. Every metric is seeded by ``seed``;
    model fits use at most ``max_rows`` rows per side; nearest-neighbour attacks use at most
    5,000 targets per side and look them up in at most 20,000 synthetic rows (copies of
    training rows left out dilute those attacks; the exact-match share covers every row). A metric that cannot be computed on these frames holds
    ``{"error": why}`` (its gate fails); one the schema makes moot holds ``{"skipped": why}``.

    The returned dict (JSON-ready; only aggregates, never a row or a value):

    - ``dp``: False, ``note``: that the audit is not DP and internal.
    - utility: ``quality`` {quality_score, column_shapes, column_pair_trends, per_column
      {column: score}, worst_pairs {"a|b": score}}; ``associations`` {retention,
      associated_pairs, min_dependence, weakest_pairs {"a|b": score}}; ``detection`` {auc, auc_ci, score,
      model, rows_per_side, folds}; ``tstr`` {label, trtr_auc, tstr_auc, auc_ratio,
      trtr/tstr accuracy and f1, logistic_auc_ratio, models {hist_gradient_boosting |
      logistic_regression: {trtr, tstr: {auc, accuracy, f1}, auc_ratio}}}.
    - rare events and subgroups: ``coverage`` {mean, min, per_column}; ``subgroups``
      {max_marginal_error, min_group_rows_gated, columns {sensitive column: {groups,
      missing_in_synthetic, worst_marginal_error, smallest_groups and worst_groups: [{group
      (declared category), real_rows, synthetic_rows, share_error, marginal_error,
      tstr_auc, trtr_auc}]}}}.
    - privacy: ``dcr`` {dcr_share, dcr_ratio, exact_match_share, nndr_median, median_dcr_train,
      median_dcr_holdout, reference_rows, synthetic_rows_scored}; ``membership`` {auc,
      auc_ci, members, non_members, reference_rows, attack}; ``attribute_inference``
      {max_advantage, targets_per_side, model, columns {column: {members_accuracy,
      non_members_accuracy, baseline_accuracy, advantage, known_columns}}};
      ``singling_out`` {risk, targets_per_side, univariate and multivariate: {risk, ci,
      attack_rate, control_rate, attacks, controls}}; ``linkability`` {risk, ci,
      attack_rate, control_rate, attacks, controls, columns_per_side, n_neighbors};
      ``inference`` {risk, columns {column: {risk, ci, attack_rate, control_rate, attacks,
      controls, baseline_rate}}}.
    - ``seconds`` {section: wall time}; ``gates``: [{gate, metric, value, threshold, passed,
      message}] in the order of ``gates.GATES``; ``passed``: every gate passed.
    """
    if len(synthetic) < 1:
        raise AuditInputError("the synthetic table has no rows: nothing to audit")
    if len(real_train) < 1 or len(holdout) < 2:
        raise AuditInputError("the audit needs at least 1 training row and 2 holdout rows")
    common = {"real_train": real_train, "holdout": holdout, "synthetic": synthetic, "schema": schema, "seed": seed}
    metrics: dict = {"dp": False, "note": NOTE}
    seconds: dict = {}

    def section(number: int, name: str, compute) -> None:
        start = time.perf_counter()
        # scikit-learn's pairwise chunks may take 1 GB by default: 64 MB bounds them for larger
        # tables (on Adult no change was measured: BENCHMARKS.md, "The whole `synthesize` under 0.5 GB")
        with phase(log, "evaluation", name, number=number, total=len(sections)), \
                sklearn.config_context(working_memory=WORKING_MEMORY_MB):  # metric names and timing only
            try:
                metrics[name] = compute()
            except AuditInputError as exc:  # the frames cannot support this metric: say why, fail its gate
                metrics[name] = {"error": str(exc)}
            except ValueError as exc:  # a library's message may quote a value (docs/privacy.md, invariant 5): keep its type only
                metrics[name] = {"error": f"{name} could not be computed ({type(exc).__name__}; message withheld)"}
        seconds[name] = round(time.perf_counter() - start, 3)

    scores = {}

    def utility() -> dict:
        if schema.label is None:
            return {"skipped": "the schema declares no label column"}
        scores["label"] = label_scores(**common, max_rows=max_rows)
        return tstr_summary(scores["label"])

    sections = {  # in this order: subgroups reuses the label scores of tstr
        "quality": lambda: quality(holdout, synthetic, schema),
        "associations": lambda: association_retention(real_train, synthetic, schema, seed=seed),
        "detection": lambda: detection(real=holdout, synthetic=synthetic, schema=schema, seed=seed,
                                       max_rows=max_rows),
        "tstr": utility,
        "coverage": lambda: category_coverage(real_train, synthetic, schema),
        "subgroups": lambda: subgroup_errors(real=holdout, synthetic=synthetic, schema=schema,
                                             scores=scores.get("label")),
        "dcr": lambda: dcr(**common),
        "membership": lambda: membership_inference(**common),
        "attribute_inference": lambda: attribute_inference(**common),
        "singling_out": lambda: singling_out(**common),
        "linkability": lambda: linkability(**common),
        "inference": lambda: inference(**common),
    }
    for number, (name, compute) in enumerate(sections.items(), start=1):
        section(number, name, compute)
    metrics["seconds"] = seconds
    gates = evaluate_gates(metrics, policy)
    metrics["gates"] = [g.as_dict() for g in gates]
    metrics["passed"] = all(g.passed for g in gates)
    return metrics
