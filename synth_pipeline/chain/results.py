"""What each stage of the chain returns: frozen, keyword-only records.

Records that hold private rows (``Drop``, ``Split.train`` and ``Split.holdout``) say so;
they stay in memory or in the project's own files, never in Dagster's storage
(``defs.io``). The others hold public facts, DP output, or internal aggregates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan, ValidationResult


@dataclass(frozen=True, kw_only=True)
class Drop:
    """The drop as read, typed by the public schema. Private rows."""

    name: str
    path: Path
    frame: pd.DataFrame = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One gate's decision: names, counts, values and thresholds only, never a raw value."""

    gate: str
    passed: bool
    description: str
    value: float | None = None
    threshold: float | None = None
    metadata: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Shapes and types from the public schema, and the drop's row count (private, internal:
    input checks only, never a rate, δ or size)."""

    dataset: str
    n_rows: int
    max_rows: int | None
    relation: str
    public_rows: int | None
    modelled_columns: tuple[str, ...]
    direct_identifiers: tuple[str, ...]
    unmodellable: tuple[str, ...]
    facts: dict = field(repr=False)  # the whole profile, as the reports print it

    @classmethod
    def from_dict(cls, facts: dict) -> "Profile":
        return cls(dataset=facts["dataset"], n_rows=facts["n_rows"], max_rows=facts["max_rows"],
                   relation=facts["relation"], public_rows=facts["public_rows"],
                   modelled_columns=tuple(facts["modelled_columns"]),
                   direct_identifiers=tuple(facts["direct_identifiers"]),
                   unmodellable=tuple(facts["unmodellable"]), facts=facts)

    def as_dict(self) -> dict:
        return self.facts


@dataclass(frozen=True, kw_only=True)
class PiiReport:
    """The PII scan: column names, finding kinds and shares, never a value. Not DP; gate only."""

    dropped_before_training: tuple[str, ...]
    identifiers_in_training_columns: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    findings: tuple[dict, ...]
    facts: dict = field(repr=False)

    @classmethod
    def from_dict(cls, facts: dict) -> "PiiReport":
        return cls(dropped_before_training=tuple(facts["dropped_before_training"]),
                   identifiers_in_training_columns=tuple(facts["identifiers_in_training_columns"]),
                   quasi_identifiers=tuple(facts["quasi_identifiers"]), findings=tuple(facts["findings"]),
                   facts=facts)

    def as_dict(self) -> dict:
        return self.facts


@dataclass(frozen=True, kw_only=True)
class ResolvedConfig:
    """The effective config (the user's fields over the recommendation, δ filled in), its
    validation and, when valid, the training plan the ledger will be asked for."""

    config: SynthesisConfig
    validation: ValidationResult
    plan: TrainingPlan | None

    @property
    def is_valid(self) -> bool:
        return self.validation.is_valid


@dataclass(frozen=True, kw_only=True)
class Split:
    """Which rows the evaluation holds out, drawn from the secret source for this run. The
    mask is private (it says who trained the model): kept in the run's internal state only."""

    holdout_mask: np.ndarray = field(repr=False)

    def apply(self, drop: Drop) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training rows, holdout rows): private rows."""
        from synth_pipeline.data_io import apply_holdout

        return apply_holdout(drop.frame, self.holdout_mask)


@dataclass(frozen=True, kw_only=True)
class TrainedModel:
    """The fitted generator's privacy metadata (DP facts, no raw value) and where it was saved."""

    generator: str
    is_dp: bool
    model_dir: Path
    privacy: dict
    training: dict
    plan: TrainingPlan
    dp_statistics: dict
    synthetic_rows: int | None
    synthetic_rows_source: str
    # Non-DP counts of contribution bounding (persons, rows dropped): internal review only.
    contribution_bounding: dict = field(default_factory=dict)

    @property
    def run_folder(self) -> Path:
        """The run's folder: ``model/``, ``internal/`` and (once released) ``release/``."""
        return self.model_dir.parent

    @classmethod
    def from_dict(cls, d: dict) -> "TrainedModel":
        return cls(generator=d["generator"], is_dp=bool(d["is_dp"]), model_dir=Path(d["model_dir"]),
                   privacy=d["privacy"], training=d["training"], plan=TrainingPlan(**d["plan"]),
                   dp_statistics=d["dp_statistics"], synthetic_rows=d["synthetic_rows"],
                   synthetic_rows_source=d["synthetic_rows_source"],
                   contribution_bounding=d.get("contribution_bounding") or {})

    def as_dict(self) -> dict:
        """The shape the documents read (JSON-ready)."""
        return {"generator": self.generator, "is_dp": self.is_dp, "model_dir": str(self.model_dir),
                "privacy": self.privacy, "training": self.training, "plan": self.plan.as_dict(),
                "dp_statistics": self.dp_statistics, "synthetic_rows": self.synthetic_rows,
                "synthetic_rows_source": self.synthetic_rows_source,
                "contribution_bounding": self.contribution_bounding}


@dataclass(frozen=True, kw_only=True)
class SyntheticTable:
    """Rows sampled from the DP model (post-processing), kept as an internal candidate until
    the gates pass."""

    frame: pd.DataFrame = field(repr=False)
    candidate_dir: Path
    # What the keyed watermark marked (columns, scheme), for the model card; never the key.
    watermark: dict | None = None

    @property
    def csv(self) -> Path:
        return self.candidate_dir / "synthetic.csv"


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Utility, subgroup and attack metrics against the holdout, with the audit gates'
    verdicts. Computed on private rows, NOT DP: internal review material, aggregated."""

    metrics: dict = field(repr=False)
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


@dataclass(frozen=True, kw_only=True)
class Documents:
    """The internal review documents written under ``internal/`` (paths by name) and the
    headline facts of the privacy report."""

    paths: dict[str, Path]
    privacy_score: float | None
    risk_level: str | None
    compliance: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Release:
    """A release whose gates passed: published under ``release/`` (paths by name), or staged
    under ``internal/staged_release/`` while it waits for the approvals the governance policy
    requires (``status`` "awaiting approval"; ``paths`` then name the staged, internal files)."""

    paths: dict[str, Path]
    rows: int
    run_id: str = ""
    release_id: str = ""
    status: str = "published"
    approvals_required: int = 0

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def csv(self) -> Path:
        return self.paths["csv"]
