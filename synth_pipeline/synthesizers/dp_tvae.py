"""DP-TVAE: a TVAE-style variational autoencoder trained end to end with DP-SGD (Opacus).

Reads private values, DP: every parameter of the encoder and decoder is trained with
Opacus' DP-SGD (Poisson sampling of rows, per-sample clipping to ``max_grad_norm``,
Gaussian noise ``noise_multiplier · max_grad_norm``). The privacy unit is one row. The
ledger charge is the caller's: this class only trains to the plan it is given and never
runs a step beyond ``plan.steps``. Column transforms come from the public schema only.
The decoder alone, with Gaussian latent draws, produces synthetic rows: post-processing.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from synth_pipeline.privacy.accounting import dp_sgd_epsilon
from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan
from synth_pipeline.synthesizers.device import training_device
from synth_pipeline.synthesizers.transforms import TableCodec

log = logging.getLogger(__name__)

NUMERIC_SIGMA = 0.1  # fixed decoder scale of numeric outputs (a learned one is not per-sample clippable)
STATE_FILE = "model.pt"
META_FILE = "model.json"


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    steps_done: int
    loss: float
    epsilon_so_far: float
    rows_per_second: float


class _VAE(nn.Module):
    """Encoder and decoder MLPs; no BatchNorm (it mixes rows inside a per-sample gradient)."""

    def __init__(self, width: int, hidden: int, latent: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, width))

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h).clamp(-8, 8)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def _per_row_loss(codec: TableCodec, x: torch.Tensor, out: torch.Tensor, mu, logvar,
                  kl_weight: float = 1.0) -> torch.Tensor:
    """Negative ELBO of each row (β-weighted KL): numeric Gaussian error + categorical
    cross-entropy + β·KL. β < 1 resists posterior collapse, which DP noise makes likely."""
    loss = kl_weight * 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1)
    for c in codec.codecs:
        if c.kind == "numeric":
            loss = loss + (x[:, c.start] - out[:, c.start]).pow(2) / (2 * NUMERIC_SIGMA ** 2)
            if c.null_start is not None:
                block = slice(c.null_start, c.null_start + 2)
                loss = loss - (x[:, block] * torch.log_softmax(out[:, block], dim=1)).sum(dim=1)
        else:
            block = slice(c.start, c.start + c.width)
            loss = loss - (x[:, block] * torch.log_softmax(out[:, block], dim=1)).sum(dim=1)
    return loss


class DPTVAE:
    name = "dp-tvae"
    is_dp = True

    def __init__(self, codec: TableCodec, *, hidden: int = 64, latent: int = 16, kl_weight: float = 0.5):
        self.codec = codec
        self.hidden = hidden
        self.latent = latent
        self.kl_weight = kl_weight
        self.model = _VAE(codec.width, hidden, latent)
        self.training_summary: dict = {}

    # -- training -----------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, *, config: SynthesisConfig, plan: TrainingPlan,
            on_epoch: Callable[[EpochReport], None] | None = None,
            on_dp_start: Callable[[], None] | None = None) -> "DPTVAE":
        """Train with DP-SGD to exactly ``plan.steps`` steps.

        ``on_dp_start`` is called right before the first noisy step: from then on DP output
        exists and a crash still counts as spent (the caller commits the ledger there).
        """
        from opacus import PrivacyEngine

        # Opacus warns that secure RNG is off (the model card states it) and torch that the
        # input needs no gradient (true: only the weights do). Neither is actionable here.
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")

        device = training_device()
        torch.manual_seed(config.seed)
        data = torch.from_numpy(self.codec.encode(frame))
        generator = torch.Generator().manual_seed(config.seed)  # Poisson sampling draws from it
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=config.batch_size,
                                             generator=generator)
        self.model.to(device).train()
        optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        engine = PrivacyEngine(accountant=config.accountant, secure_mode=False)
        model, optimizer, dp_loader = engine.make_private(
            module=self.model, optimizer=optimizer, data_loader=loader, noise_multiplier=plan.noise_multiplier,
            max_grad_norm=config.max_grad_norm, poisson_sampling=True, noise_generator=None,
        )
        if len(dp_loader) != plan.steps_per_epoch:
            raise RuntimeError(f"Opacus plans {len(dp_loader)} steps per epoch, the ledger {plan.steps_per_epoch}")
        if on_dp_start is not None:
            on_dp_start()
        steps, started = 0, time.perf_counter()
        for epoch in range(1, config.epochs + 1):
            epoch_start, rows, total = time.perf_counter(), 0, 0.0
            for (batch,) in dp_loader:
                optimizer.zero_grad(set_to_none=True)
                batch = batch.to(device)
                if len(batch):
                    out, mu, logvar = model(batch)
                    loss = _per_row_loss(self.codec, batch, out, mu, logvar, self.kl_weight).mean()
                    loss.backward()
                    total += float(loss.detach()) * len(batch)
                    rows += len(batch)
                    optimizer.step()
                # An empty Poisson batch is skipped: one fewer noisy step than accounted,
                # which only makes the charged ε conservative.
                steps += 1
            elapsed = time.perf_counter() - epoch_start
            report = EpochReport(
                epoch=epoch, epochs=config.epochs, steps_done=steps, loss=total / max(rows, 1),
                epsilon_so_far=dp_sgd_epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate,
                                              steps=steps, delta=plan.delta, accountant=config.accountant),
                rows_per_second=rows / elapsed if elapsed > 0 else float("nan"),
            )
            log.info("epoch %d/%d loss %.3f ε so far %.3f (%.0f rows/s)", epoch, config.epochs, report.loss,
                     report.epsilon_so_far, report.rows_per_second)
            if on_epoch is not None:
                on_epoch(report)
        if steps != plan.steps:
            raise RuntimeError(f"trained {steps} steps, planned {plan.steps}")
        self.model = model._module.to("cpu").eval()
        self.training_summary = {
            "steps": steps,
            "seconds": time.perf_counter() - started,
            "device": str(device),
            "opacus_epsilon": float(engine.accountant.get_epsilon(plan.delta)),
            "final_loss": report.loss,
        }
        return self

    # -- sampling -------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch: int = 50_000) -> pd.DataFrame:
        """Draw ``n`` rows: post-processing of the DP decoder, no data read."""
        if n < 1:
            raise ValueError(f"the number of rows to sample must be positive, got {n}")
        torch_gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        decoder = self.model.decoder.eval()
        parts = []
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), self.latent, generator=torch_gen)
            out = decoder(z).numpy()
            # The decoder models numeric values as Gaussian with scale NUMERIC_SIGMA: draw from it.
            numeric = out.copy()
            starts = [c.start for c in self.codec.codecs if c.kind == "numeric"]
            numeric[:, starts] += NUMERIC_SIGMA * rng.standard_normal((len(out), len(starts)))
            parts.append(self.codec.decode(numeric, out, rng))
        return pd.concat(parts, ignore_index=True)

    # -- persistence: state dict + JSON, no pickles --------------------------------------
    def save(self, directory: str | Path, *, metadata: dict) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), directory / STATE_FILE)
        meta = {
            "generator": self.name,
            "is_dp": self.is_dp,
            "architecture": {"hidden": self.hidden, "latent": self.latent, "kl_weight": self.kl_weight,
                             "width": self.codec.width},
            "codec": self.codec.to_dict(),
            "training": self.training_summary,
            "versions": {"torch": torch.__version__, "opacus": _version("opacus")},
            **metadata,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "DPTVAE":
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        arch = meta["architecture"]
        obj = cls(TableCodec.from_dict(meta["codec"]), hidden=arch["hidden"], latent=arch["latent"],
                  kl_weight=arch.get("kl_weight", 1.0))
        obj.model.load_state_dict(torch.load(directory / STATE_FILE, weights_only=True, map_location="cpu"))
        obj.model.eval()
        obj.training_summary = meta.get("training", {})
        return obj


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
