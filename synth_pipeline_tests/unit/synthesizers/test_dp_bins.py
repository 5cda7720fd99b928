"""Data-following DP bins of the marginal generators (synth_pipeline.synthesizers.dp_bins)."""

import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers import dp_bins
from synth_pipeline.synthesizers.transforms import MAX_BINS, TableCodec


def _skewed(n: int, rng) -> pd.DataFrame:
    """A heavy-tailed money column over [0, 1,000,000] (a spike at 0) and an integer age."""
    money = np.where(rng.random(n) < 0.3, 0.0, np.minimum(rng.lognormal(9.0, 1.0, n), 1e6))
    return pd.DataFrame({"money": money, "age": rng.integers(17, 91, n), "group": rng.choice(["a", "b"], n)})


SCHEMA = [ColumnSpec("money", "float", bounds=(0.0, 1e6)), ColumnSpec("age", "integer", bounds=(17, 90)),
          ColumnSpec("group", "categorical", categories=("a", "b"))]


def _bins(frame: pd.DataFrame, rho: float = 1.0, seed: int = 1, replace_one: bool = False):
    budget = ZcdpBudget(rho, replace_one=replace_one)
    out = dp_bins.dp_bins(frame, TableCodec.from_schema(SCHEMA), budget, rho=rho, rng=np.random.default_rng(seed))
    return out, budget


@pytest.mark.parametrize("replace_one", [False, True])
def test_noise_scales_add_up_to_the_rho_given_and_each_level_is_a_partition(replace_one):
    frame = _skewed(2000, np.random.default_rng(0))
    out, budget = _bins(frame, rho=0.3, replace_one=replace_one)
    assert math.isclose(budget.spent, 0.3, rel_tol=1e-9)
    delta2 = 2.0 if replace_one else 1.0
    assert math.isclose(sum(delta2 / (2 * s["sigma"] ** 2) for s in budget.spends), 0.3, rel_tol=1e-9)
    codec = TableCodec.from_schema(SCHEMA)
    for j, name in enumerate(["money", "age"]):
        levels = dp_bins.tree_levels(codec.codecs[j])
        assert sum(s["measured"].startswith(f"bins of {name}:") for s in budget.spends) == levels + 1
    # Adding one row moves every level's count vector by exactly one cell (sensitivity 1 per level).
    c = codec.codecs[0]
    leaf = dp_bins._leaf_codec(c, dp_bins.tree_levels(c))
    levels = dp_bins.tree_levels(c)

    def counts(f):
        return np.bincount(TableCodec([leaf]).encode_cells(f[["money"]])[:, 0], minlength=leaf.width)

    added = pd.concat([frame, frame.head(1).assign(money=12_345.0)])
    inside = (counts(added) - counts(frame))[1:1 + 2 ** levels]
    for level in range(1, levels + 1):
        assert np.abs(inside.reshape(2 ** level, -1).sum(axis=1)).sum() == 1


def test_nothing_is_spent_without_a_binned_column():
    budget = ZcdpBudget(1.0)
    codec = TableCodec.from_schema([SCHEMA[2]])
    assert dp_bins.dp_bins(pd.DataFrame({"group": ["a", "b"] * 50}), codec, budget, rho=0.5,
                           rng=np.random.default_rng(0)) is None
    assert budget.spent == 0


def test_bins_follow_the_data_and_decoded_values_follow_its_shape():
    rng = np.random.default_rng(2)
    frame = _skewed(20_000, rng)
    out, _ = _bins(frame, rho=1.0)
    money = out.codec.codecs[0]
    assert len(money.edges) - 1 <= MAX_BINS
    widths = np.diff(money.edges)
    # Equal-width bins would be 31,250 wide; the data's median is about 5,000.
    assert np.median(widths) < 31_250 / 4
    cells = out.codec.encode_cells(frame)
    decoded = out.codec.decode_cells(cells, np.random.default_rng(3))
    real, synth = np.sort(frame["money"].to_numpy()), np.sort(decoded["money"].to_numpy(dtype=float))
    quantiles = np.linspace(0.05, 0.95, 19)
    # Decoded inside each bin by the DP leaf weights: the quantiles land within 10% of the real ones.
    real_q, synth_q = np.quantile(real, quantiles), np.quantile(synth, quantiles)
    assert np.all(np.abs(synth_q - real_q) <= 0.1 * np.maximum(real_q, 1_000))
    assert (decoded["money"] == 0).mean() == pytest.approx((frame["money"] == 0).mean(), abs=0.01)


def test_integer_columns_decode_to_integers_inside_their_bounds():
    frame = _skewed(3000, np.random.default_rng(4))
    out, _ = _bins(frame, rho=0.5)
    age = out.codec.codecs[1]
    leaves = 2 ** dp_bins.tree_levels(TableCodec.from_schema(SCHEMA).codecs[1])
    assert (90 - 17) / leaves >= 1  # leaf cells at least one year wide
    decoded = out.codec.decode_cells(out.codec.encode_cells(frame), np.random.default_rng(5))["age"]
    assert str(decoded.dtype) == "Int64" and decoded.min() >= 17 and decoded.max() <= 90
    assert age.start == out.codec.codecs[0].start + out.codec.codecs[0].width


def test_small_budgets_give_fewer_wider_bins():
    frame = _skewed(3000, np.random.default_rng(6))
    few, _ = _bins(frame, rho=0.0005)
    many, _ = _bins(frame, rho=1.0)
    assert len(few.codec.codecs[0].edges) < len(many.codec.codecs[0].edges)


def test_nullable_columns_keep_a_measured_null_cell():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": np.where(rng.random(4000) < 0.25, np.nan, rng.normal(50, 10, 4000))})
    spec = ColumnSpec("x", "float", bounds=(0.0, 100.0), nullable=True)
    budget = ZcdpBudget(1.0)
    out = dp_bins.dp_bins(frame, TableCodec.from_schema([spec]), budget, rho=1.0, rng=np.random.default_rng(8))
    codec = out.codec.codecs[0]
    assert len(out.one_ways[0]) == codec.width  # lower bound, bins, upper bound, null
    assert out.one_ways[0][-1] == pytest.approx(1000, abs=50)
    decoded = out.codec.decode_cells(out.codec.encode_cells(frame), np.random.default_rng(9))
    assert decoded["x"].isna().mean() == pytest.approx(frame["x"].isna().mean(), abs=1e-9)


def test_codec_with_dp_bins_round_trips_through_json():
    out, _ = _bins(_skewed(2000, np.random.default_rng(10)))
    again = TableCodec.from_dict(out.codec.to_dict())
    assert again.codecs == out.codec.codecs

