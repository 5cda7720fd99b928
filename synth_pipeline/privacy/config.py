"""The synthesis configuration: its fields, the training plan, the field rules and the
privacy-level scale (the recommender is ``privacy.recommendation``).

Reads no private values: it works on public dataset facts (the schema's column counts and
its declared ``max_rows``, the public bound on a drop's rows; the drop's own row count n is
private and never sets a sampling rate, δ or a recommendation) and the user's settings.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, fields, replace

from synth_pipeline.privacy.accounting import CalibrationError, calibrate_noise, calibrate_rho
from synth_pipeline.privacy.secret_random import ReproducibleDPRequested
from synth_pipeline.synthesizers import registry

# Views of the one registry (synthesizers.registry), for the config rules.
MARGINAL_GENERATORS = registry.names(family=registry.MARGINAL)  # zCDP marginal-based: budget in ρ, no DP-SGD
DP_GENERATORS = registry.names(family=registry.DP_SGD) + MARGINAL_GENERATORS
NON_PRIVATE_GENERATORS = registry.names(family=registry.NON_PRIVATE)  # comparison twins: never released
CONDITIONAL_GENERATORS = registry.names(conditional=True)  # need category frequencies
GENERATORS = tuple(registry.GENERATORS)

# Noise multipliers past which DP-SGD learns little (seeds' "epsilon too low" rule).
NOISE_WARNING = 4.0
NOISE_ERROR = 10.0


def privacy_level(epsilon: float) -> str:
    """The one privacy-level scale of the project."""
    if epsilon < 1:
        return "very strong"
    if epsilon < 5:
        return "strong"
    if epsilon < 10:
        return "moderate"
    if epsilon < 20:
        return "weak"
    return "insufficient"


# What training can honour: Opacus 1.6 takes rdp or prv, and the ledger composes RDP curves;
# dp-accounting's PLD stays a cross-check in ``accounting`` (not an option of a release).
TRAINING_ACCOUNTANTS = ("rdp",)
# Config keys that ask for seeded DP noise: refused, pointing to the test-only switch.
REPLAYABLE_KEYS = ("noise_seed", "dp_seed", "reproducible", "deterministic", "secure_mode", "replayable")


def default_delta(n_rows: int) -> float:
    """δ rule: at most a tenth of 1/n and never above 1e-5 (δ must be well below 1/n); n is
    the public bound (the schema's ``max_rows``), never the drop's private row count."""
    return min(1e-5, 0.1 / max(n_rows, 1))


@dataclass(frozen=True)
class DatasetFacts:
    """What the config needs to know of the data, all public: ``n_rows`` is the schema's
    declared ``max_rows`` (a bound on the training rows), not the drop's private n."""

    n_rows: int
    n_columns: int
    n_numeric: int = 0
    n_categorical: int = 0
    n_open: int = 0  # columns whose bounds or categories the schema leaves open (need DP statistics)


def _setting(default, help_text: str, *, recommended: bool = False):
    """A config field and what a person is told about it; ``recommended``: left empty, the
    recommendation for the table fills it in (the Dagster run config and the CLI flags are
    derived from these fields: ``settable_fields``)."""
    return field(default=default, metadata={"help": help_text, "recommended": recommended})


@dataclass(frozen=True)
class SynthesisConfig:
    generator: str = _setting("dp-tvae", "aim, mst, dp-tvae or dp-ctgan (tvae and ctgan: non-private twins, "
                              "never released)", recommended=True)
    epsilon: float = _setting(3.0, "ε of this release, charged to the dataset's budget")
    delta: float | None = _setting(None, "δ (empty: min(1e-5, 0.1/max_rows))", recommended=True)
    epochs: int = _setting(15, "training epochs of dp-tvae/dp-ctgan", recommended=True)
    batch_size: int = _setting(500, "expected Poisson batch size of dp-tvae/dp-ctgan at max_rows", recommended=True)
    max_grad_norm: float = _setting(1.0, "DP-SGD clipping norm C")
    learning_rate: float = _setting(5e-3, "optimiser learning rate")
    synthetic_rows: int | None = _setting(None, "synthetic rows (empty: a DP estimate of the training rows, "
                                          "never n itself)")
    seed: int = _setting(0, "weight initialisation and sampling rows from the fitted model only; never DP noise")
    holdout_fraction: float = _setting(0.2, "share of rows held out for the evaluation, each on a secret coin")
    accountant: str = _setting("rdp", "DP-SGD accountant (rdp)")
    rows_per_unit: int | None = _setting(None, "k: the most rows of one person kept (schemas with a privacy_unit; "
                                         "empty: the schema's max_rows_per_unit)")
    release_type: str | None = _setting(None, "the budget's release type this release counts against (quarterly, "
                                        "ad_hoc, ...: data/budgets.yaml; empty: the budget's default type)")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "SynthesisConfig":
        known = set(cls.__dataclass_fields__)
        replayable = sorted(set(raw) & set(REPLAYABLE_KEYS))
        if replayable:
            raise ReproducibleDPRequested(
                f"config field(s) {replayable}: DP noise, sampling and selections always come from a secret "
                "generator seeded by the operating system, never from a seed (a published seed would let anyone "
                "replay the noise: ε = ∞). `seed` sets only weight initialisation and sampling from the fitted "
                "model. For a repeatable test fit use synth_pipeline.privacy.secret_random.replayable_for_tests(), "
                "which marks the model NOT DP so it can never be released")
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known fields: {sorted(known)}")
        return cls(**raw)


@dataclass(frozen=True, kw_only=True)
class SettableField:
    name: str
    type: type
    default: object  # None where the recommendation fills it in
    help: str


def settable_fields() -> tuple[SettableField, ...]:
    """The one declaration of what a person may set for a release, from ``SynthesisConfig``:
    the Dagster run config (``defs.assets.SynthesisRunConfig``) and the CLI flags
    (``cli.add_config_flags``) are derived from it."""
    hints = typing.get_type_hints(SynthesisConfig)  # `int | None` -> int: empty means "not given"
    kinds = {name: next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))
             for name, hint in hints.items()}
    return tuple(SettableField(name=f.name, type=kinds[f.name], help=f.metadata["help"],
                               default=None if f.metadata["recommended"] else f.default)
                 for f in fields(SynthesisConfig))


