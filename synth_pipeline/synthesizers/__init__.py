"""Generators behind one interface: fit under a plan, sample, save and load.

Torch is imported only when a generator class is requested (DESIGN.md: torch only where
training happens), so the Dagster definitions load without it.
"""

from __future__ import annotations


def generator_class(name: str):
    """dp-tvae and dp-ctgan (DP-SGD) and aim and mst (marginal-based, zCDP) are DP; tvae
    and ctgan are the non-private twins of the DP-SGD generators."""
    if name in ("dp-tvae", "tvae"):
        from synth_pipeline.synthesizers.dp_tvae import DPTVAE, TVAE

        return DPTVAE if name == "dp-tvae" else TVAE
    if name in ("dp-ctgan", "ctgan"):
        from synth_pipeline.synthesizers.dp_ctgan import CTGAN, DPCTGAN

        return DPCTGAN if name == "dp-ctgan" else CTGAN
    if name in ("aim", "mst"):
        from synth_pipeline.synthesizers.marginal.aim import AIM
        from synth_pipeline.synthesizers.marginal.mst import MST

        return AIM if name == "aim" else MST
    raise ValueError(f"unknown generator {name!r}")


def load_generator(directory):
    """Load a saved generator from its state dict and JSON metadata (no pickles)."""
    from synth_pipeline.synthesizers.persistence import read_meta

    return generator_class(read_meta(directory)["generator"]).load(directory)
