"""Training and sampling, the chain's DP stage and its post-processing.

``train_model`` reads private rows to make a released artefact: it is DP and charges the
ledger before training (reserve, then commit), refunding only when it fails before any DP
output exists. ``sample_synthetic`` reads no private data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pandas as pd

from synth_pipeline.chain.configuring import row_bound_problems, unit_bound_problems
from synth_pipeline.privacy.accounting import dp_sgd_epsilon, zcdp_epsilon
from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan, plan_training
from synth_pipeline.privacy.contribution import bound_contributions, privacy_unit_of
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.privacy.preprocessing import PreprocessingPlan, release_statistics, widest_domains
from synth_pipeline.privacy.secret_random import RESIDUAL_RISK, is_replayable, randomness_note
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers.registry import generator_class, load_generator
from synth_pipeline.synthesizers.transforms import TableCodec

log = logging.getLogger(__name__)

SEED_CONTROLS = ("the generator's weight initialisation and the sampling of synthetic rows from the fitted model; "
                 "never DP noise, Poisson sampling, DP selections, DP thresholds or the holdout split, nor the "
                 "randomness used while training (dropout, latent draws, fake rows: a fresh secret seed per fit)")
NEIGHBOURING_RELATIONS = {
    "add-remove": ("add/remove one row (unbounded DP), the row count n private: the sampling rate and δ come from "
                   "the schema's max_rows, the synthetic table's size from the user or a DP estimate"),
    "replace-one": ("replace one row (bounded DP): the schema declares the row count n public, so the sampling rate, "
                    "δ and the synthetic table's size come from n; sensitivities doubled, DP-SGD accounted with "
                    "dp-accounting's PLD under REPLACE_ONE"),
}


def ledger_request(config: SynthesisConfig, plan: TrainingPlan) -> dict:
    """What the ledger is asked for: the mechanism, its parameters and its (ε, δ).

    DP preprocessing, when the schema leaves bounds or categories open, is part of the same
    event (a Gaussian release composed with DP-SGD), so one reservation covers the run. The
    marginal-based generators ask for one zCDP event of ρ, converted to (ε, δ) once. With a
    person unit the event names it and its k: the ledger refuses to compose spends made for
    different units (an ε per row and an ε per person do not add up)."""
    tags = {} if plan.privacy_unit is None else {"privacy_unit": plan.privacy_unit,
                                                  "rows_per_unit": plan.rows_per_unit}
    if config.release_type:  # policy, not DP: the ledger checks the type's caps (privacy.release_types)
        tags["release_type"] = config.release_type
    if plan.rho is not None:
        params = {"rho": plan.rho, **({"relation": plan.relation} if plan.relation != "add-remove" else {}), **tags}
        if plan.preprocessing and plan.preprocessing["threshold_delta"]:
            params["extra_delta"] = plan.preprocessing["threshold_delta"]  # discovered categories' thresholds
        return {"mechanism": "zcdp", "params": params, "epsilon": zcdp_epsilon(rho=plan.rho, delta=plan.rdp_delta),
                "delta": plan.delta}
    params = {"noise_multiplier": plan.noise_multiplier, "sample_rate": plan.sample_rate, "steps": plan.steps,
              **tags}
    if plan.preprocessing:
        params["preprocessing_noise_multiplier"] = plan.preprocessing_noise_multiplier
        params["extra_delta"] = plan.preprocessing["threshold_delta"]
    epsilon = dp_sgd_epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate, steps=plan.steps,
                             delta=plan.rdp_delta, accountant=config.accountant,
                             preprocessing_noise_multiplier=plan.preprocessing_noise_multiplier,
                             relation=plan.relation)
    if plan.relation == "replace-one":
        # No RDP curve exists for it (dp-accounting): an (ε, δ) event, composed by addition.
        return {"mechanism": "approx-dp", "params": {**params, "relation": plan.relation, "epsilon": epsilon,
                                                     "delta": plan.delta}, "epsilon": epsilon, "delta": plan.delta}
    return {"mechanism": "dp-sgd", "params": params, "epsilon": epsilon, "delta": plan.delta}


def train_model(*, train: pd.DataFrame, schema: TableSchema, config: SynthesisConfig, ledger: PrivacyLedger,
                  run_key: str, model_dir: str | Path, partition_key: str | None = None,
                  on_epoch: Callable | None = None, drop_rows: int | None = None,
                  plan: TrainingPlan | None = None) -> dict:
    """DP: fit the configured generator on ``train`` under DP-SGD, charged to the ledger.

    Order: build everything that can fail on public facts, reserve (refused: nothing is
    charged), release DP statistics for columns the schema leaves open, train (from the
    first DP output the reservation is committed, so a crash still counts as spent), save,
    return the model's privacy metadata. The non-private twins charge nothing and are
    marked NOT DP: no gate passes them and they are never released. ``drop_rows`` (the whole
    drop's row count, default the training rows) is read only where the schema declares it
    public, so that the plan is the one the config gate priced (``profile["public_rows"]``);
    ``plan``, when given, is that priced plan itself.
    """
    columns = schema.modelled_columns
    problems = [] if schema.row_count_public else row_bound_problems(max_rows=schema.max_rows, n_rows=len(train))
    if problems:
        raise ValueError(problems[0])
    unit = privacy_unit_of(schema, config.rows_per_unit)  # refusals here charge nothing
    if not unit.is_row:
        problems = unit_bound_problems(max_units=schema.public_row_bound(0), n_units=int(train[unit.column].nunique()))
        if problems:
            raise ValueError(problems[0])
    if plan is None:  # the chain passes the plan its budget gate priced; direct callers plan here
        plan = plan_training(config, schema.public_row_bound(len(train) if drop_rows is None else drop_rows),
                             columns=columns, relation=schema.relation, unit=unit)
    if plan.unit != unit:
        raise ValueError(f"the priced plan is for {plan.unit.description}, the release for {unit.description}")
    codec = TableCodec.from_schema(widest_domains(columns))  # fails here, uncharged
    model_class = generator_class(config.generator)
    model_class(codec).check()  # domain and model-size caps, on public facts: refusals charge nothing
    if not model_class.is_dp:
        privacy = {"mechanism": "none (NOT differentially private)", "dp_scope": model_class.dp_scope,
                   "epsilon_target": None, "epsilon_spent": None, "delta": None, "accountant": None,
                   "ledger_event_id": None, "randomness": "seeded (no guarantee to protect)"}
        model, released, _, bounding = fit_bounded(train, columns, config, plan, label=schema.label,
                                                     on_epoch=on_epoch)
        return _save(model, released, config.synthetic_rows or len(train), schema, config, plan, privacy,
                     model_dir, partition_key, bounding)

    request = ledger_request(config, plan)
    reservation = ledger.reserve(dataset=schema.dataset, run_key=run_key, partition_key=partition_key,
                                 accountant=config.accountant, **request)
    if reservation.reused and reservation.status == "committed":
        raise RuntimeError(f"run key {run_key!r} already trained and committed a model; start a new run")
    dp_started = False

    def mark_started():
        nonlocal dp_started
        dp_started = True
        ledger.commit(reservation.event_id, note="DP computation started: counted as spent from here on")

    privacy = {
        "dp_scope": model_class.dp_scope,
        "epsilon_target": config.epsilon,
        "epsilon_spent": request["epsilon"],
        "delta": plan.delta,
        "accountant": config.accountant,
        "ledger_event_id": reservation.event_id,
        **_mechanism_facts(config, plan, label=schema.label),
        **_randomness_facts(plan.relation, unit=plan.unit),
    }
    try:
        model, released, rows, bounding = fit_bounded(train, columns, config, plan, label=schema.label,
                                                        on_epoch=on_epoch, on_dp_start=mark_started)
        if schema.row_count_public and config.synthetic_rows is None:
            rows = len(train)  # declared public: no DP estimate needed
        return _save(model, released, rows, schema, config, plan, privacy, model_dir, partition_key, bounding)
    except BaseException:
        if not dp_started:
            ledger.refund(reservation.event_id, note="failed before any DP computation: refunded")
        raise


def _randomness_facts(relation: str, *, unit) -> dict:
    """Where the DP draws came from, what ``seed`` steers (the model card's RNG section), and
    the neighbour relation and privacy unit the ε is for."""
    neighbours = NEIGHBOURING_RELATIONS[relation]
    if not unit.is_row:
        neighbours = (f"add/remove one person (every row sharing a value of {unit.column!r}), at most "
                      f"{unit.rows_per_unit} rows each after contribution bounding (unbounded DP), the counts of "
                      "persons and rows private: the sampling rate and δ come from the schema's max_units (or "
                      "max_rows), counts and scores are calibrated to sensitivity "
                      f"{unit.rows_per_unit}, and DP-SGD samples persons and clips each person's summed gradient")
    return {"randomness": randomness_note(), "secure_rng": not is_replayable(),
            "seed_controls": SEED_CONTROLS, "floating_point_risk": RESIDUAL_RISK,
            "neighbouring_relation": neighbours, "unit": unit.description,
            "privacy_unit": unit.column, "rows_per_unit": unit.rows_per_unit}


def _mechanism_facts(config: SynthesisConfig, plan: TrainingPlan, *, label: str | None) -> dict:
    if plan.rho is not None:
        domains = " after a Gaussian release of DP domains" if plan.preprocessing else ""
        workload = {}
        if config.generator == "aim":
            from synth_pipeline.synthesizers.marginal.aim import describe_workload

            workload = {"workload": describe_workload(label)}
        return {"mechanism": f"{config.generator.upper()} (Gaussian marginals and exponential-mechanism selection "
                             f"under zCDP{domains})", "rho": plan.rho, "model_rho": plan.model_rho,
                "accountant": "zCDP, converted to (ε, δ) through RDP", "preprocessing": plan.preprocessing,
                "relation": plan.relation, **workload}
    return {
        "relation": plan.relation,
        **({"accountant": "PLD (dp-accounting), REPLACE_ONE; composed with other releases by addition"}
           if plan.relation == "replace-one" else {}),
        "mechanism": "DP-SGD" + (" after a Gaussian release of DP statistics" if plan.preprocessing else ""),
        "noise_multiplier": plan.noise_multiplier,
        "sample_rate": plan.sample_rate,
        "steps": plan.steps,
        "max_grad_norm": config.max_grad_norm,
        "poisson_sampling": True,
        "preprocessing": plan.preprocessing,
    }


def fit_generator(train: pd.DataFrame, columns: list, config: SynthesisConfig, plan: TrainingPlan, *,
                  label: str | None = None, on_epoch: Callable | None = None,
                  on_dp_start: Callable | None = None) -> tuple:
    """``fit_bounded`` without its internal bounding counts: (model, released DP statistics, rows)."""
    return fit_bounded(train, columns, config, plan, label=label, on_epoch=on_epoch, on_dp_start=on_dp_start)[:3]


def fit_bounded(train: pd.DataFrame, columns: list, config: SynthesisConfig, plan: TrainingPlan, *,
                label: str | None = None, on_epoch: Callable | None = None,
                on_dp_start: Callable | None = None) -> tuple:
    """DP for the DP generators: bounds each person's rows to the plan's k (a person unit;
    secret coins), releases the DP statistics the plan asks for, then fits to the plan. ``on_dp_start`` runs once, before the first DP output (statistics or the first
    noisy step). Charges nothing itself: ``train_model`` reserves first; benchmarks and
    tests call this directly. Returns (model, released DP statistics, the synthetic table's
    size: the user's, else a DP estimate of the training rows, else None for the twins, and
    the non-DP counts of contribution bounding: internal review only).
    ``label``: the schema's label (public), which AIM's workload weighs up."""
    released, rows = {}, None
    bounded = bound_contributions(train, plan.unit)  # before any DP computation
    train = bounded.rows
    if plan.preprocessing:
        if on_dp_start is not None:
            on_dp_start()  # the DP statistics are DP output
            on_dp_start = None
        columns, released, rows = release_statistics(train, columns, PreprocessingPlan(**plan.preprocessing))
    frequencies = {name: stats["frequencies"] for name, stats in released.items() if "frequencies" in stats}
    model = generator_class(config.generator)(TableCodec.from_schema(columns))
    model.fit(train[[c.name for c in columns]], config=config, plan=plan, on_epoch=on_epoch,
              on_dp_start=on_dp_start, frequencies=frequencies or None, label=label,
              units=None if plan.unit.is_row else bounded.units)
    if rows is None and model.training_summary.get("estimated_total") is not None:
        rows = max(1, int(round(model.training_summary["estimated_total"])))  # the marginal model's noisy total
    return model, released, config.synthetic_rows or rows, bounded.internal


def _save(model, released, rows, schema, config, plan, privacy, model_dir, partition_key, bounding) -> dict:
    privacy = {**privacy, "opacus_epsilon_dp_sgd_only": model.training_summary.get("opacus_epsilon_dp_sgd_only")}
    # Inside the test-only replay switch the noise is replayable: the model is NOT DP.
    is_dp = model.is_dp and not is_replayable()
    rows_source = ("the user's synthetic_rows" if config.synthetic_rows else
                   "a DP estimate of the training rows" if model.is_dp else "the training rows (NOT DP)")
    path = model.save(model_dir, metadata={"privacy": privacy, "dataset": schema.dataset, "seed": config.seed,
                                           "config": config.as_dict(), "partition": partition_key,
                                           "dp_statistics": released, "is_dp": is_dp,
                                           "synthetic_rows": {"rows": rows, "source": rows_source}})
    return {"generator": model.name, "is_dp": is_dp, "model_dir": str(path), "privacy": privacy,
            "training": model.training_summary, "plan": plan.as_dict(), "dp_statistics": released,
            "synthetic_rows": rows, "synthetic_rows_source": rows_source,
            "contribution_bounding": bounding}


def sample_synthetic(model_dir: str | Path, *, rows: int, seed: int) -> pd.DataFrame:
    """Post-processing of the DP model: reads no private data."""
    return load_generator(model_dir).sample(rows, seed=seed)
