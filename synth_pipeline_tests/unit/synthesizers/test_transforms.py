"""Unit tests of synth_pipeline.synthesizers.transforms.TableCodec.

The codec is built from the public schema alone; decoded values stay inside the declared bounds
and categories and never emit ``__other__``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers.transforms import NULL, OTHER, TableCodec, UnmodellableColumnError

ENCODINGS = ["binned", "scaled"]


def _one_hot_logits(encoded: np.ndarray) -> np.ndarray:
    """Logits that make the decoder pick exactly the encoded one-hot entries."""
    return np.where(encoded > 0.5, 60.0, -60.0)


def _assert_inside_schema(frame: pd.DataFrame, columns: list[ColumnSpec]) -> None:
    for spec in columns:
        values = frame[spec.name]
        if spec.is_numeric:
            present = values.dropna().astype(float)
            lo, hi = spec.bounds
            assert present.between(lo, hi).all(), spec.name
            if spec.type == "integer":
                assert (present == np.round(present)).all(), spec.name
            if not spec.nullable:
                assert values.notna().all(), spec.name
        else:
            present = values.dropna()
            assert present.isin(spec.value_set).all(), spec.name
            assert OTHER not in set(present) and NULL not in set(present)
            if not spec.nullable:
                assert values.notna().all(), spec.name


# -- built from the schema only --------------------------------------------------------------


def test_codec_layout_comes_from_schema(schema):
    codec = TableCodec.from_schema(schema.modelled_columns)
    assert codec.names == [c.name for c in schema.modelled_columns]
    starts = [c.start for c in codec.codecs]
    assert starts == sorted(starts) and starts[0] == 0
    assert codec.width == sum(c.width for c in codec.codecs)
    race = next(c for c in codec.codecs if c.name == "race")
    assert race.categories == schema.column("race").categories + (OTHER,)
    gain = next(c for c in codec.codecs if c.name == "capital_gain")
    assert gain.kind == "binned" and gain.bounds == (0.0, 99999.0)
    assert gain.edges[0] == 0.0 and gain.edges[-1] == 99999.0
    edu = next(c for c in codec.codecs if c.name == "education_num")
    # A small integer range is discrete: one cell per value of 1..16, plus __other__.
    assert edu.kind == "discrete" and edu.width == 17 and edu.numbers == tuple(float(v) for v in range(1, 17))


def test_decoding_reaches_declared_bounds_not_seen_in_data(schema):
    """The range comes from the schema: decoding can produce the declared bounds even when the
    rows never went there (no min/max is read from the data)."""
    columns = [schema.column("age"), schema.column("sex")]
    codec = TableCodec.from_schema(columns)
    narrow = pd.DataFrame({"age": [30, 31, 32], "sex": pd.Series(["Male"] * 3, dtype="string")})
    encoded = codec.encode(narrow)
    logits = np.full((2, codec.width), -60.0)
    age = codec.codecs[0]
    logits[0, age.start] = 60.0  # lower point bin
    logits[1, age.start + age.width - 1] = 60.0  # upper point bin
    logits[:, codec.codecs[1].start + 0] = 60.0  # Female: declared, never seen in the rows
    out = codec.decode(np.zeros_like(logits), logits, np.random.default_rng(0))
    assert out["age"].tolist() == [17, 90]
    assert out["sex"].tolist() == ["Female", "Female"]
    assert encoded.shape == (3, codec.width)


# -- encode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encode_rows_are_one_hot_per_discrete_block(sample_frame, schema, encoding):
    codec = TableCodec.from_schema(schema.modelled_columns, numeric_encoding=encoding)
    encoded = codec.encode(sample_frame.head(200))
    assert encoded.shape == (200, codec.width) and encoded.dtype == np.float32
    for c in codec.codecs:
        block = encoded[:, c.start:c.start + c.width]
        if c.kind == "numeric":
            assert (block[:, 0] >= -1).all() and (block[:, 0] <= 1).all()
        else:
            assert (block.sum(axis=1) == 1).all(), c.name


def test_unknown_category_goes_to_other():
    spec = ColumnSpec("colour", "categorical", categories=("red", "green"))
    codec = TableCodec.from_schema([spec])
    encoded = codec.encode(pd.DataFrame({"colour": pd.Series(["green", "purple", "red"], dtype="string")}))
    other = codec.codecs[0].categories.index(OTHER)
    assert encoded.argmax(axis=1).tolist() == [1, other, 0]


def test_unknown_boolean_text_goes_to_other():
    codec = TableCodec.from_schema([ColumnSpec("b", "boolean")])
    assert codec.codecs[0].categories == ("false", "true", OTHER)
    encoded = codec.encode(pd.DataFrame({"b": pd.Series(["true", "false", "yes"], dtype="string")}))
    assert encoded.argmax(axis=1).tolist() == [1, 0, 2]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_out_of_bounds_values_clip(encoding):
    spec = ColumnSpec("age", "integer", bounds=(17.0, 90.0))
    codec = TableCodec.from_schema([spec], numeric_encoding=encoding)
    encoded = codec.encode(pd.DataFrame({"age": [-5, 17, 90, 200, 10_000]}))
    assert np.array_equal(encoded[0], encoded[1])  # below -> lower bound
    assert np.array_equal(encoded[2], encoded[3]) and np.array_equal(encoded[3], encoded[4])  # above -> upper
    assert not np.array_equal(encoded[1], encoded[2])
    if encoding == "scaled":
        assert encoded[:, 0].tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    else:
        assert encoded[0].argmax() == 0 and encoded[4].argmax() == codec.width - 1


def test_binned_point_bins_at_bounds_round_trip_exactly(schema):
    columns = [schema.column("capital_gain"), schema.column("capital_loss"), schema.column("hr_per_week")]
    codec = TableCodec.from_schema(columns)
    frame = pd.DataFrame({
        "capital_gain": [0, 0, 99999, 1, 99998, 5000],
        "capital_loss": [0, 4356, 0, 1, 4355, 2000],
        "hr_per_week": [1, 99, 40, 2, 98, 50],
    })
    encoded = codec.encode(frame)
    out = codec.decode(np.zeros_like(encoded), _one_hot_logits(encoded), np.random.default_rng(1))
    # the bounds come back exactly (zeros and caps are point bins)
    for name in frame:
        at_bound = frame[name].isin(columns[[c.name for c in columns].index(name)].bounds)
        assert (out[name][at_bound].astype(int) == frame[name][at_bound]).all(), name
        # values strictly inside come back strictly inside, in the same bin
        inside = ~at_bound
        lo, hi = codec.codecs[[c.name for c in columns].index(name)].bounds
        assert out[name][inside].astype(float).between(lo + 1, hi - 1).all(), name
    np.testing.assert_array_equal(codec.encode(out), encoded)


def test_small_integer_range_round_trips_every_value(schema):
    spec = schema.column("education_num")
    codec = TableCodec.from_schema([spec])
    frame = pd.DataFrame({"education_num": np.arange(1, 17)})
    encoded = codec.encode(frame)
    assert encoded.argmax(axis=1).tolist() == list(range(16))
    out = codec.decode(np.zeros_like(encoded), _one_hot_logits(encoded), np.random.default_rng(0))
    assert out["education_num"].tolist() == list(range(1, 17))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encode_decode_round_trip_on_sample(sample_frame, schema, encoding):
    columns = schema.modelled_columns
    codec = TableCodec.from_schema(columns, numeric_encoding=encoding)
    encoded = codec.encode(sample_frame)
    out = codec.decode(encoded, _one_hot_logits(encoded), np.random.default_rng(0))
    assert list(out.columns) == [c.name for c in columns]
    assert len(out) == len(sample_frame)
    _assert_inside_schema(out, columns)
    for spec in columns:
        if not spec.is_numeric:
            assert out[spec.name].tolist() == sample_frame[spec.name].tolist(), spec.name
        elif encoding == "scaled":
            # the scaled encoding is exact up to float32 rounding, then integers are rounded
            assert (out[spec.name].astype(float) - sample_frame[spec.name]).abs().max() <= 1, spec.name
    np.testing.assert_array_equal(codec.encode(out)[:, _discrete_mask(codec)], encoded[:, _discrete_mask(codec)])


def _discrete_mask(codec: TableCodec) -> np.ndarray:
    mask = np.zeros(codec.width, dtype=bool)
    for c in codec.codecs:
        if c.kind != "numeric":
            mask[c.start:c.start + c.width] = True
    return mask


# -- decode never leaves the schema ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decoded_values_stay_inside_schema(schema, encoding):
    columns = schema.modelled_columns + [
        ColumnSpec("score", "float", bounds=(-2.5, 0.0)),
        ColumnSpec("weight", "float", bounds=(0.0, 1.0), nullable=True),
        ColumnSpec("n", "integer", bounds=(0.0, 3.0), nullable=True),
        ColumnSpec("blood", "categorical", categories=("A", "B", "O"), nullable=True),
        ColumnSpec("flag", "boolean"),
    ]
    codec = TableCodec.from_schema(columns, numeric_encoding=encoding)
    rng = np.random.default_rng(42)
    n = 2000
    numeric = rng.normal(scale=3.0, size=(n, codec.width))  # far outside [-1, 1] too
    logits = rng.normal(scale=4.0, size=(n, codec.width))
    for c in codec.codecs:
        if OTHER in c.categories:
            logits[:, c.start + c.categories.index(OTHER)] = 1e6  # the model "wants" __other__
    out = codec.decode(numeric, logits, rng)
    assert len(out) == n
    _assert_inside_schema(out, columns)
    assert out["blood"].isna().any()  # the null bucket is used when the model wants it
    assert out["blood"].dropna().nunique() == 3


# -- nullable columns -----------------------------------------------------------------------


def test_nullable_categorical_has_null_bucket():
    spec = ColumnSpec("blood", "categorical", categories=("A", "B"), nullable=True)
    codec = TableCodec.from_schema([spec])
    assert codec.codecs[0].categories == ("A", "B", OTHER, NULL)
    frame = pd.DataFrame({"blood": pd.Series(["A", None, "Z", "B"], dtype="string")})
    encoded = codec.encode(frame)
    assert encoded.argmax(axis=1).tolist() == [0, 3, 2, 1]
    out = codec.decode(np.zeros_like(encoded), _one_hot_logits(encoded[[0, 1, 3]]), np.random.default_rng(0))
    assert out["blood"].isna().tolist() == [False, True, False]
    assert out["blood"].dropna().tolist() == ["A", "B"]


def test_non_nullable_categorical_has_no_null_bucket():
    codec = TableCodec.from_schema([ColumnSpec("blood", "categorical", categories=("A", "B"))])
    assert NULL not in codec.codecs[0].categories


def test_nullable_binned_numeric_has_null_bucket():
    spec = ColumnSpec("income", "float", bounds=(0.0, 100.0), nullable=True)
    codec = TableCodec.from_schema([spec])
    c = codec.codecs[0]
    assert c.categories[-1] == NULL and c.width == c.n_bins + 1
    encoded = codec.encode(pd.DataFrame({"income": [0.0, np.nan, 100.0, 50.0]}))
    assert encoded.argmax(axis=1).tolist()[:3] == [0, c.width - 1, c.n_bins - 1]
    out = codec.decode(np.zeros_like(encoded), _one_hot_logits(encoded), np.random.default_rng(0))
    assert out["income"].isna().tolist() == [False, True, False, False]
    assert out["income"][0] == 0.0 and out["income"][2] == 100.0


def test_nullable_scaled_numeric_has_null_flags():
    spec = ColumnSpec("income", "integer", bounds=(0.0, 100.0), nullable=True)
    codec = TableCodec.from_schema([spec], numeric_encoding="scaled")
    c = codec.codecs[0]
    assert c.width == 3 and c.null_start == c.start + 1
    encoded = codec.encode(pd.DataFrame({"income": [0.0, np.nan, 100.0, 50.0]}))
    assert encoded[:, 1].tolist() == [1, 0, 1, 1] and encoded[:, 2].tolist() == [0, 1, 0, 0]
    out = codec.decode(encoded, _one_hot_logits(encoded), np.random.default_rng(0))
    assert out["income"].isna().tolist() == [False, True, False, False]
    assert out["income"].dropna().tolist() == [0, 100, 50]


# -- serialisation --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_to_dict_from_dict_round_trip_through_json(schema, sample_frame, encoding):
    columns = schema.modelled_columns + [ColumnSpec("x", "float", bounds=(0.0, 1.0), nullable=True),
                                         ColumnSpec("c", "categorical", categories=("a",), nullable=True)]
    codec = TableCodec.from_schema(columns, numeric_encoding=encoding)
    restored = TableCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    assert restored.codecs == codec.codecs
    assert restored.width == codec.width
    frame = sample_frame.head(50).assign(x=0.5, c="a")
    np.testing.assert_array_equal(restored.encode(frame), codec.encode(frame))


# -- unmodellable columns -------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("spec", [ColumnSpec("amount", "float"), ColumnSpec("count", "integer")])
def test_numeric_without_bounds_is_unmodellable(spec, encoding):
    with pytest.raises(UnmodellableColumnError, match=repr(spec.name)) as info:
        TableCodec.from_schema([spec], numeric_encoding=encoding)
    assert "bounds" in str(info.value)


@pytest.mark.parametrize("spec", [ColumnSpec("notes", "string"), ColumnSpec("grade", "categorical")])
def test_free_text_is_unmodellable(spec):
    with pytest.raises(UnmodellableColumnError, match=repr(spec.name)):
        TableCodec.from_schema([spec])


def test_direct_identifiers_are_unmodellable(schema):
    with pytest.raises(UnmodellableColumnError):
        TableCodec.from_schema(list(schema.columns))


def test_unknown_numeric_encoding():
    with pytest.raises(ValueError, match="numeric_encoding"):
        TableCodec.from_schema([ColumnSpec("a", "float", bounds=(0.0, 1.0))], numeric_encoding="quantile")


# -- real bugs, documented ------------------------------------------------------------------


def test_integer_column_with_fractional_bounds_decodes():
    spec = ColumnSpec("n", "integer", bounds=(0.5, 10.5))
    codec = TableCodec.from_schema([spec])
    logits = np.zeros((50, codec.width))
    logits[:, 0] = 60.0
    out = codec.decode(np.zeros_like(logits), logits, np.random.default_rng(0))
    assert out["n"].between(1, 10).all()


@pytest.mark.parametrize("encoding", ["binned", "scaled"])
def test_declared_values_encode_and_decode_to_exactly_those_numbers(encoding):
    spec = ColumnSpec("grade", "float", values=(0.5, 1.0, 2.5, 10.0), bounds=(0.5, 10.0), nullable=True)
    codec = TableCodec.from_schema([spec], numeric_encoding=encoding)
    (c,) = codec.codecs
    assert c.kind == "discrete" and c.categories[-2:] == (OTHER, "__null__")
    cells = codec.encode_cells(pd.DataFrame({"grade": [2.5, 10.0, 3.0, None, 0.5]}))[:, 0]
    assert list(cells) == [2, 3, c.categories.index(OTHER), c.categories.index("__null__"), 0]
    logits = np.random.default_rng(0).normal(size=(400, codec.width))
    out = codec.decode(np.zeros_like(logits), logits, np.random.default_rng(1))["grade"]
    assert set(out.dropna()) <= {0.5, 1.0, 2.5, 10.0} and out.isna().any()  # never __other__, never in between


def test_a_small_integer_range_decodes_to_integers_in_the_dp_sgd_encoding_too():
    codec = TableCodec.from_schema([ColumnSpec("kids", "integer", bounds=(0.0, 5.0))], numeric_encoding="scaled")
    assert codec.codecs[0].kind == "discrete"
    logits = np.random.default_rng(0).normal(size=(300, codec.width))
    out = codec.decode(np.zeros_like(logits), logits, np.random.default_rng(1))["kids"]
    assert str(out.dtype) == "Int64" and set(out) == {0, 1, 2, 3, 4, 5}
    again = TableCodec.from_dict(codec.to_dict())
    assert again.codecs == codec.codecs
