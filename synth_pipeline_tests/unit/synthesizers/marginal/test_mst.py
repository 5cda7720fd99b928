"""MST measures a spanning tree of two-way marginals."""

import pytest

from synth_pipeline_tests.helpers import MARGINAL_TEST_COLUMNS as COLUMNS

pytestmark = pytest.mark.integration


def test_mst_measures_a_spanning_tree(fitted):
    model, _ = fitted["mst"]
    pairs = [tuple(c) for c in model.training_summary["cliques"] if len(c) == 2]
    assert len(pairs) == len(COLUMNS) - 1
    assert {name for pair in pairs for name in pair} == set(COLUMNS)
