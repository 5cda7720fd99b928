"""AIM's workload: public, every two-way marginal, the label's pairs weighed up."""

import pytest

from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers.marginal.aim import AIM, LABEL_WEIGHT
from synth_pipeline.synthesizers.transforms import TableCodec

COLUMNS = [ColumnSpec("sex", "categorical", categories=("F", "M")),
           ColumnSpec("smoker", "boolean"),
           ColumnSpec("grade", "categorical", categories=("a", "b", "c")),
           ColumnSpec("outcome", "boolean")]


def _aim(label):
    aim = AIM(TableCodec.from_schema(COLUMNS))
    aim.label = label
    return aim, list(range(len(COLUMNS)))


def test_the_labels_pairs_weigh_more_and_every_pair_is_in_the_workload():
    aim, attrs = _aim("outcome")
    workload = aim._workload(attrs)
    assert len(workload) == 6
    label = 3
    assert {q: w for q, w in workload.items() if label in q} == {(a, label): LABEL_WEIGHT for a in attrs[:3]}
    assert all(w == 1.0 for q, w in workload.items() if label not in q)
    assert LABEL_WEIGHT > 1


@pytest.mark.parametrize("label", [None, "not a column"])
def test_without_a_modelled_label_every_pair_weighs_the_same(label):
    aim, attrs = _aim(label)
    assert set(aim._workload(attrs).values()) == {1.0}
