"""The training schedule shared by the generators: DP-SGD through Opacus, or its plain twin.

Reads private values through the ``step`` callback of the caller. Private: Opacus wraps the
module that sees real rows (Poisson sampling with rate ``plan.sample_rate``, per-sample
clipping to ``max_grad_norm``, Gaussian noise ``noise_multiplier · max_grad_norm``);
exactly ``plan.steps`` noisy steps are taken. Not private: the same number of steps over
shuffled minibatches of the same size, for comparison only; no guarantee.
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


def prepare(module: torch.nn.Module, optimizer: torch.optim.Optimizer, data: torch.Tensor, *,
            config: SynthesisConfig, plan: TrainingPlan, private: bool,
            grad_sample_mode: str = DEFAULT_GRAD_SAMPLE_MODE, criterion=None) -> Prepared:
    """``criterion`` (per-row loss with a ``reduction`` attribute) is needed for "ghost"."""
    generator = torch.Generator().manual_seed(config.seed)  # Poisson sampling / shuffling draws from it
    dataset = torch.utils.data.TensorDataset(data)
    if not private:
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                             generator=generator)
        return _observed(Prepared(module, optimizer, loader, None, criterion), private)
    from opacus import PrivacyEngine

    # Opacus warns that secure RNG is off (the model card states it) and torch that the
    # input needs no gradient (true: only the weights do). Neither is actionable here.
    warnings.filterwarnings("ignore", message="Secure RNG turned off")
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, generator=generator)
    engine = PrivacyEngine(accountant=config.accountant, secure_mode=False)
    extra = {"criterion": criterion} if grad_sample_mode == "ghost" else {}
    made = engine.make_private(
        module=module, optimizer=optimizer, data_loader=loader, noise_multiplier=plan.noise_multiplier,
        max_grad_norm=config.max_grad_norm, poisson_sampling=True, grad_sample_mode=grad_sample_mode, **extra,
    )
    if grad_sample_mode == "ghost":
        wrapped, dp_optimizer, criterion, dp_loader = made
    else:
        wrapped, dp_optimizer, dp_loader = made
    if len(dp_loader) != plan.steps_per_epoch:
        raise RuntimeError(f"Opacus plans {len(dp_loader)} steps per epoch, the ledger {plan.steps_per_epoch}")
    return _observed(Prepared(wrapped, dp_optimizer, dp_loader, engine, criterion), private)


def epsilon_after(plan: TrainingPlan, steps: int, accountant: str, private: bool) -> float:
    if not private:
        return math.inf
    return dp_sgd_epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate, steps=steps,
                          delta=plan.rdp_delta, accountant=accountant,
                          preprocessing_noise_multiplier=plan.preprocessing_noise_multiplier)


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
    for epoch in range(1, config.epochs + 1):
        epoch_start, rows, total = time.perf_counter(), 0, 0.0
        for (batch,) in prepared.loader:
            loss_sum, n = step(batch)
            total += loss_sum
            rows += n
            steps += 1
        elapsed = time.perf_counter() - epoch_start
        report = EpochReport(epoch, config.epochs, steps, total / max(rows, 1),
                             epsilon_after(plan, steps, config.accountant, private),
                             rows / elapsed if elapsed > 0 else float("nan"))
        log.info("%s epoch %d/%d loss %.3f ε so far %.3f (%.0f rows/s)", name, epoch, config.epochs, report.loss,
                 report.epsilon_so_far, report.rows_per_second)
        if on_epoch is not None:
            on_epoch(report)
    if steps != plan.steps:
        raise RuntimeError(f"trained {steps} steps, planned {plan.steps}")
    # No loss here: it is a non-DP figure of the real rows, logged for progress but kept out
    # of the saved (released) model metadata.
    summary = {"steps": steps, "seconds": time.perf_counter() - started, "private": private}
    if private:
        # Opacus' own accountant sees DP-SGD only: a cross-check of that part of the plan.
        summary["opacus_epsilon_dp_sgd_only"] = float(prepared.engine.accountant.get_epsilon(plan.rdp_delta))
    return summary


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside Opacus' GradSampleModule (or the module itself)."""
    return getattr(module, "_module", module)
