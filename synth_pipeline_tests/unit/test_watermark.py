"""The keyed watermark (synth_pipeline/watermark.py) and `synth-pipeline watermark check`.

Detection on a whole synthetic-like table and a 1% subsample; an honest null on data with
heavy duplicates over many keys (where a per-cell binomial test fails); another release's key
does not match; domains, nulls, categories, small-range integers and point masses kept;
deterministic without any global generator; bad input named, never a value; the command's
exit codes on a tmp outputs folder, changing nothing.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.cli import UsageError
from synth_pipeline.commands import watermark as command
from synth_pipeline.reporting.public_release import build_public_documents
from synth_pipeline.schema import parse_schema
from synth_pipeline.watermark import (ALPHA, MAX_STEPS, RESOLUTION_BITS, WatermarkError, check_file, detect, embed,
                                      interval_tallies, release_key, release_schema, watermarkable_columns)

SECRET = b"s" * 32
KEY = release_key(SECRET, "toy/drop.csv/abcdef12")
CANARY = 987654.321
SPIKES = [100.0 + 50 * i for i in range(12)]  # point masses inside the bounds


def _schema(**extra):
    return parse_schema({"dataset": "toy", "max_rows": 30_000, **extra, "columns": [
        {"name": "person", "type": "string", "role": "direct_identifier"},
        {"name": "age", "type": "integer", "bounds": [17, 90]},
        {"name": "weight", "type": "integer", "bounds": [10_000, 1_500_000]},
        {"name": "gain", "type": "integer", "bounds": [0, 99_999]},  # 100k values < 8 per row of 30k
        {"name": "income", "type": "float", "bounds": [0.0, 1000.0]},
        {"name": "score", "type": "float", "bounds": [-5.0, 5.0], "nullable": True},
        {"name": "code", "type": "float", "values": [0.5, 1.5, 2.5]},
        {"name": "colour", "type": "categorical", "categories": ["red", "green", "blue"]},
    ]})


def _synthetic(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Like a sampler's output: continuous floats with point masses at a bound and at 0,
    integers with nulls, a nullable float."""
    rng = np.random.default_rng(seed)
    score = rng.normal(0, 2, n).clip(-5, 5)  # clipped: spikes at both bounds
    score[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "age": pd.array(rng.integers(17, 91, n), dtype="Int64"),
        "weight": pd.array(np.where(rng.random(n) < 0.02, None, rng.integers(10_000, 1_500_001, n)), dtype="Int64"),
        "gain": pd.array(np.where(rng.random(n) < 0.9, 0, rng.integers(1, 100_000, n)), dtype="Int64"),
        "income": np.where(rng.random(n) < 0.3, 0.0, np.where(rng.random(n) < 0.1, rng.choice(SPIKES, n),
                                                                rng.gamma(2.0, 100.0, n).clip(0, 1000))),
        "score": score,
        "code": rng.choice([0.5, 1.5, 2.5], n),
        "colour": pd.array(rng.choice(["red", "green", "blue"], n), dtype="string"),
    })


@pytest.fixture(scope="module")
def marked():
    frame = _synthetic()
    return frame, embed(frame, _schema(), key=KEY)


def test_carrying_columns_are_high_resolution_numbers_only():
    assert watermarkable_columns(_schema()) == ["weight", "income", "score"]
    # no max_rows: 100k integers are enough for `gain` on their own
    assert "gain" in watermarkable_columns(_schema(max_rows=None))


def test_detects_the_whole_table_and_a_one_percent_subsample(marked):
    frame, watermarked = marked
    whole = detect(watermarked, _schema(), key=KEY)
    assert whole.verdict == "ours" and whole.p_value < 1e-100
    assert whole.columns_tested == ("weight", "income", "score")
    hits = [detect(watermarked.sample(frac=0.01, random_state=i), _schema(), key=KEY).p_value <= ALPHA
            for i in range(20)]
    assert sum(hits) >= 19
    assert detect(frame, _schema(), key=KEY).verdict == "not ours"  # the table before embedding


