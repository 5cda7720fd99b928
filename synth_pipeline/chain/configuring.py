"""The one validator and the config resolution: a user's fields over the recommendation,
checked against the public schema and the drop's public row bound.

Reads public facts only (schema, ``max_rows``), plus the input checks of
``row_bound_problems`` and ``size_problems``, the only places the private n is compared
with anything (a refusal says that a check failed, never n).
"""

from __future__ import annotations

from dataclasses import replace

from synth_pipeline.privacy.config import (
    MARGINAL_GENERATORS, SynthesisConfig, ValidationResult, check_fields)
from synth_pipeline.privacy.contribution import ContributionError, privacy_unit_of
from synth_pipeline.privacy.preprocessing import widest_domains
from synth_pipeline.privacy.recommendation import PRESETS, recommend, recommended_generator
from synth_pipeline.profiling import dataset_facts
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers.registry import generator_class
from synth_pipeline.synthesizers.transforms import TableCodec

MIN_TRAINING_ROWS = 100


def row_bound_problems(*, max_rows: int | None, n_rows: int) -> list[str]:
    """Input check of the drop's size against the schema's public bound, before any charge:
    with ``size_problems``, the only places the private n is compared with anything (not DP:
    a refusal says only that a check failed, never n)."""
    if max_rows is None:
        return ["the schema declares no max_rows: declare a public upper bound on the rows of one drop (from the "
                "source's documentation or a contract, never from the file); it sets the sampling rate and δ, "
                "since the drop's own row count is private"]
    if n_rows > max_rows:
        return [f"the drop holds more rows than the schema's max_rows ({max_rows}); declare a public bound that "
                "holds for every drop (nothing was charged)"]
    return []


def unit_bound_problems(*, max_units: int | None, n_units: int | None) -> list[str]:
    """Input check of the drop's persons against the schema's public bound (``max_units``, else
    ``max_rows``), before any charge; not DP: a refusal says only that the check failed."""
    if n_units is not None and max_units is not None and n_units > max_units:
        return ["the drop holds more persons than the schema's max_units (or max_rows when max_units is not "
                "declared); declare a public bound on the persons of every drop (nothing was charged)"]
    return []


def size_problems(n_rows: int) -> list[str]:
    """The drop is large enough to train on (the training split keeps over half the rows)."""
    if n_rows < 2 * MIN_TRAINING_ROWS:
        return [f"the drop is too small: DP training needs at least {2 * MIN_TRAINING_ROWS} rows"]
    return []


def validate_config(config: SynthesisConfig, profile: dict, schema: TableSchema) -> ValidationResult:
    """Public facts (schema, ``max_rows``) plus the input checks of ``row_bound_problems``.
    Unmodellable columns are errors."""
    bound = [] if schema.row_count_public else row_bound_problems(max_rows=profile.get("max_rows"),
                                                                   n_rows=profile["n_rows"])
    if bound and profile.get("max_rows") is None:
        return ValidationResult(is_valid=False, errors=bound)
    bound += size_problems(profile["n_rows"])
    try:
        unit, units = privacy_unit_of(schema, config.rows_per_unit), []
    except ContributionError as exc:
        unit, units = None, [str(exc)]
    result = check_fields(config, dataset_facts(profile), columns=schema.modelled_columns,
                          relation=schema.relation, unit=unit)
    if schema.privacy_unit is not None:
        units += unit_bound_problems(max_units=schema.public_row_bound(0), n_units=profile.get("n_units"))
    problems = bound + units + list(profile["unmodellable"])
    if result.is_valid and config.generator in MARGINAL_GENERATORS:
        problems += _marginal_domain_problems(config, schema)
    if problems:
        result.errors.extend(problems)
        result.is_valid = False
        result.plan = None
    return result


def _marginal_domain_problems(config: SynthesisConfig, schema: TableSchema) -> list[str]:
    """Public schema only: the marginal generators' domain and model-size caps."""
    from synth_pipeline.synthesizers.marginal.cells import DomainTooLargeError

    try:
        generator_class(config.generator)(TableCodec.from_schema(widest_domains(schema.modelled_columns))).check()
    except DomainTooLargeError as exc:
        return [str(exc)]
    return []


def resolve_config(profile: dict, schema: TableSchema, *, preset: str = "balanced",
                   **fields) -> tuple[SynthesisConfig, ValidationResult]:
    """The user's fields (None: not given) over the recommendation for this data size,
    validated, with δ filled in. Public facts only (schema, ``max_rows``)."""
    facts = dataset_facts(profile)
    base = recommend(facts, preset=preset) if preset in PRESETS else SynthesisConfig()
    given = {k: v for k, v in fields.items() if v is not None}
    if "generator" not in given and isinstance(given.get("epsilon"), (int, float)):
        given["generator"] = recommended_generator(facts, given["epsilon"])  # for this ε, not the quality's
    requested = SynthesisConfig.from_dict({**base.as_dict(), "delta": None, **given})
    validation = validate_config(requested, profile, schema)
    return effective_config(requested, validation), validation




def effective_config(config: SynthesisConfig, validation: ValidationResult) -> SynthesisConfig:
    """The config with δ filled in from the plan (the rule of ``default_delta``)."""
    if validation.plan is None:
        return config
    return replace(config, delta=validation.plan["delta"])
