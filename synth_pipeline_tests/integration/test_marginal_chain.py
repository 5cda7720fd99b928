"""The marginal-based generators through the real asset chain: one zCDP charge, a release,
and domain refusals that stop at the config gate without charging."""

import math
import pytest

from synth_pipeline_tests.helpers.project import materialized

pytestmark = pytest.mark.integration


def test_mst_release_charges_one_zcdp_event_within_the_target(project, sample_frame):
    partition = project.drop("mst drop.csv", sample_frame)
    result = project.run(partition, config={"generator": "mst", "epsilon": 2.0})
    assert result.success
    assert {"dp_model", "synthetic_table", "audit_metrics", "compliance_report"} <= materialized(result)
    (event,) = project.ledger().history("adult")
    assert event["status"] == "committed" and event["mechanism"] == "zcdp"
    assert 1.9 <= event["epsilon"] <= 2.0
    model = result.output_for_node("dp_model").as_dict()
    assert model["privacy"]["rho"] > 0 and math.isclose(model["training"]["rho_spent"], model["privacy"]["rho"], rel_tol=1e-12)


def test_too_wide_declared_domain_stops_at_the_config_gate_and_charges_nothing(project, sample_frame):
    def widen(raw):
        for col in raw["columns"]:
            if col["name"] == "occupation":
                col["categories"] = col["categories"] + [f"code-{i}" for i in range(2000)]

    project.edit_schema(widen)
    partition = project.drop("wide.csv", sample_frame)
    result = project.run(partition, config={"generator": "aim", "epsilon": 1.0})
    assert not result.success
    assert "dp_model" not in materialized(result)
    errors = result.output_for_node("dp_config").validation.errors
    assert any("occupation" in e and "direct_identifier" in e for e in errors)
    assert project.ledger().history("adult") == []
