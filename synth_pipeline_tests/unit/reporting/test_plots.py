"""Plots (synth_pipeline.reporting.plots): PNGs without text metadata, labelled only with
schema values; values outside the schema are pooled."""

import pytest

from synth_pipeline.reporting import plots
from synth_pipeline_tests.helpers.reporting import png_text_chunks


def test_plots_are_png_without_text_metadata_and_label_only_schema_values(documents, schema, sample_frame):
    for png in documents["plots"].values():
        assert png_text_chunks(png) == ""
    tables = {t["column"]: t for t in plots.marginal_tables(sample_frame.head(300), sample_frame.tail(300), schema)}
    assert tables["sex"]["labels"] == ["Female", "Male"]
    assert tables["age"]["labels"][0] == "17–20.6" and len(tables["age"]["labels"]) == plots.NUMERIC_BINS
    assert sum(tables["age"]["real"]) == pytest.approx(1.0)


def test_values_outside_the_schema_are_pooled_never_named(schema, sample_frame):
    frame = sample_frame.head(50).copy()
    frame["occupation"] = frame["occupation"].astype("object")
    frame.loc[0, "occupation"] = "CANARY-JOB"
    table = next(t for t in plots.marginal_tables(frame, frame, schema) if t["column"] == "occupation")
    assert "CANARY-JOB" not in table["labels"] and plots.OTHER in table["labels"]
