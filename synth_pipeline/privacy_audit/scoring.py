"""Membership scores of canaries: higher means "more likely in the training table".

- ``black_box_scores`` reads the synthetic table only (what a recipient sees) and the
  public schema: no private values.
- ``white_box_scores`` asks the fitted model for its per-record fit
  (``model.record_scores``): the model was trained on private rows, so the scores are a
  non-DP view of it, used only inside the audit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers.transforms import TableCodec

MATCH_WEIGHT = 2.0  # λ: each matching column multiplies a synthetic row's weight by e^λ
CHUNK = 128  # canaries scored at once (memory: CHUNK × synthetic rows)


def _codes(frame: pd.DataFrame, codec: TableCodec) -> np.ndarray:
    """One small integer per column: the bin (numeric, declared bounds) or the category."""
    onehot = codec.encode(frame)
    return np.stack([onehot[:, c.start:c.start + c.width].argmax(axis=1) for c in codec.codecs],
                    axis=1).astype(np.int16)


def _scoreable(columns: list[ColumnSpec]) -> list[ColumnSpec]:
    """Columns with declared bounds or categories (open ones carry no public grid)."""
    return [c for c in columns if (c.is_numeric and c.bounds is not None) or (not c.is_numeric and c.value_set)]


def black_box_scores(canaries: pd.DataFrame, synthetic: pd.DataFrame, columns: list[ColumnSpec], *,
                     weight: float = MATCH_WEIGHT) -> np.ndarray:
    """How much closer the synthetic rows come to each canary than independent columns would.

    Each column is coded on the public grid (declared categories; the generators' bins over
    the declared bounds, where a neighbouring bin also counts as a match). For a canary c
    with M(s, c) matching columns in synthetic row s, the score is

        log mean_s exp(λ·M(s, c)) − Σ_j log(1 + (e^λ − 1)·p_j(c)),

    where p_j(c) is the share of synthetic rows matching c on column j: the second term is
    the first's expectation if the synthetic columns were independent, so a canary scores
    about 0 unless the synthetic table holds rows that match it jointly, as a memorised copy
    (or a near copy) does. Reads the synthetic rows and the schema only."""
    columns = _scoreable(columns)
    if not columns:
        raise ValueError("the black-box auditor needs at least one column with declared bounds or categories")
    if len(synthetic) < 1:
        raise ValueError("the black-box auditor needs at least one synthetic row")
    codec = TableCodec.from_schema(columns)
    canary_codes, synth_codes = _codes(canaries, codec), _codes(synthetic, codec)
    near = np.array([1 if c.kind == "binned" else 0 for c in codec.codecs])  # ±1 bin for numeric columns
    log_expected = np.zeros(len(canaries))
    log_observed = np.empty(len(canaries))
    for start in range(0, len(canaries), CHUNK):
        block = canary_codes[start:start + CHUNK]
        matches = np.zeros((len(block), len(synth_codes)), dtype=np.int16)
        for j in range(len(columns)):
            hit = np.abs(synth_codes[None, :, j] - block[:, j, None]) <= near[j]
            matches += hit
            log_expected[start:start + CHUNK] += np.log1p(np.expm1(weight) * hit.mean(axis=1))
        top = matches.max(axis=1, keepdims=True)
        log_observed[start:start + CHUNK] = (weight * top[:, 0]
                                             + np.log(np.exp(weight * (matches - top)).mean(axis=1)))
    return log_observed - log_expected


def white_box_scores(model, canaries: pd.DataFrame) -> np.ndarray:
    """The model's own per-record fit (higher: fits the record better), from its
    ``record_scores``: negative ELBO's opposite for the VAEs, critic score for the GANs."""
    scorer = getattr(model, "record_scores", None)
    if scorer is None:
        raise ValueError(f"generator {getattr(model, 'name', type(model).__name__)!r} has no per-record score: "
                         "audit it with the black-box auditor")
    scores = np.asarray(scorer(canaries), dtype=float)
    if scores.shape != (len(canaries),):
        raise ValueError(f"record_scores returned shape {scores.shape}, expected ({len(canaries)},)")
    return scores
