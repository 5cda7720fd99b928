"""The training schedule shared by the generators: DP-SGD through Opacus, or its plain twin.

Reads private values through the ``step`` callback of the caller. Private: Opacus wraps the
module that sees real rows (per-sample clipping to ``max_grad_norm``); each row joins each
step's batch independently with the public rate ``plan.sample_rate`` (Poisson sampling) and
the clipped sum gets Gaussian noise ``noise_multiplier · max_grad_norm``, both drawn from the
secret source (``privacy.secret_random``), never from ``config.seed``; the sum is divided
by the public ``batch_size``, never by the private n. Exactly ``plan.steps`` noisy steps are
taken. ``config.seed`` sets only the weight initialisation. Not private: the same number of
steps over shuffled minibatches of the same size, for comparison only; no guarantee.

With a person unit (``plan.privacy_unit``) the Poisson coins are drawn per person, and a
batch is ``(rows, mask)``: each sampled person's (at most k) rows stacked as one sample of
shape (k, width), zero-padded, with a mask of the real rows. The generator sums its rows'
losses per person, so Opacus' per-sample gradient IS the person's summed gradient, and it is
that sum that is clipped to ``max_grad_norm`` (tests check the bound).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from synth_pipeline.privacy.accounting import dp_sgd_epsilon
from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan
from synth_pipeline.privacy.secret_random import secret_rng
from synth_pipeline.progress import Rounds

log = logging.getLogger(__name__)

# Opacus' per-sample gradient mode, set per generator (measured in BENCHMARKS.md): "ghost"
# (ghost clipping: per-sample norms without per-sample gradients) is fastest for DP-TVAE;
# "ew" (expanded weights) cannot take an empty Poisson batch nor DP-CTGAN's generator step
# through the critic; "functorch" is no faster than "hooks".
DEFAULT_GRAD_SAMPLE_MODE = "hooks"


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    steps_done: int
    loss: float
    epsilon_so_far: float
    rows_per_second: float


@dataclass
class Prepared:
    module: torch.nn.Module  # the (wrapped) module that sees real rows
    optimizer: torch.optim.Optimizer
    loader: torch.utils.data.DataLoader
    engine: object | None  # opacus.PrivacyEngine when private
    criterion: object | None = None  # ghost clipping: the loss goes through Opacus' wrapper


# Audit hooks: each is called as ``observer(optimizer, private)`` on every optimizer that
# ``prepare`` builds. Only the privacy audit's gradient canaries use it; releases never do.
_OPTIMIZER_OBSERVERS: list[Callable] = []


@contextmanager
def optimizer_observer(observer: Callable) -> Iterator[None]:
    """Within the block, ``observer(optimizer, private)`` sees each prepared optimizer."""
    _OPTIMIZER_OBSERVERS.append(observer)
    try:
        yield
    finally:
        _OPTIMIZER_OBSERVERS.remove(observer)


def _observed(prepared: "Prepared", private: bool) -> "Prepared":
    for observer in list(_OPTIMIZER_OBSERVERS):
        observer(prepared.optimizer, private)
    return prepared


class SecretPoissonBatches:
    """Batch sampler of DP-SGD: each of the ``n`` rows joins each batch independently with
    probability ``sample_rate`` (Poisson sampling, empty batches included), ``steps`` batches
    an epoch; the coins come from the secret source (never seeded)."""

    def __init__(self, n: int, *, sample_rate: float, steps: int):
        self.n, self.sample_rate, self.steps = n, sample_rate, steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        rng = secret_rng()
        for _ in range(self.steps):
            yield torch.from_numpy(rng.bernoulli(self.sample_rate, self.n).nonzero()[0])


class _Rows(torch.utils.data.Dataset):
    """The encoded rows; a batch is one indexing (empty batches keep the width). With a
    ``mask`` (a person unit) each sample is a person: a batch is (rows, mask)."""

    def __init__(self, data: torch.Tensor, mask: torch.Tensor | None = None):
        self.data, self.mask = data, mask

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i] if self.mask is None else (self.data[i], self.mask[i])

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.data[index] if self.mask is None else (self.data[index], self.mask[index])


def batch_rows(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(rows, mask) of a batch: a tensor of rows, or a person batch (rows, mask)."""
    return batch if isinstance(batch, tuple) else (batch, None)


