"""Secret randomness: the draws a DP proof relies on.

Gaussian noise (DP-SGD, marginal measurements, DP statistics), Poisson sampling, the
exponential mechanism's picks and the train/holdout split all draw from here. The source
is a ChaCha20 keystream (``cryptography``, the library Great Expectations already pulls
in) under a fresh 256-bit key and nonce read from the operating system's CSPRNG
(``os.urandom``: getrandom(2)) for every draw; reading ``os.urandom`` for every byte was
six times slower and made noise generation the larger part of a DP-SGD step (BENCHMARKS.md).
Nothing is seeded, so no published ``seed`` can regenerate the noise, two releases of one
table share no draw, and no key is kept, stored, logged or returned.
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

SECRET_RANDOMNESS = ("ChaCha20 keystream under a fresh key from the operating system's CSPRNG (os.urandom) for "
                     "every draw, never seeded, stored or logged; "
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


_ZEROS = [bytearray()]  # the plaintext of the keystream, grown as needed (zeros, not secret)


def _secret_words(n: int) -> np.ndarray:
    """``n`` 64-bit words of ChaCha20 keystream under a fresh OS-random key and nonce."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    size = 8 * n
    if len(_ZEROS[0]) < size:
        _ZEROS[0] = bytearray(size)
    # The 16-byte nonce opens with ChaCha20's 32-bit block counter (little-endian): it starts
    # at 0, leaving 256 GiB of keystream. A random counter left a draw of B blocks a B/2**32
    # chance of overflowing mid-draw (an error in ~1% of long DP-SGD fits); the key is fresh
    # per draw, so the other 96 bits need only be random, not unique.
    encryptor = Cipher(algorithms.ChaCha20(os.urandom(32), bytes(4) + os.urandom(12)), mode=None).encryptor()
    out = np.empty(size + 64, dtype=np.uint8)  # update_into wants room for a block more
    written = encryptor.update_into(memoryview(_ZEROS[0])[:size], out)
    if written != size:
        raise RuntimeError(f"ChaCha20 gave {written} bytes of keystream, {size} were asked for")
    return out[:size].view(np.uint64)


def _uniform53(n: int) -> np.ndarray:
    """``n`` uniforms in the open interval (0, 1), 53 random bits each."""
    if _REPLAY:
        words = _REPLAY[-1].integers(0, 2 ** 63, size=n, dtype=np.uint64, endpoint=False)
    else:
        words = _secret_words(n)
    return ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def _standard_normal(n: int) -> np.ndarray:
    """``n`` N(0, 1) samples, each the sum of four Box-Muller draws over two."""
    u = _uniform53(4 * n).reshape(2, 2, n)  # 2n (radius, angle) pairs give 4n normals
    radius = np.sqrt(-2.0 * np.log(u[0]))
    angle = 2.0 * math.pi * u[1]
    return ((radius * np.cos(angle)).sum(axis=0) + (radius * np.sin(angle)).sum(axis=0)) / 2.0


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
