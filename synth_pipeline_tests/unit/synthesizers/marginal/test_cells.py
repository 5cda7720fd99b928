"""Cell compression and domain caps of the marginal generators
(synth_pipeline.synthesizers.marginal.cells)."""

import numpy as np
import pytest

from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers import generator_class
from synth_pipeline.synthesizers.marginal import cells
from synth_pipeline.synthesizers.transforms import TableCodec


def test_compression_merges_rare_cells_and_never_decodes_other():
    codec = TableCodec.from_schema([ColumnSpec("c", "categorical", categories=("a", "b", "c"))])
    # cells: a, b, c, __other__; b, c and __other__ fall under the threshold.
    (col,) = cells.compress(codec, [np.array([50.0, 2.0, -1.0, 0.5])], thresholds=[10.0])
    assert col.mapping == (0, 1, 1, 1)
    out = cells.decode(np.array([[1]] * 400), codec, [col], np.random.default_rng(0))
    assert set(out["c"]) == {"b"}  # weight of c is clipped to 0, __other__ is never emitted


def test_wide_declared_domain_is_refused_with_a_pointer_to_the_pii_scan():
    spec = ColumnSpec("customer_code", "categorical", categories=tuple(f"k{i}" for i in range(5000)))
    model = generator_class("aim")(TableCodec.from_schema([spec, ColumnSpec("x", "boolean")]))
    with pytest.raises(cells.DomainTooLargeError, match="direct_identifier"):
        model.check()