def per_unit(per_row: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-sample losses: the rows' own, or each person's sum over its real rows."""
    return per_row if mask is None else (per_row * mask).sum(dim=-1)


def fresh_training_seed() -> int:
    """A seed for the randomness a DP fit uses besides its noise and sampling (dropout, latent
    draws, fake rows): how much of it a step consumes follows the private batch size, so it
    must not be replayable from the published ``seed``. Drawn from the secret source (the
    replayed one inside ``replayable_for_tests``, so test fits stay repeatable)."""
    return int(secret_rng().random() * 2 ** 62)


def _secret_noise(optimizer) -> Callable[[], None]:
    """Opacus' ``add_noise`` with the noise drawn from the secret source (four-draw sums,
    as its secure mode does): Opacus' own secure mode needs torchcsprng, which does not
    install beside torch 2.13, and its default draws from torch's seeded global generator."""
    from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

    rng = secret_rng()

    def add_noise() -> None:
        std = optimizer.noise_multiplier * optimizer.max_grad_norm
        params = list(optimizer.params)
        # One draw for the whole step (one read of the OS source), split across the weights.
        noise = torch.from_numpy(rng.normal(0.0, std, size=sum(p.summed_grad.numel() for p in params)))
        offset = 0
        for p in params:
            _check_processed_flag(p.summed_grad)
            summed = p.summed_grad
            part = noise[offset:offset + summed.numel()].view(summed.shape)
            offset += summed.numel()
            p.grad = (summed + part.to(dtype=summed.dtype, device=summed.device)).view_as(p)
            _mark_as_processed(p.summed_grad)

    return add_noise


def prepare(module: torch.nn.Module, optimizer: torch.optim.Optimizer, data: torch.Tensor, *,
            config: SynthesisConfig, plan: TrainingPlan, private: bool,
            grad_sample_mode: str = DEFAULT_GRAD_SAMPLE_MODE, criterion=None, units=None) -> Prepared:
    """``criterion`` (per-row loss with a ``reduction`` attribute) is needed for "ghost".
    ``units`` (each row's person, 0 … persons−1; rows already bounded to ``plan.rows_per_unit``)
    is needed when the plan's unit is a person: persons are sampled and clipped, not rows."""
    if not private:
        dataset = torch.utils.data.TensorDataset(data)
        generator = torch.Generator().manual_seed(config.seed)  # shuffling only: no guarantee to protect
        # The DP schedule's step count, each step a batch of batch_size rows drawn with replacement.
        sampler = torch.utils.data.RandomSampler(dataset, replacement=True, generator=generator,
                                                 num_samples=plan.steps_per_epoch * config.batch_size)
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, sampler=sampler)
        return _observed(Prepared(module, optimizer, loader, None, criterion), private)
    from opacus import PrivacyEngine

    # Opacus warns that its secure RNG is off (the noise and the sampling are ours, from the
    # secret source) and torch that the input needs no gradient (true: only the weights do).
    warnings.filterwarnings("ignore", message="Secure RNG turned off")
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    dataset = _Rows(data)
    if plan.privacy_unit is not None:
        from synth_pipeline.privacy.contribution import grouped

        if units is None:
            raise ValueError(f"the plan's privacy unit is {plan.privacy_unit!r}: pass each row's person (units=)")
        dataset = _Rows(*grouped(data, units, plan.rows_per_unit))
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=SecretPoissonBatches(len(dataset), sample_rate=plan.sample_rate,
                                                    steps=plan.steps_per_epoch), collate_fn=lambda batch: (batch,))
    engine = PrivacyEngine(accountant=config.accountant, secure_mode=False)
    extra = {"criterion": criterion} if grad_sample_mode == "ghost" else {}
    # poisson_sampling=False: the loader above already samples (Opacus' own sampler would
    # draw from a torch generator and set the rate from n, which is private).
    made = engine.make_private(
        module=module, optimizer=optimizer, data_loader=loader, noise_multiplier=plan.noise_multiplier,
        max_grad_norm=config.max_grad_norm, poisson_sampling=False, grad_sample_mode=grad_sample_mode, **extra,
    )
    if grad_sample_mode == "ghost":
        wrapped, dp_optimizer, criterion, dp_loader = made
    else:
        wrapped, dp_optimizer, dp_loader = made
    if len(dp_loader) != plan.steps_per_epoch:
        raise RuntimeError(f"Opacus plans {len(dp_loader)} steps per epoch, the ledger {plan.steps_per_epoch}")
    # Opacus divides the noisy sum by len(dataset)·q, a function of the private n: the
    # public batch size instead (any public constant keeps the guarantee).
    dp_optimizer.expected_batch_size = config.batch_size
    dp_optimizer.add_noise = _secret_noise(dp_optimizer)
    return _observed(Prepared(wrapped, dp_optimizer, dp_loader, engine, criterion), private)


