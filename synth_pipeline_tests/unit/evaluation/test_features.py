"""The audit's feature frames (synth_pipeline.evaluation.features): distances on declared
scales, model frames typed from the schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.evaluation.features import distance_matrix, model_frame
from synth_pipeline.schema import ColumnSpec


# -- features -------------------------------------------------------------------------------


def test_distance_matrix_uses_declared_scales():
    columns = [ColumnSpec("age", "integer", bounds=(0.0, 100.0)),
               ColumnSpec("colour", "categorical", categories=("red", "blue"))]
    frame = pd.DataFrame({"age": [0, 100, 50, 50, 250], "colour": ["red", "red", "red", "blue", "green"]})
    x = distance_matrix(frame, columns)
    assert x.shape == (5, 1 + 3)  # scaled age + one-hot over declared categories and an 'unknown' slot
    assert np.linalg.norm(x[0] - x[1]) == pytest.approx(1.0)  # the whole declared range is 1
    assert np.linalg.norm(x[2] - x[3]) == pytest.approx(1.0)  # a category mismatch adds 1
    assert x[4, 0] == 1.0  # clipped to the declared bound
    assert x[4, 3] > 0  # an undeclared category goes to the unknown slot


def test_model_frame_types_columns_from_schema(sample_frame, schema):
    frame = model_frame(sample_frame.head(20), schema.modelled_columns)
    assert list(frame.columns) == [c.name for c in schema.modelled_columns]
    assert frame["age"].dtype == "float64"
    assert isinstance(frame["race"].dtype, pd.CategoricalDtype)
    assert list(frame["race"].cat.categories) == list(schema.column("race").categories)
