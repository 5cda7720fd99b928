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


# Where the marginal-based generators are expected to win (BENCHMARKS.md, Adult): low and
# moderate ε on mostly discrete tables whose domains are all declared. AIM's run time grows
# with the number of column pairs; past MARGINAL_AIM_MAX_COLUMNS, MST is the fast option.
MARGINAL_MAX_EPSILON = 5.0
MARGINAL_AIM_MAX_COLUMNS = 25


def recommended_generator(facts: DatasetFacts, epsilon: float) -> str:
    """aim (or mst on wide tables) at ε ≤ 5 when every column's domain is declared and the
    table is mostly discrete; dp-tvae otherwise (or when the composition is unknown)."""
    mostly_discrete = facts.n_categorical > 0 and facts.n_numeric <= facts.n_categorical
    if facts.n_open == 0 and mostly_discrete and epsilon <= MARGINAL_MAX_EPSILON:
        return "aim" if facts.n_columns <= MARGINAL_AIM_MAX_COLUMNS else "mst"
    return "dp-tvae"


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
