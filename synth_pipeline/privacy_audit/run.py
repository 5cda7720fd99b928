"""One audit run: canaries in, one fit, scores, guesses, the ε lower bound, the gate.

Reads private values, NOT DP: the training split is fitted once more, with about half of
the canaries inserted. That fit is never released: its model lives in memory and in a
temporary directory that is deleted after scoring, together with its synthetic rows; it
charges no ledger (nothing of it is released), and its only output is an internal
statistic, like the other audit metrics (docs/privacy.md, invariant 4). The result holds counts
and ε figures only: no row, private or synthetic, and no canary value.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from synth_pipeline.privacy.config import MARGINAL_GENERATORS, SynthesisConfig, TrainingPlan, plan_training
from synth_pipeline.privacy.contribution import privacy_unit_of
from synth_pipeline.privacy_audit.bound import DEFAULT_CONFIDENCE, audit_guesses
from synth_pipeline.privacy_audit.canaries import canary_count, make_canaries
from synth_pipeline.privacy_audit.gradient import GradientCanaries
from synth_pipeline.privacy_audit.measurements import MeasurementCanaries
from synth_pipeline.privacy_audit.scoring import black_box_scores, white_box_scores
from synth_pipeline.progress import phase
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers import generator_class

log = logging.getLogger(__name__)

AUDITORS = ("black-box", "white-box", "gradient", "measurement")


def default_auditor(generator: str) -> str:
    """The sharpest auditor of each generator: the white-box canaries in its noisy sums
    (gradients for DP-SGD and its twins, Gaussian measurements for AIM and MST). The
    record-based auditors find almost nothing at release configurations (BENCHMARKS.md)."""
    return "measurement" if generator in MARGINAL_GENERATORS else "gradient"
METHOD = "one-run canary audit (Steinke, Nasr & Jagielski, NeurIPS 2023)"
NOTE = ("internal, non-DP statistic computed on private data (docs/privacy.md, invariant 4): an empirical lower bound "
        "on ε at the stated confidence, not a privacy guarantee; the audit's own model and synthetic rows were "
        "deleted after scoring and never released; no budget was charged")


def audit_gate(*, claimed_epsilon: float | None, lower_bound: float, generator: str) -> tuple[bool, str]:
    """The release gate: the empirical lower bound must not exceed the claimed ε. A correct
    DP mechanism fails it with probability at most 1 − confidence; a generator that claims
    no ε (the non-private twins) never passes."""
    if claimed_epsilon is None:
        return False, (f"{generator} is NOT differentially private: it claims no ε "
                       f"(empirical lower bound ε ≥ {lower_bound:.3g})")
    if lower_bound <= claimed_epsilon:
        return True, f"empirical ε lower bound {lower_bound:.3g} ≤ claimed ε {claimed_epsilon:.3g}"
    return False, (f"empirical ε lower bound {lower_bound:.3g} exceeds the claimed ε {claimed_epsilon:.3g}: "
                   "the DP mechanism leaks more than it claims; do not release, review the generator's DP code")


def _audit_table(train: pd.DataFrame, canaries: pd.DataFrame, included: np.ndarray, names: list[str],
                 seed: int) -> pd.DataFrame:
    table = pd.concat([train[names], canaries.loc[included, names]], ignore_index=True)
    order = np.random.default_rng([seed, 0x5EED]).permutation(len(table))
    return table.iloc[order].reset_index(drop=True)


def run_privacy_audit(*, train: pd.DataFrame, schema: TableSchema, config: SynthesisConfig,
                      auditor: str | None = None, canaries: int | None = None,
                      confidence: float = DEFAULT_CONFIDENCE, seed: int | None = None,
                      synthetic_rows: int | None = None,
                      plan_hook: Callable[[TrainingPlan], TrainingPlan] | None = None) -> dict:
    """Audit ``config.generator`` as configured, on ``train`` plus canaries; returns the result.

    Reads private values (``train``), NOT DP: see the module docstring. Steps: m canaries
    from the public schema (``canary_count``: 1,000 capped at n/5), each inserted with
    probability 1/2 (seeded coin flips); one fit through ``chain.training.fit_generator`` with
    ``plan_training(config, n + inserted)``: the same code path and calibration as a
    release; a score per canary (black box: from ``synthetic_rows`` rows sampled from the
    saved model, default as many as training rows; white box: ``model.record_scores``;
    gradient and measurement: canaries in DP-SGD's noisy sums or the Gaussian measurements);
    ``auditor`` None takes ``default_auditor`` (the sharpest for the generator);
    guesses on the top and bottom scores; the ε lower bound at ``confidence`` with the
    plan's δ. ``plan_hook`` changes the plan after calibration, for tests of the audit
    itself (a deliberately broken mechanism claims ε but trains with, say, no noise).

    The result (counts and ε figures only, for the model card and the privacy report)::

        {"kind": "privacy_audit", "method": str, "generator": str, "differentially_private": bool,
         "auditor": "black-box" | "white-box" | "gradient" | "measurement",
         "claimed_epsilon": float | None,          # the release's target ε; None for a non-DP twin
         "delta": float,                            # δ of the plan, used in the bound
         "empirical_epsilon_lower_bound": float,    # ≥ 0
         "confidence": float,                       # 0.95 by default
         "canaries": int, "canaries_inserted": int, # m, and how many went into the table
         "guesses": int, "correct": int,            # r and v of the best (k+, k−) pair
         "k_plus": int, "k_minus": int, "pairs_tested": int,  # Bonferroni over pairs_tested
         "training_rows": int, "audit_rows": int, "synthetic_rows": int | None,
         "noise_multiplier": float | None, "steps": int,
         "gate": {"passed": bool, "message": str},
         "seed": int, "seconds": float,             # fit + scoring + bound
         "internal_non_dp": True, "note": str}      # invariant 4: internal, not DP, never released
    """
    auditor = auditor or default_auditor(config.generator)
    return run_privacy_audits(train=train, schema=schema, config=config, auditors=(auditor,), canaries=canaries,
                              confidence=confidence, seed=seed, synthetic_rows=synthetic_rows,
                              plan_hook=plan_hook)[0]


def run_privacy_audits(*, train: pd.DataFrame, schema: TableSchema, config: SynthesisConfig,
                       auditors: tuple[str, ...] = AUDITORS, canaries: int | None = None,
                       confidence: float = DEFAULT_CONFIDENCE, seed: int | None = None,
                       synthetic_rows: int | None = None,
                       plan_hook: Callable[[TrainingPlan], TrainingPlan] | None = None) -> list[dict]:
    """``run_privacy_audit`` for several auditors from one fit (the benchmark's way: both
    auditors see the same model and coin flips). One result per auditor, each a valid
    lower bound on its own; ``seconds`` counts the shared fit in each."""
    from synth_pipeline.chain.training import fit_generator, sample_synthetic

    unknown = [a for a in auditors if a not in AUDITORS]
    if unknown or not auditors:
        raise ValueError(f"auditor must be one of {list(AUDITORS)}, got {unknown or 'none'}")
    started = time.perf_counter()
    seed = config.seed if seed is None else seed
    columns = schema.modelled_columns
    names = [c.name for c in columns]
    model_class = generator_class(config.generator)
    if "white-box" in auditors and not hasattr(model_class, "record_scores"):
        raise ValueError(f"generator {config.generator!r} has no per-record score: use the black-box auditor")
    if "gradient" in auditors and config.generator in MARGINAL_GENERATORS:
        raise ValueError(f"gradient canaries audit DP-SGD; {config.generator!r} trains no gradients: use the "
                         "measurement or black-box auditor")
    if "measurement" in auditors and config.generator not in MARGINAL_GENERATORS:
        raise ValueError(f"measurement canaries audit the Gaussian measurements of aim and mst; "
                         f"{config.generator!r} takes none: use the gradient auditor")
    unit = privacy_unit_of(schema, config.rows_per_unit)
    # m counts canary persons against the persons of the table (rows, with the row unit).
    m = canary_count(len(train) if unit.is_row else int(train[unit.column].nunique()), canaries)
    canary_rows = make_canaries(schema, m, seed=seed)
    included = np.random.default_rng([seed, 0x1A]).random(m) < 0.5
    # With a person unit each canary is a canary PERSON: k identical rows under its own id.
    kept = names if unit.is_row else names + [unit.column]
    table = _audit_table(train, canary_rows.loc[canary_rows.index.repeat(unit.rows_per_unit)],
                         np.repeat(included, unit.rows_per_unit), kept, seed)
    canary_rows = canary_rows[names]
    # The release's public bound on rows or persons (plus the canaries), as the release would plan it.
    plan = plan_training(config, (schema.public_row_bound(len(train)) or len(train)) + m, columns=columns,
                         relation=schema.relation, unit=unit)
    if plan_hook is not None:
        plan = plan_hook(plan)
    # No count here: the canary count and the table's rows derive from the private n.
    log.info("privacy audit of %s (%s): one fit with canaries, then scoring (internal, not DP)", config.generator,
             ", ".join(auditors))
    phases = len(auditors) + 2  # the fit, one scoring per auditor, the bounds

    def step(number: int, name: str):
        return phase(log, "privacy audit", name, number=number, total=phases)  # phase names and timing only
    # The gradient canaries get their own coin flips; they are never rows of the table.
    flips = {"gradient": np.random.default_rng([seed, 0x6A]).random(m) < 0.5,
             "measurement": np.random.default_rng([seed, 0x3E]).random(m) < 0.5}
    gradient = GradientCanaries(flips["gradient"], sample_rate=plan.sample_rate, clip=config.max_grad_norm,
                                noise_multiplier=plan.noise_multiplier if model_class.is_dp else 0.0, seed=seed)
    measured = MeasurementCanaries(flips["measurement"], rows_per_unit=unit.rows_per_unit)
    observe = contextlib.ExitStack()
    if "gradient" in auditors:
        from synth_pipeline.synthesizers.training import optimizer_observer

        observe.enter_context(optimizer_observer(gradient))
    if "measurement" in auditors:
        from synth_pipeline.privacy.zcdp import measurement_observer

        observe.enter_context(measurement_observer(measured))
    scores, rows = {}, None
    with tempfile.TemporaryDirectory(prefix="privacy-audit-") as tmp:
        with observe, step(1, f"fit of {config.generator} with canaries"):
            model, _, _ = fit_generator(table, columns, config, plan, label=schema.label)
        del table
        fitted = time.perf_counter()
        timings = {}
        for number, auditor in enumerate(auditors, start=2):
            began = time.perf_counter()
            with step(number, f"{auditor} scoring"):
                if auditor == "gradient":
                    scores[auditor] = gradient.scores()
                elif auditor == "measurement":
                    scores[auditor] = measured.scores()
                elif auditor == "white-box":
                    scores[auditor] = white_box_scores(model, canary_rows)
                else:
                    rows = synthetic_rows or config.synthetic_rows or len(train)
                    model_dir = model.save(Path(tmp) / "model", metadata={
                        "note": "privacy-audit model: never released, deleted after scoring"})
                    synthetic = sample_synthetic(model_dir, rows=rows, seed=seed + 1)
                    scores[auditor] = black_box_scores(canary_rows, synthetic, columns)
                    del synthetic
            timings[auditor] = time.perf_counter() - began
        del model
    fit_seconds = fitted - started
    claimed = float(config.epsilon) if model_class.is_dp else None
    results = []
    with step(phases, "ε lower bounds"):
        bounds = {a: audit_guesses(scores[a], flips.get(a, included), delta=plan.delta, confidence=confidence,
                                   seed=seed) for a in auditors}
    for auditor in auditors:
        inserted, best = flips.get(auditor, included), bounds[auditor]
        passed, message = audit_gate(claimed_epsilon=claimed, lower_bound=best["epsilon_lower_bound"],
                                     generator=config.generator)
        results.append({
            "kind": "privacy_audit", "method": METHOD, "generator": config.generator,
            "differentially_private": bool(model_class.is_dp), "auditor": auditor,
            "claimed_epsilon": claimed, "delta": float(plan.delta),
            "empirical_epsilon_lower_bound": float(best["epsilon_lower_bound"]), "confidence": confidence,
            "canaries": m, "canaries_inserted": int(inserted.sum()),
            "guesses": best["guesses"], "correct": best["correct"], "k_plus": best["k_plus"],
            "k_minus": best["k_minus"], "pairs_tested": best["pairs_tested"],
            "training_rows": len(train), "audit_rows": len(train) + int(included.sum()) * unit.rows_per_unit,
            "privacy_unit": unit.description,
            "synthetic_rows": rows if auditor == "black-box" else None,
            "noise_multiplier": float(plan.noise_multiplier) if model_class.is_dp else None,
            "steps": int(plan.steps),
            "gate": {"passed": passed, "message": message},
            "seed": seed, "seconds": round(fit_seconds + timings[auditor], 2),
            "internal_non_dp": True, "note": NOTE,
        })
    return results
