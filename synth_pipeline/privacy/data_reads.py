"""Every point where the pipeline reads the private rows, with its DP status (for the model card).

``dp`` is "DP" (a charged mechanism), "not DP" (a read whose result is internal or a gate
decision, or treated as public) or "no private values" (the step reads none).
"""

from synth_pipeline.privacy.preprocessing import COUNT_ONLY_SHARE, DOMAIN_RHO_SHARE, PREPROCESSING_SHARE
from synth_pipeline.synthesizers.dp_bins import BINNING_SHARE

RAW_DATA_READS = (
    {"step": "schema draft (CLI, before any run)", "reads": "every value, to guess each column's type; the PII scan",
     "dp": "not DP", "status": "writes names, types and suggested roles only (no bound, category, count or value); "
                               "a type is a coarse fact a single row can decide, reviewed before the schema is adopted"},
    {"step": "raw_dataset", "reads": "the whole drop", "dp": "not DP",
     "status": "input; nothing released from it directly"},
    {"step": "raw-data gate (Great Expectations), and `schema check`", "reads": "every value, against declared "
     "types, bounds, categories and values", "dp": "not DP",
     "status": "pass/fail gate only; counts and column names kept, no values"},
    {"step": "dataset_profile", "reads": "row count n", "dp": "not DP",
     "status": "private (add/remove neighbours): input checks only, before any charge (at least 200 rows, at most "
               "the schema's max_rows); the sampling rate, δ and the recommendation come from max_rows. Where "
               "the schema declares n public, it is public, and the accounting is replace-one"},
    {"step": "pii_scan", "reads": "a seeded sample of text columns, matched to identifier patterns", "dp": "not DP",
     "status": "pass/fail gate only; column names and shares kept, no values"},
    {"step": "holdout split", "reads": "the row count only: one secret coin per row (OS CSPRNG, fresh per run); "
     "with a privacy_unit, the unit column: one coin per person, for all its rows", "dp": "no private values",
     "status": "reads no modelled value; adding or removing a row (a person) moves no other row (person); the mask "
               "stays in the orchestrator's internal storage"},
    {"step": "contribution bounding (dp_model, schemas with a privacy_unit)", "reads": "the unit column of the "
     "training split", "dp": "no private values",
     "status": "keeps at most k rows per person on secret coins before any DP computation, so every mechanism is "
               "calibrated to a person of k rows; the counts of dropped rows and persons are non-DP and stay in the "
               "internal review"},
    {"step": "column transforms", "reads": "nothing: bounds and categories from the public schema", "dp": "no private values",
     "status": "public schema only, where the schema declares them"},
    {"step": "DP statistics (dp_model)", "reads": "columns whose bounds or categories the schema leaves open",
     "dp": "DP", "status": "Gaussian histograms (bounds) and thresholded Gaussian counts (categories), "
                           f"{int(PREPROCESSING_SHARE * 100)}% of the run's ε (dp-tvae, dp-ctgan) or "
                           f"{int(DOMAIN_RHO_SHARE * 100)}% of its ρ (aim, mst), charged with the run"},
    {"step": "DP row count (dp_model)", "reads": "the training split's row count, when synthetic_rows is not set",
     "dp": "DP", "status": f"a Gaussian count, {int(COUNT_ONLY_SHARE * 100)}% of the run's ε (with the DP statistics "
                           "when there are any), charged with the run: the synthetic table's size (aim and mst use "
                           "their noisy total instead)"},
    {"step": "dp_model", "reads": "training split", "dp": "DP",
     "status": "dp-tvae, dp-ctgan: DP-SGD (Opacus, Poisson sampling, per-sample clipping); aim, mst: noisy "
               "marginals (Gaussian) and noisy selections (exponential mechanism) under one zCDP budget ρ; "
               "charged to the ledger"},
    {"step": "marginal bins (aim, mst)", "reads": "each numeric column with bounds (declared or DP) in the training "
     "split", "dp": "DP", "status": "a Gaussian hierarchical histogram per column inside its bounds, "
     f"{int(BINNING_SHARE * 100)}% of the model's ρ, charged with the run; the bins, the values decoded inside them "
     "and the merging of rare cells are post-processing of it and of the noisy one-way counts"},
    {"step": "training progress log", "reads": "mean training loss and rows/s per epoch", "dp": "not DP",
     "status": "Dagster run log only (operators), not in the model files or reports"},
    {"step": "synthetic_table", "reads": "nothing private: samples the DP model", "dp": "no private values",
     "status": "post-processing"},
    {"step": "audit_metrics", "reads": "training split, holdout and synthetic table", "dp": "not DP",
     "status": "internal review only, aggregated; not DP (invariant 4)"},
    {"step": "compliance_report plots", "reads": "holdout split: per-column shares over public bins and "
     "categories, pairwise correlations", "dp": "not DP",
     "status": "internal review only, aggregated; axis labels from the public schema (invariant 4)"},
    {"step": "privacy_audit (opt-in)", "reads": "training split plus seeded canaries, one extra fit",
     "dp": "not DP", "status": "internal: an empirical ε lower bound; its model and rows are deleted after "
                               "scoring and nothing is charged or released"},
    {"step": "release decision", "reads": "the audit gates' verdicts", "dp": "not DP",
     "status": "a release happens only if the non-DP audit gates pass at the model's first audit (recorded once; "
               "a re-audit never releases), so whether a release exists is a non-DP function of the data; every "
               "rerun is a new release charged in full. The rows sampled before the gates stay in "
               "internal/candidate/; release/ holds DP output and declared-public facts only"},
)
