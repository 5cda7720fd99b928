"""Empirical privacy audit: the one-run canary audit of Steinke, Nasr & Jagielski (2023).

Dagster-free. ``run_privacy_audit`` reads private rows and is NOT DP: its result is an
internal statistic (docs/privacy.md, invariant 4). ``bound`` and ``canaries`` read no private values.
"""

from synth_pipeline.privacy_audit.bound import audit_guesses, epsilon_lower_bound, p_value
from synth_pipeline.privacy_audit.canaries import CanaryError, canary_count, make_canaries
from synth_pipeline.privacy_audit.run import (
    AUDITORS, audit_gate, default_auditor, run_privacy_audit, run_privacy_audits)

__all__ = ["AUDITORS", "CanaryError", "audit_gate", "default_auditor", "audit_guesses", "canary_count", "epsilon_lower_bound",
           "make_canaries", "p_value", "run_privacy_audit", "run_privacy_audits"]