@dataclass(frozen=True)
class TrainingPlan:
    """The DP-SGD schedule implied by a config and the public row bound (never n), after any DP
    preprocessing: what the ledger is asked to reserve. ``delta`` is the run's total δ; ``threshold_delta`` of it
    goes to category discovery, the rest to the RDP conversion. For the marginal-based
    generators only ``rho`` (the zCDP budget) and ``delta`` matter: no sampling, no steps."""

    sample_rate: float
    steps_per_epoch: int
    steps: int
    delta: float
    noise_multiplier: float
    preprocessing: dict | None = None  # PreprocessingPlan.as_dict()
    rho: float | None = None  # marginal-based generators: the zCDP budget of the whole fit
    relation: str = "add-remove"  # or "replace-one" where the schema declares n public
    # The privacy unit (contribution.PrivacyUnit): None is one row; else the person column,
    # with at most ``rows_per_unit`` rows each. DP-SGD samples and clips persons; counts and
    # scores are calibrated to sensitivity ``rows_per_unit``.
    privacy_unit: str | None = None
    rows_per_unit: int = 1

    @property
    def unit(self):
        from synth_pipeline.privacy.contribution import PrivacyUnit

        return PrivacyUnit(self.privacy_unit, self.rows_per_unit)

    @property
    def preprocessing_noise_multiplier(self) -> float | None:
        if not self.preprocessing:
            return None
        from synth_pipeline.privacy.preprocessing import PreprocessingPlan

        return PreprocessingPlan(**self.preprocessing).noise_multiplier

    @property
    def model_rho(self) -> float | None:
        """The ρ the marginal mechanisms spend: the plan's ρ less what the open domains cost."""
        if self.rho is None:
            return None
        return self.rho - ((self.preprocessing or {}).get("rho") or 0.0)

    @property
    def rdp_delta(self) -> float:
        return self.delta - (self.preprocessing["threshold_delta"] if self.preprocessing else 0.0)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationResult:
    is_valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recommended_config: dict = field(default_factory=dict)
    plan: dict | None = None
    privacy_level: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def plan_training(config: SynthesisConfig, n_rows: int, *, columns: list | None = None,
                  relation: str = "add-remove", unit=None) -> TrainingPlan:
    """Poisson sampling at the public rate q = 1/ceil(N/B), ceil(N/B) steps per epoch, where
    N (``n_rows``) is the public bound on the training units (the schema's ``max_rows``, or
    ``max_units`` with a privacy unit): the drop's private n never sets q, the steps or δ.

    ``unit`` (contribution.PrivacyUnit; default one row): with a person unit of at most k
    rows, DP-SGD samples persons at q and clips each person's summed gradient, and the DP
    statistics and marginal mechanisms calibrate to sensitivity k.

    When ``columns`` (ColumnSpecs) leave bounds or categories open, or the synthetic table's
    size is left to the data (a DP row count), a share of ε goes to DP statistics first and
    DP-SGD is calibrated so that the composition meets the target.

    ``relation`` "replace-one" (the schema declares n public): N is then the training rows,
    no DP row count is bought, sensitivities double where a replaced row moves two cells,
    and DP-SGD is accounted with dp-accounting's PLD under REPLACE_ONE.
    """
    from synth_pipeline.privacy.contribution import PrivacyUnit
    from synth_pipeline.privacy.preprocessing import plan_domain_discovery, plan_preprocessing

    unit = unit or PrivacyUnit()
    k = unit.rows_per_unit
    on_unit = {"privacy_unit": unit.column, "rows_per_unit": k}
    steps_per_epoch = math.ceil(n_rows / config.batch_size)
    sample_rate = 1.0 / steps_per_epoch
    steps = config.epochs * steps_per_epoch
    delta = config.delta if config.delta is not None else default_delta(n_rows)
    if config.generator in NON_PRIVATE_GENERATORS:
        return TrainingPlan(sample_rate, steps_per_epoch, steps, delta, 0.0, None, relation=relation, **on_unit)
    if config.generator in MARGINAL_GENERATORS:
        # ρ is the largest zCDP budget whose (ε, δ) conversion meets the target; it is
        # converted once, by the ledger, the same way. Under replace-one the mechanisms
        # calibrate to the doubled sensitivities (privacy.zcdp), not ρ. Open domains take a
        # share of ρ (and of δ for category thresholds) in the same event: ``model_rho`` is
        # what the marginal mechanisms spend.
        from synth_pipeline.privacy.preprocessing import discovery_delta

        rho = calibrate_rho(target_epsilon=config.epsilon, delta=delta - discovery_delta(columns or [], delta))
        pre = plan_domain_discovery(columns or [], rho=rho, delta=delta, replace_one=relation == "replace-one",
                                    rows_per_unit=k)
        return TrainingPlan(1.0, 0, 0, delta, 0.0, pre.as_dict() if pre else None, relation=relation, rho=rho,
                            **on_unit)
    pre = plan_preprocessing(columns or [], epsilon=config.epsilon, delta=delta,
                             marginals=config.generator in CONDITIONAL_GENERATORS,
                             count=config.synthetic_rows is None and relation == "add-remove",
                             replace_one=relation == "replace-one", rows_per_unit=k)
    plan = TrainingPlan(sample_rate, steps_per_epoch, steps, delta, 0.0, pre.as_dict() if pre else None,
                        relation=relation, **on_unit)
    sigma = calibrate_noise(target_epsilon=config.epsilon, delta=plan.rdp_delta, sample_rate=sample_rate,
                            steps=steps, accountant=config.accountant,
                            preprocessing_noise_multiplier=plan.preprocessing_noise_multiplier, relation=relation)
    return replace(plan, noise_multiplier=sigma)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(config: SynthesisConfig, facts: DatasetFacts, *, columns: list | None = None,
             relation: str = "add-remove", unit=None) -> ValidationResult:
    """The field rules of a config against public facts; say what is wrong and what to use
    instead. Part of the one validator, ``chain.configuring.validate_config``, which adds the
    schema's and the row bound's checks: call that."""
    errors: list[str] = []
    warnings: list[str] = []
    n = facts.n_rows
    if n < 100:
        # Nothing else can be judged on so little data (and 1/n is undefined at n = 0).
        return ValidationResult(is_valid=False, errors=[
            f"the table has {n} training rows; DP training needs at least 100"])
    if config.generator not in GENERATORS:
        errors.append(f"generator: {config.generator!r} is unknown; choose one of {list(GENERATORS)}")
    if not is_number(config.epsilon) or config.epsilon <= 0:
        errors.append(f"epsilon: must be a positive finite number, got {config.epsilon!r}")
    if config.delta is not None:
        if not is_number(config.delta) or not 0 < config.delta < 1:
            errors.append(f"delta: must lie in (0, 1), got {config.delta!r}; leave it empty to set it automatically")
        elif config.delta >= 1 / max(n, 1):
            errors.append(f"delta: {config.delta:.3g} is not below 1/n = {1 / n:.3g}; use at most {default_delta(n):.3g} "
                          "or leave it empty to set it automatically")
        elif config.delta > 0.1 / n:
            warnings.append(f"delta: {config.delta:.3g} is above a tenth of 1/n; {default_delta(n):.3g} is safer")
    marginal = config.generator in MARGINAL_GENERATORS
    if not _is_count(config.epochs) or config.epochs <= 0:
        errors.append(f"epochs: must be a positive integer, got {config.epochs!r}")
    if not _is_count(config.batch_size) or config.batch_size < 1:
        errors.append(f"batch_size: must be a positive integer, got {config.batch_size!r}")
    elif config.batch_size > n and not marginal:
        errors.append(f"batch_size: {config.batch_size} is larger than the {n} training rows; use at most {max(1, n // 10)}")
    if not is_number(config.max_grad_norm) or config.max_grad_norm <= 0:
        errors.append(f"max_grad_norm: must be positive, got {config.max_grad_norm!r}")
    if config.accountant == "pld":
        errors.append("accountant: 'pld' is not wired through training (Opacus 1.6 calibrates and accounts DP-SGD "
                      "with RDP, and the ledger composes RDP curves); use 'rdp' (PLD is reported as a cross-check)")
    elif config.accountant not in TRAINING_ACCOUNTANTS:
        errors.append(f"accountant: {config.accountant!r} is not one of {list(TRAINING_ACCOUNTANTS)}")
    elif marginal and config.accountant != "rdp":
        errors.append(f"accountant: {config.generator} keeps its budget in zCDP ρ, converted to (ε, δ) through RDP; "
                      "use accountant 'rdp'")
    if not is_number(config.holdout_fraction) or not 0 < config.holdout_fraction < 0.5:
        errors.append(f"holdout_fraction: must lie in (0, 0.5), got {config.holdout_fraction!r}")
    if config.synthetic_rows is not None and (not _is_count(config.synthetic_rows) or config.synthetic_rows < 1):
        errors.append(f"synthetic_rows: must be a positive integer, got {config.synthetic_rows!r}")
    elif config.synthetic_rows is not None and config.synthetic_rows > n:
        warnings.append(f"synthetic_rows: {config.synthetic_rows} is above the schema's max_rows ({n}); more rows "
                        "add no information, only sampling variance around the DP model")
    if facts.n_columns < 2:
        errors.append(f"the table has {facts.n_columns} modelled column(s); a generator needs at least 2")

    if config.generator in NON_PRIVATE_GENERATORS:
        warnings.append(f"generator: {config.generator!r} is NOT differentially private: a comparison baseline "
                        "that no privacy gate passes and that is never released")
        from synth_pipeline.privacy.preprocessing import needs_dp_bounds, needs_dp_categories

        open_columns = [c.name for c in columns or [] if needs_dp_bounds(c) or needs_dp_categories(c)]
        if open_columns:
            errors.append(f"generator: the non-private twins need declared bounds and categories; declare them for "
                          f"{open_columns} or use 'dp-{config.generator}'")

    plan = None
    if not errors:
        try:
            plan = plan_training(config, n, columns=columns, relation=relation, unit=unit)
        except CalibrationError as exc:
            errors.append(f"epsilon too low: {exc}")
        else:
            if not marginal:  # marginal methods have no sampling rate, steps or noise multiplier to judge
                _judge_schedule(plan, config, errors, warnings)

    from synth_pipeline.privacy.recommendation import preset_for, recommend

    recommended = recommend(facts, preset=preset_for(config.epsilon)).as_dict()
    if is_number(config.epsilon) and config.epsilon > 0 and config.generator in GENERATORS:
        recommended.update(epsilon=config.epsilon, generator=config.generator)
    return ValidationResult(
        is_valid=not errors,
        errors=errors,
        warnings=warnings,
        recommended_config=recommended,
        plan=None if plan is None or errors else plan.as_dict(),
        privacy_level=privacy_level(config.epsilon) if is_number(config.epsilon) and config.epsilon > 0 else None,
    )


