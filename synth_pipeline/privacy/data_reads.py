"""Every point where the pipeline reads the private rows, with its DP status (for the model card)."""

RAW_DATA_READS = (
    {"step": "raw_dataset", "reads": "the whole drop", "dp": False,
     "status": "input; nothing released from it directly"},
    {"step": "raw-data gate (Great Expectations)", "reads": "every value, against declared types, bounds, categories",
     "dp": False, "status": "pass/fail gate only; counts and column names kept, no values"},
    {"step": "dataset_profile", "reads": "row count n", "dp": False,
     "status": "treated as public: sets the sampling rate and the default δ"},
    {"step": "pii_scan", "reads": "a seeded sample of text columns, matched to identifier patterns", "dp": False,
     "status": "pass/fail gate only; column names and shares kept, no values"},
    {"step": "holdout split", "reads": "row positions only (seeded permutation)", "dp": True,
     "status": "reads no values"},
    {"step": "column transforms", "reads": "nothing: bounds and categories from the public schema", "dp": True,
     "status": "public schema only"},
    {"step": "dp_model", "reads": "training split", "dp": True,
     "status": "DP-SGD (Opacus, Poisson sampling, per-sample clipping), charged to the ledger"},
    {"step": "synthetic_table", "reads": "nothing private: samples the DP model", "dp": True,
     "status": "post-processing"},
    {"step": "audit_metrics", "reads": "training split, holdout and synthetic table", "dp": False,
     "status": "internal review only, aggregated; not DP (invariant 4)"},
)
