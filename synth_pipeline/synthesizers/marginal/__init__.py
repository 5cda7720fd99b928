"""Marginal-based DP generators (MST, AIM) on mbi, the inference engine of private-pgm.

JAX is switched to float64 (mbi warns that float32 stalls on large tables) with its
persistent compilation cache off (mbi compiles many small programs) before mbi is imported.
XLA's backend optimisation is lowered: mbi's programs are small and compiled once per new
set of cliques, so compile time dominates (measured: AIM on 8 Adult columns 94 s → 60 s).
A user's own ``--xla_backend_optimization_level`` in XLA_FLAGS wins.
"""

import logging
import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

import jax  # noqa: E402  (after XLA_FLAGS: the backend reads them when it starts)

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_enable_compilation_cache", False)
# JAX logs at INFO each accelerator plugin it does not find (TPU, CUDA): noise in run logs.
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
