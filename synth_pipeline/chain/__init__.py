"""The release path's one owner (``ReleaseChain``), its typed stage records and its gates.
Dagster-free: the Dagster assets, the CLI and the sweep call it and add nothing of their own."""

from synth_pipeline.chain.gates import GateFailed
from synth_pipeline.chain.release_chain import ChainRun, ReleaseChain, safe_name

__all__ = ["ChainRun", "GateFailed", "ReleaseChain", "safe_name"]
