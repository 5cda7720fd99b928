"""Audit metrics: computed on private data, not DP, for the internal review only (docs/privacy.md, invariant 4)."""