def epsilon_after(plan: TrainingPlan, steps: int, accountant: str, private: bool) -> float:
    if not private:
        return math.inf
    if plan.relation != "add-remove" and steps < plan.steps:
        return math.nan  # replace-one is accounted by PLD, too slow to run every epoch; the plan holds the total
    return dp_sgd_epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate, steps=steps,
                          delta=plan.rdp_delta, accountant=accountant,
                          preprocessing_noise_multiplier=plan.preprocessing_noise_multiplier, relation=plan.relation)


def run(prepared: Prepared, step: Callable[[torch.Tensor], tuple[float, int]], *, config: SynthesisConfig,
        plan: TrainingPlan, private: bool, name: str, on_epoch: Callable[[EpochReport], None] | None = None,
        on_dp_start: Callable[[], None] | None = None) -> dict:
    """Run ``config.epochs`` epochs; ``step(batch)`` trains on one batch and returns (loss sum, rows).

    ``on_dp_start`` is called right before the first noisy step: from then on DP output
    exists and a crash still counts as spent (the caller commits the ledger there).
    An empty Poisson batch still counts as a step (the accountant assumed it).
    """
    if private and on_dp_start is not None:
        on_dp_start()
    steps, started, report = 0, time.perf_counter(), None
    progress = Rounds(log, name)
    for epoch in range(1, config.epochs + 1):
        epoch_start, rows, total, steps_before = time.perf_counter(), 0, 0.0, steps
        for (batch,) in prepared.loader:
            loss_sum, n = step(batch)
            total += loss_sum
            rows += n
            steps += 1
        elapsed, steps_in_epoch = time.perf_counter() - epoch_start, steps - steps_before
        report = EpochReport(epoch, config.epochs, steps, total / max(rows, 1),
                             epsilon_after(plan, steps, config.accountant, private),
                             rows / elapsed if elapsed > 0 else float("nan"))
        # DP facts and timing only: no loss nor rows/s (both read the private rows; the loss stays in on_epoch).
        progress.line("%s epoch %d/%d: ε so far %.3f, %.1f steps/s", name, epoch, config.epochs,
                      report.epsilon_so_far, steps_in_epoch / elapsed if elapsed > 0 else float("nan"),
                      done=epoch / config.epochs, final=epoch == config.epochs, epoch=epoch,
                      epsilon_so_far=report.epsilon_so_far)
        if on_epoch is not None:
            on_epoch(report)
    if steps != plan.steps:
        raise RuntimeError(f"trained {steps} steps, planned {plan.steps}")
    # No loss here: it is a non-DP figure of the real rows, kept out of the logs and of the
    # saved (released) model metadata.
    summary = {"steps": steps, "seconds": time.perf_counter() - started, "private": private}
    if private and plan.relation == "add-remove":
        # Opacus' own accountant sees DP-SGD only (add/remove): a cross-check of that part of the plan.
        summary["opacus_epsilon_dp_sgd_only"] = float(prepared.engine.accountant.get_epsilon(plan.rdp_delta))
    return summary


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside Opacus' GradSampleModule (or the module itself)."""
    return getattr(module, "_module", module)