def _judge_schedule(plan: TrainingPlan, config: SynthesisConfig, errors: list[str], warnings: list[str]) -> None:
    """DP-SGD's schedule: sampling rate, step count and noise multiplier against the rules."""
    if plan.sample_rate > 0.2:
        warnings.append(f"batch_size: sampling rate {plan.sample_rate:.0%} is above 20%: privacy amplification "
                        "by sampling is nearly lost; use a smaller batch or more data")
    elif plan.sample_rate > 0.1:
        warnings.append(f"batch_size: sampling rate {plan.sample_rate:.0%} is above 10%; a smaller batch "
                        "amplifies privacy better")
    if plan.steps > 1000:
        warnings.append(f"epochs: {plan.steps} training steps is high use of the budget; fewer epochs or a "
                        "larger batch leave less noise per step")
    elif plan.steps >= 500:
        warnings.append(f"epochs: {plan.steps} training steps is moderate use of the budget")
    if plan.noise_multiplier > NOISE_ERROR:
        errors.append(
            f"epsilon too low: ε={config.epsilon} needs noise multiplier {plan.noise_multiplier:.1f} over "
            f"{plan.steps} steps, too much noise to learn; use a larger batch, fewer epochs, a larger ε, "
            "or a marginal-based generator")
    elif plan.noise_multiplier > NOISE_WARNING:
        warnings.append(f"epsilon: noise multiplier {plan.noise_multiplier:.1f} is high; expect low utility")