def test_another_release_key_does_not_match(marked):
    _, watermarked = marked
    others = [detect(watermarked, _schema(), key=release_key(SECRET, f"toy/drop.csv/{i:08x}")) for i in range(15)]
    assert all(d.verdict == "not ours" for d in others)
    assert min(d.p_value for d in others) > 1e-4
    assert detect(watermarked, _schema(), key=release_key(b"t" * 32, "toy/drop.csv/abcdef12")).verdict == "not ours"


def _clustered_real(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Real-looking data: values rounded to a coarse grid (exact duplicates) and unique values
    packed into a few fine intervals (many cells share one interval, hence one coin)."""
    rng = np.random.default_rng(seed)
    packed = 500.0 + rng.random(n) * 0.2  # all in one to three intervals of width ~0.06-0.12
    frame = _synthetic(n, seed)
    frame["income"] = np.where(rng.random(n) < 0.5, packed, np.round(rng.gamma(2.0, 100.0, n), 0))
    frame["weight"] = pd.array(rng.integers(0, 40, n) * 1000 + 400_000, dtype="Int64")  # 40 values
    frame["score"] = -1.0 + rng.random(n) * 0.004
    return frame


def test_null_is_honest_with_heavy_duplicates_where_a_per_cell_test_fails():
    frame, schema = _clustered_real(), _schema()
    zs, pooled_p, per_cell_z = [], [], []
    for i in range(300):
        key = release_key(b"k" * 32, f"random/{i}")
        tallies = interval_tallies(frame, schema, key=key)
        n = np.concatenate([t[0] for t in tallies.values()]).astype(float)
        g = np.concatenate([t[1] for t in tallies.values()])
        per_cell_z.append((n @ g - n.sum() / 2) / math.sqrt(n.sum() / 4))
        d = detect(frame, schema, key=key)
        zs.append(d.z)
        pooled_p.append(d.p_value)
    assert abs(np.mean(zs)) < 0.25 and 0.8 < np.std(zs) < 1.2
    for alpha in (0.01, 0.05, 0.2):
        assert np.mean(np.array(pooled_p) <= alpha) <= alpha + 0.02
    # The test a naive checker would use calls one real table ours under many keys.
    naive_p = [0.5 * math.erfc(z / math.sqrt(2)) for z in per_cell_z]
    assert np.mean(np.array(naive_p) <= 0.01) > 0.2
    assert np.mean(np.array(naive_p) <= 1e-9) > 0.05


def test_values_stay_in_their_domain_types_and_nulls(marked):
    frame, watermarked = marked
    schema = _schema()
    assert list(watermarked.columns) == list(frame.columns)
    assert (watermarked.dtypes == frame.dtypes).all()
    for col in ("weight", "income", "score", "gain", "age"):
        values = watermarked[col].dropna().astype(float)
        lo, hi = schema.column(col).bounds
        assert values.between(lo, hi).all(), col
        assert (watermarked[col].isna() == frame[col].isna()).all(), col
    assert (watermarked["weight"].dropna() % 1 == 0).all()
    changed = (watermarked["income"] != frame["income"]).mean()
    assert 0.2 < changed < 0.5  # about half the carrying cells move
    # a move is a few interval widths at most
    for col in ("weight", "income"):
        lo, hi = schema.column(col).bounds
        move = (watermarked[col].astype(float) - frame[col].astype(float)).abs().max()
        assert 0 < move <= MAX_STEPS * (hi - lo) * 2.0 ** (1 - RESOLUTION_BITS)


def test_cells_next_to_a_bound_move_inwards():
    rng = np.random.default_rng(3)
    frame = _synthetic(1000)
    edge = np.concatenate([rng.random(500) * 0.05, 1000.0 - rng.random(500) * 0.05])
    frame["income"] = edge
    frame["weight"] = pd.array(np.concatenate([10_001 + rng.permutation(500),
                                               1_499_999 - rng.permutation(500)]), dtype="Int64")
    watermarked = embed(frame, _schema(), key=KEY)
    for col, (lo, hi) in (("income", (0.0, 1000.0)), ("weight", (10_000, 1_500_000))):
        values = watermarked[col].astype(float)
        assert values.between(lo, hi).all() and (values != frame[col].astype(float)).sum() > 100
    tallies = interval_tallies(watermarked, _schema(), key=KEY)
    assert all(tallies[col][1].all() for col in ("income", "weight"))  # every carrying cell is green


def test_categories_small_integers_codes_and_point_masses_untouched(marked):
    frame, watermarked = marked
    for col in ("age", "gain", "code", "colour"):
        pd.testing.assert_series_equal(watermarked[col], frame[col])
    for col, spikes in (("income", [0.0, *SPIKES]), ("score", [-5.0, 5.0])):
        for value in spikes:
            assert ((frame[col] == value) == (watermarked[col] == value)).all()


def test_deterministic_given_the_key_and_no_global_generator():
    frame = _synthetic(2000)
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    first = embed(frame, _schema(), key=KEY)
    assert (np.random.get_state()[1] == state).all()
    np.random.seed(2)
    pd.testing.assert_frame_equal(embed(frame, _schema(), key=KEY), first)
    assert not embed(frame, _schema(), key=release_key(SECRET, "other")).equals(first)
    pd.testing.assert_frame_equal(frame, _synthetic(2000))  # the input is not changed


def test_release_keys_are_domain_separated_per_release():
    assert release_key(SECRET, "a/b/c") == release_key(SECRET, "a/b/c")
    assert len({release_key(SECRET, "a/b/c"), release_key(SECRET, "a/b/d"), release_key(b"x" * 32, "a/b/c")}) == 3
    with pytest.raises(WatermarkError, match="16 secret bytes"):
        embed(_synthetic(10), _schema(), key=b"short")


def test_other_columns_are_named_never_a_value(marked):
    _, watermarked = marked
    odd = watermarked.drop(columns=["score"]).assign(extra=CANARY)
    with pytest.raises(WatermarkError, match=r"missing \['score'\], extra \['extra'\]") as exc:
        detect(odd, _schema(), key=KEY)
    assert str(CANARY) not in str(exc.value)
    # a first line holding values instead of names: its cells are not repeated back
    headerless = pd.DataFrame([[1.0] * 7], columns=[str(CANARY + i) for i in range(7)])
    with pytest.raises(WatermarkError, match="none of the 7 columns") as exc:
        detect(headerless, _schema(), key=KEY)
    assert "987654" not in str(exc.value)


def test_empty_tables_and_releases_without_a_carrier_are_refused(marked):
    _, watermarked = marked
    with pytest.raises(WatermarkError, match="no rows"):
        detect(watermarked.iloc[:0], _schema(), key=KEY)
    small = parse_schema({"dataset": "small", "columns": [{"name": "age", "type": "integer", "bounds": [17, 90]},
                                                          {"name": "c", "type": "categorical", "categories": ["a"]}]})
    assert watermarkable_columns(small) == []
    with pytest.raises(WatermarkError, match="not watermarked: no column can carry"):
        detect(pd.DataFrame({"age": [20], "c": ["a"]}), small, key=KEY)


def _release(outputs, release_id: str, frame: pd.DataFrame, schema) -> None:
    folder = outputs / release_id / "release"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "synthetic.csv", index=False)
    docs = build_public_documents(schema=schema, config={}, model={"is_dp": True, "privacy": {}, "dp_statistics": {}},
                                  ledger_after={}, partition_key=release_id.split("/")[1],
                                  run_id=release_id.split("/")[2])
    card = {**docs["model_card"], "watermark": {"watermarked": True, "columns": watermarkable_columns(schema)}}
    (folder / "model_card.json").write_text(json.dumps(card))
    (folder / "release.json").write_text("{}")


def _run(capsys, *argv) -> tuple[int, dict | None, str]:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        code = args.func(args)
    except UsageError as exc:
        return 2, None, str(exc)
    out = capsys.readouterr().out
    return code, json.loads(out), ""


def test_check_command_exit_codes(tmp_path, capsys):
    schema = _schema()
    outputs, state = tmp_path / "outputs", tmp_path / "state"
    state.mkdir()
    (state / "instance_secret").write_bytes(SECRET)
    frame = _synthetic(3000)
    for run in ("run00001", "run00002"):
        release_id = f"toy/drop.csv/{run}"
        _release(outputs, release_id, embed(frame, schema, key=release_key(SECRET, release_id)), schema)
    flags = ("--outputs", str(outputs), "--state", str(state))
    released = outputs / "toy/drop.csv/run00002/release/synthetic.csv"
    sample = tmp_path / "sample.parquet"
    pd.read_csv(released).sample(300, random_state=0).to_parquet(sample)

    code, result, _ = _run(capsys, "watermark", "check", "--input", str(sample), *flags)
    assert code == 0 and result["verdict"] == "ours" and result["release"] == "toy/drop.csv/run00002"
    assert result["releases_tested"] == 2 and result["p_value"] <= result["threshold"] == ALPHA

    unmarked = tmp_path / "unmarked.csv"
    frame.to_csv(unmarked, index=False)
    code, result, _ = _run(capsys, "watermark", "check", "--input", str(unmarked), *flags)
    assert code == 1 and result["verdict"] == "not ours" and result["release"] is None

    other = tmp_path / "other.csv"
    frame.rename(columns={"score": "note"}).to_csv(other, index=False)
    before = set(tmp_path.rglob("*"))
    code, _, message = _run(capsys, "watermark", "check", "--input", str(other), *flags)
    assert code == 2 and "missing ['score']" in message and "extra ['note']" in message
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(frame.columns) + "\n")
    assert _run(capsys, "watermark", "check", "--input", str(empty), *flags)[0] == 2
    assert set(tmp_path.rglob("*")) == before | {empty}
    code, _, message = _run(capsys, "watermark", "check", "--input", str(sample), "--outputs", str(outputs),
                            "--state", str(tmp_path / "nowhere"))
    assert code == 2 and "no instance secret" in message and not (tmp_path / "nowhere").exists()


def test_release_schema_reads_the_public_model_card(tmp_path):
    schema = _schema()
    schema = type(schema)(**{**schema.__dict__, "columns": tuple(c for c in schema.columns if c.name != "code")})
    docs = build_public_documents(schema=schema, config={}, model={
        "is_dp": True, "privacy": {}, "dp_statistics": {"income": {"bounds": [1.0, 900.0]}}},
        ledger_after={}, partition_key="p", run_id="r")
    public = release_schema(json.loads(json.dumps(docs["model_card"])))
    assert [c.name for c in public.columns] == [c.name for c in schema.modelled_columns]
    assert public.column("income").bounds == (1.0, 900.0) and public.max_rows == 30_000
    assert watermarkable_columns(public) == ["weight", "income", "score"]
    path = tmp_path / "t.csv"
    embed(_synthetic(2000).drop(columns=["code"]).assign(income=lambda f: f["income"].clip(1.0, 900.0)),
          public, key=KEY).to_csv(path, index=False)
    result = check_file(path, [("toy/p/r", KEY, public), ("toy/p/s", release_key(SECRET, "toy/p/s"), public)])
    assert result["verdict"] == "ours" and result["release"] == "toy/p/r" and result["releases_tested"] == 2


def test_a_declared_code_list_in_the_card_is_not_a_carrier():
    card = {"dataset": "toy", "public_schema": {"max_rows": 100, "columns": [
        {"name": "code", "type": "float", "declared": {"bounds": [0.5, 2.5], "values": [0.5, 1.5, 2.5]}},
        {"name": "x", "type": "float", "declared": {}, "dp_statistics": {"bounds": [0, 1]}}]}}
    assert watermarkable_columns(release_schema(card)) == ["x"]
