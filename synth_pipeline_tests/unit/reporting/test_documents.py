"""The internal review documents of one release (synth_pipeline.reporting.documents): the
offline HTML page and the documented layout, on hand-made release facts."""

import json

from synth_pipeline.reporting.documents import write_documents
from synth_pipeline_tests.helpers.reporting import assert_offline


def test_release_page_opens_offline_with_every_plot_embedded(documents, schema):
    images = assert_offline(documents["html"])
    plottable = [c for c in schema.modelled_columns]
    assert images == len(documents["plots"]) == len(plottable) + 4  # marginals, correlations, tstr, attacks, ledger
    assert "INTERNAL REVIEW ONLY" in documents["html"]


def test_documents_are_written_in_the_documented_layout(documents, tmp_path):
    paths = write_documents(documents, tmp_path)
    names = {p.relative_to(tmp_path / "internal").as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert not (tmp_path / "release").exists()  # internal review only: never in the release folder
    for name in ("release_report.json", "release_report.md", "report/release_report.html",
                 "report/privacy_report.json", "report/compliance.json", "report/compliance.md",
                 "report/model_card.json", "report/model_card.md", "report/narrative.json", "report/narrative.md",
                 "report/plots/correlations.png", "report/plots/ledger.png", "report/plots/marginal_age.png"):
        assert name in names, name
    card = json.loads(paths["model_card"].read_text(encoding="utf-8"))
    assert card["data"]["partition"] == "drop.csv"
    assert "**Status:" in paths["compliance_markdown"].read_text(encoding="utf-8")
    # every page says INTERNAL
    for key in ("markdown", "model_card_markdown", "compliance_markdown", "narrative_markdown"):
        assert "INTERNAL REVIEW ONLY" in paths[key].read_text(encoding="utf-8")[:400], key
    page = paths["html"].read_text(encoding="utf-8")
    assert page.index("INTERNAL REVIEW ONLY") < page.index("<h1")
    for key in ("json", "privacy_report", "model_card", "compliance", "narrative"):
        assert json.loads(paths[key].read_text(encoding="utf-8"))["classification"].startswith("INTERNAL"), key
