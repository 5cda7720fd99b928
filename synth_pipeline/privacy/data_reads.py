"""Every point where the pipeline reads the private rows, with its DP status (for the model card).

``dp`` is "DP" (a charged mechanism), "not DP" (a read whose result is internal or a gate
decision, or treated as public) or "no private values" (the step reads none).
"""

from synth_pipeline.privacy.preprocessing import PREPROCESSING_SHARE

RAW_DATA_READS = (
    {"step": "raw_dataset", "reads": "the whole drop", "dp": "not DP",
     "status": "input; nothing released from it directly"},
    {"step": "raw-data gate (Great Expectations)", "reads": "every value, against declared types, bounds, categories",
     "dp": "not DP", "status": "pass/fail gate only; counts and column names kept, no values"},
    {"step": "dataset_profile", "reads": "row count n", "dp": "not DP",
     "status": "treated as public: sets the sampling rate and the default δ (aim and mst estimate their total "
               "from noisy counts instead)"},
    {"step": "pii_scan", "reads": "a seeded sample of text columns, matched to identifier patterns", "dp": "not DP",
     "status": "pass/fail gate only; column names and shares kept, no values"},
    {"step": "holdout split", "reads": "row positions only (seeded permutation)", "dp": "no private values",
     "status": "reads no values"},
    {"step": "column transforms", "reads": "nothing: bounds and categories from the public schema", "dp": "no private values",
     "status": "public schema only, where the schema declares them"},
    {"step": "DP statistics (dp_model)", "reads": "columns whose bounds or categories the schema leaves open",
     "dp": "DP", "status": "Gaussian histograms (bounds) and thresholded Gaussian counts (categories), "
                           f"{int(PREPROCESSING_SHARE * 100)}% of the run's ε, charged with the run"},
    {"step": "dp_model", "reads": "training split", "dp": "DP",
     "status": "dp-tvae, dp-ctgan: DP-SGD (Opacus, Poisson sampling, per-sample clipping); aim, mst: noisy "
               "marginals (Gaussian) and noisy selections (exponential mechanism) under one zCDP budget ρ; "
               "charged to the ledger"},
    {"step": "marginal bins (aim, mst)", "reads": "nothing more: the noisy one-way counts measured by dp_model",
     "dp": "DP", "status": "post-processing: rare cells merged, inside the declared bounds and categories"},
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
     "status": "a release happens only if the non-DP audit gates pass; nothing retries until they do, and "
               "every rerun is a new release charged in full (invariant 6). The rows sampled before the gates "
               "stay in candidate/; only the released asset writes release/, after every gate passed"},
)
