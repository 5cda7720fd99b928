"""Audit metrics: computed on private data, not DP, for the internal review only (invariant 4)."""
