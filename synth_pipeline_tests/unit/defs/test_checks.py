"""The audit's release gates as one Dagster step: every verdict its own check, a failed one
blocking what follows, one gate runnable alone, a missing verdict a failure."""

import dagster as dg

from synth_pipeline.chain.results import Evaluation, Verdict
from synth_pipeline.defs.checks import audit_gates
from synth_pipeline.evaluation.gates import GATES


def _run(verdicts, selection=None):
    @dg.asset(name="audit_metrics")
    def stored_audit() -> Evaluation:
        return Evaluation(metrics={}, verdicts=tuple(verdicts))

    @dg.asset(deps=["audit_metrics"])
    def after_the_gates() -> int:
        return 1

    return dg.materialize([stored_audit, after_the_gates, audit_gates], selection=selection, raise_on_error=False)


def _passing(gate):
    return Verdict(gate=gate, passed=True, description="passed")


def test_each_gate_is_its_own_check_and_a_failed_one_blocks_what_follows():
    first, *rest = [spec.gate for spec in GATES]
    result = _run([Verdict(gate=first, passed=False, description="value 0.4 ≥ 0.5: failed")]
                  + [_passing(g) for g in rest])
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {first: False, **{g: True for g in rest}}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"audit_metrics"}  # after_the_gates never ran


def test_one_gate_runs_alone_and_a_missing_verdict_fails_it():
    gate = GATES[-1].gate
    result = _run([], selection=dg.AssetSelection.assets("audit_metrics").without_checks()
                  | dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("audit_metrics"), gate)))
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == gate and not evaluation.passed
    assert "audit again" in evaluation.description
