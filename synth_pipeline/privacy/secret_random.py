"""Secret randomness: the draws a DP proof relies on.

Gaussian noise (DP-SGD, marginal measurements, DP statistics), Poisson sampling, the
exponential mechanism's picks and the train/holdout split all draw from here. The source
is the operating system's CSPRNG (``os.urandom``: getrandom(2), ChaCha20 on Linux), read
fresh for every draw: nothing is seeded, so no published ``seed`` can regenerate the noise,
two releases of one table share no draw, and nothing of it is stored, logged or returned.
A user's ``seed`` steers only what the guarantee does not depend on (weight initialisation,
sampling rows from a fitted model).

Gaussian samples are built from 53-bit uniforms by Box-Muller, each one the sum of four such
draws divided by two (Holohan & Braghin 2021, section 5.1; what Opacus' ``secure_mode`` does,
whose CSPRNG back end torchcsprng no longer installs beside torch 2.13). That closes the
floating-point attack that reads the noise off the gaps between representable doubles
(Jin et al. 2022) to the extent Opacus does; what remains, stated in the model card: the
noise is a float64 approximation of a continuous Gaussian, not an exact discrete Gaussian.

Tests that need a repeatable fit use ``replayable_for_tests``: inside it the same functions
draw from a seeded numpy generator and every model fitted there is marked NOT DP (the
``dp_guarantee`` gate fails, nothing is released).

Reads no data.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

_REPLAY: list[np.random.Generator] = []  # non-empty only inside replayable_for_tests
_URANDOM_CHUNK = 1 << 24  # bytes per os.urandom call (getrandom returns at most 32 MiB)

SECRET_RANDOMNESS = ("operating-system CSPRNG (os.urandom), fresh per draw, never seeded, stored or logged; "
                     "Gaussian samples are the sum of four Box-Muller draws over two (Holohan & Braghin 2021), "
                     "as Opacus' secure_mode does")
REPLAYABLE_RANDOMNESS = "replayable (test-only switch): a seeded generator; NOT differentially private"
RESIDUAL_RISK = ("the Gaussian noise is a float64 approximation of a continuous Gaussian (not an exact discrete "
                 "Gaussian); the four-draw sum closes the known floating-point attacks as Opacus' secure_mode does")


class ReproducibleDPRequested(ValueError):
    """A config asked for seeded DP noise; the message points to the test-only switch."""


@contextmanager
def replayable_for_tests(seed: int) -> Iterator[None]:
    """TEST ONLY: within the block every secret draw comes from ``default_rng(seed)``; every
    model fitted here is marked NOT DP, so no gate passes it and it is never released."""
    _REPLAY.append(np.random.default_rng(seed))
    try:
        yield
    finally:
        _REPLAY.pop()


def is_replayable() -> bool:
    """True inside ``replayable_for_tests``: fits made now are NOT DP."""
    return bool(_REPLAY)


def randomness_note() -> str:
    return REPLAYABLE_RANDOMNESS if is_replayable() else SECRET_RANDOMNESS


def _uniform53(n: int) -> np.ndarray:
    """``n`` uniforms in the open interval (0, 1), 53 random bits each."""
    if _REPLAY:
        words = _REPLAY[-1].integers(0, 2 ** 63, size=n, dtype=np.uint64, endpoint=False)
    else:
        raw = b"".join(os.urandom(min(_URANDOM_CHUNK, 8 * n - k)) for k in range(0, 8 * n, _URANDOM_CHUNK))
        words = np.frombuffer(raw, dtype=np.uint64)
    return ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def _standard_normal(n: int) -> np.ndarray:
    """``n`` N(0, 1) samples, each the sum of four Box-Muller draws over two."""
    pairs = 2 * n  # 4n normals from 2n uniform pairs
    u = _uniform53(2 * pairs)
    radius = np.sqrt(-2.0 * np.log(u[:pairs]))
    angle = 2.0 * math.pi * u[pairs:]
    draws = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
    return draws.reshape(4, n).sum(axis=0) / 2.0


def _size(size) -> tuple[tuple[int, ...], int]:
    shape = () if size is None else (tuple(size) if isinstance(size, (tuple, list)) else (int(size),))
    return shape, int(np.prod(shape, dtype=np.int64)) if shape else 1


class SecretRandom:
    """numpy-Generator-shaped draws (``random``, ``normal``, ``gumbel``) from the secret
    source. Holds no state: each call reads the OS CSPRNG afresh."""

    def random(self, size=None):
        shape, n = _size(size)
        out = _uniform53(n)
        return out.reshape(shape) if shape else float(out[0])

    def normal(self, loc: float = 0.0, scale: float = 1.0, size=None):
        shape, n = _size(size)
        out = loc + scale * _standard_normal(n)
        return out.reshape(shape) if shape else float(out[0])

    def gumbel(self, size=None):
        shape, n = _size(size)
        out = -np.log(-np.log(_uniform53(n)))
        return out.reshape(shape) if shape else float(out[0])

    def bernoulli(self, p: float, size: int) -> np.ndarray:
        """``size`` independent coins, each True with probability ``p``."""
        return _uniform53(int(size)) < p


def secret_rng() -> SecretRandom:
    """The generator every DP draw uses (secret unless inside ``replayable_for_tests``)."""
    return SecretRandom()
