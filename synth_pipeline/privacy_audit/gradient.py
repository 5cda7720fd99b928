"""Gradient canaries: a white-box audit of DP-SGD itself (the Dirac canaries of Steinke,
Nasr & Jagielski 2023), for the DP-SGD generators and their twins.

Each of m canaries is a gradient of norm C (the clipping bound) on one coordinate of one
weight tensor, the worst case DP-SGD's guarantee covers. A canary is in the run with
probability 1/2 (seeded coin flips); an included canary is Poisson-sampled into each
step's clipped sum with the plan's sample rate, as a row would be, before Opacus adds its
noise. The auditor sees every step's released (noisy) gradient on those coordinates and,
being white box, knows the data's own clipped sum there and takes it off: what is left is
the canaries' part plus the noise. Each canary's score is the log-likelihood ratio of
"sampled with rate q at each step" against "never present" (Gaussian noise σ·C); with no
noise (the twins, a broken mechanism) it is the plain sum.

Reads private values, NOT DP: it observes a fit on the training rows, like the rest of the
audit (internal, never released, nothing charged). The scores depend on the coin flips only
through the canaries' own gradients, so the one-run bound applies unchanged.
"""

from __future__ import annotations

import math

import numpy as np


class GradientCanaries:
    """Attach to the first optimizer a fit prepares (``training.optimizer_observer``)."""

    def __init__(self, included: np.ndarray, *, sample_rate: float, clip: float, noise_multiplier: float,
                 seed: int):
        self.included = np.asarray(included, dtype=bool)
        self.m = len(self.included)
        self.q = float(sample_rate)
        self.clip = float(clip)
        self.sigma = float(noise_multiplier)
        self.rng = np.random.default_rng([seed, 0x6C])
        self.score = np.zeros(self.m)
        self.steps_observed = 0
        self.attached = False

    def __call__(self, optimizer, private: bool) -> None:
        if self.attached:
            return  # a GAN prepares a second optimizer: the first (the critic, under DP) carries the canaries
        params = [p for group in optimizer.param_groups for p in group["params"] if p.numel() >= self.m]
        if not params:
            raise ValueError(f"no weight tensor holds {self.m} coordinates: use fewer canaries")
        import torch  # only when a fit prepares an optimizer: torch is already loaded then

        self.param = max(params, key=lambda p: p.numel())
        self.coords = torch.as_tensor(self.rng.choice(self.param.numel(), size=self.m, replace=False))
        self.attached = True
        if private:
            self._wrap_noise(optimizer)
        else:
            self._wrap_step(optimizer)

    def _sampled(self) -> np.ndarray:
        return self.included & (self.rng.random(self.m) < self.q)

    def _wrap_noise(self, optimizer) -> None:
        import torch

        add_noise = optimizer.add_noise

        def add_noise_with_canaries():
            summed = getattr(self.param, "summed_grad", None)
            if summed is None:
                return add_noise()
            flat = summed.view(-1)
            data_part = flat[self.coords].detach().clone()
            flat[self.coords] += self.clip * torch.as_tensor(self._sampled(), dtype=flat.dtype)
            add_noise()
            self._observe((self.param.grad.view(-1)[self.coords].detach() - data_part).numpy())

        optimizer.add_noise = add_noise_with_canaries

    def _wrap_step(self, optimizer) -> None:
        import torch

        step = optimizer.step

        def step_with_canaries(*args, **kwargs):
            if self.param.grad is not None:
                canaries = self.clip * self._sampled()
                self.param.grad.view(-1)[self.coords] += torch.as_tensor(canaries, dtype=self.param.grad.dtype)
                self._observe(canaries)
            return step(*args, **kwargs)

        optimizer.step = step_with_canaries

    def _observe(self, x: np.ndarray) -> None:
        self.steps_observed += 1
        if self.sigma <= 0:
            self.score += x
            return
        s2 = (self.sigma * self.clip) ** 2
        # log(1 − q + q·exp((x·C − C²/2)/s²)), computed stably.
        log_ratio = (x * self.clip - self.clip ** 2 / 2) / s2
        self.score += np.logaddexp(math.log1p(-self.q), math.log(self.q) + log_ratio)

    def scores(self) -> np.ndarray:
        if not self.attached:
            raise RuntimeError("the gradient canaries were never attached: the generator prepared no optimizer")
        return self.score.copy()
