"""The recommender: a config for a table's public facts and a preset (privacy, balanced,
utility). Reads no private values: the facts are the schema's (``max_rows``, column kinds,
which domains are open), never the drop's n.
"""

from __future__ import annotations

import math
from dataclasses import replace

from synth_pipeline.privacy.config import DatasetFacts, SynthesisConfig, default_delta, is_number

PRESETS = ("privacy", "balanced", "utility")


def preset_for(epsilon) -> str:
    """The preset whose ε is nearest a user's ε (privacy < 2 ≤ balanced < 8 ≤ utility)."""
    if not is_number(epsilon) or epsilon <= 0:
        return "balanced"
    return "privacy" if epsilon < 2 else "utility" if epsilon >= 8 else "balanced"


# Measured on six real tables (BENCHMARKS.md, "Which generator to recommend"): at ε=1 and 3
# AIM had the best TSTR/TRTR on 11 of 12 table × ε cells, numeric-heavy (RAND HIE) or small
# (treatment, males) tables and schemas that leave every domain to DP included. At ε=10
# DP-TVAE still collapsed on two tables (star 0.64, treatment 0.51) and stayed below what AIM
# kept at ε=3 on all six, so AIM is the pick at every ε. The shape rules of before ("mostly
# discrete, every domain declared → AIM, else DP-TVAE") were tuned on Adult only. AIM's run
# time grows with the number of column pairs; past MARGINAL_AIM_MAX_COLUMNS, MST is the fast option.
MARGINAL_AIM_MAX_COLUMNS = 25


def recommended_generator(facts: DatasetFacts, epsilon: float) -> str:
    """aim (mst past 25 columns) at every ε, whatever the mix of column kinds and whether the
    domains are declared or bought with DP. Public facts only."""
    return "aim" if facts.n_columns <= MARGINAL_AIM_MAX_COLUMNS else "mst"


def recommend(facts: DatasetFacts, *, preset: str = "balanced") -> SynthesisConfig:
    """A config for this data size: the generator expected to do best at this ε
    (``recommended_generator``); for DP-SGD large batches (it prefers them), sampling rate ≤ 2%,
    and a step count kept moderate so the noise per step stays low."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    n = facts.n_rows
    epsilon = {"privacy": 1.0, "balanced": 3.0, "utility": 8.0}[preset]
    batch = int(min(1024, max(32, n // 50)))
    batch = min(batch, max(1, n // 10))
    steps_per_epoch = math.ceil(n / batch)
    target_steps = {"privacy": 400, "balanced": 600, "utility": 900}[preset]
    epochs = max(1, round(target_steps / steps_per_epoch))
    base = SynthesisConfig()
    return replace(base, generator=recommended_generator(facts, epsilon), epsilon=epsilon, delta=default_delta(n),
                   epochs=int(epochs), batch_size=batch)
