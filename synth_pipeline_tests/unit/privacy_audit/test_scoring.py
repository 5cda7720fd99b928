"""Canary scores of the one-run audit (synth_pipeline.privacy_audit.scoring). No model is
fitted here."""

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy_audit import audit_guesses, make_canaries
from synth_pipeline.privacy_audit.scoring import black_box_scores, white_box_scores


# -- scoring ----------------------------------------------------------------------------------
def test_black_box_score_finds_the_canaries_copied_into_the_synthetic_table(schema, sample_frame):
    columns = schema.modelled_columns
    names = [c.name for c in columns]
    canaries = make_canaries(schema, 100, seed=0)[names]
    copied = np.zeros(100, dtype=bool)
    copied[::4] = True
    synthetic = pd.concat([sample_frame[names].head(800), canaries[copied]], ignore_index=True)
    scores = black_box_scores(canaries, synthetic, columns)
    assert scores.shape == (100,) and np.isfinite(scores).all()
    assert scores[copied].min() > scores[~copied].max()
    result = audit_guesses(scores, copied, delta=1e-5)
    assert result["correct"] == result["guesses"]


def test_white_box_needs_a_per_record_score():
    with pytest.raises(ValueError, match="black-box"):
        white_box_scores(object(), pd.DataFrame({"a": [1]}))
