"""Generators behind one interface (``registry.Generator``): fit under a plan, sample, save
and load. The registry is the one list of them; torch is imported only when a DP-SGD
generator's class is asked for."""

from synth_pipeline.synthesizers.registry import GENERATORS, Generator, generator_class, load_generator

__all__ = ["GENERATORS", "Generator", "generator_class", "load_generator"]
