"""DP-TVAE: a TVAE-style variational autoencoder trained end to end with DP-SGD (Opacus),
and its non-private twin TVAE.

Reads private values, DP: every parameter of the encoder and decoder is trained with
Opacus' DP-SGD (Poisson sampling of rows, per-sample clipping to ``max_grad_norm``,
Gaussian noise ``noise_multiplier · max_grad_norm``). The privacy unit is one row, or a
person (``plan.privacy_unit``): then persons are sampled and each person's summed gradient is
clipped (``training``). The
ledger charge is the caller's: this class only trains to the plan it is given and never
runs a step beyond ``plan.steps``. Column transforms come from the public schema only.
The decoder alone, with Gaussian latent draws, produces synthetic rows: post-processing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan
from synth_pipeline.synthesizers import persistence, training
from synth_pipeline.synthesizers.device import training_device
from synth_pipeline.synthesizers.training import EpochReport
from synth_pipeline.synthesizers.transforms import TableCodec

log = logging.getLogger(__name__)

NUMERIC_SIGMA = 0.1  # fixed decoder scale of numeric outputs (a learned one is not per-sample clippable)


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
    cross-entropy + β·KL. β < 1 resists posterior collapse, which DP noise makes likely.
    Rows on the last axis: (rows, width) or a person batch (persons, k, width)."""
    loss = kl_weight * 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=-1)
    for c in codec.codecs:
        if c.kind == "numeric":
            loss = loss + (x[..., c.start] - out[..., c.start]).pow(2) / (2 * NUMERIC_SIGMA ** 2)
            if c.null_start is not None:
                block = slice(c.null_start, c.null_start + 2)
                loss = loss - (x[..., block] * torch.log_softmax(out[..., block], dim=-1)).sum(dim=-1)
        else:
            block = slice(c.start, c.start + c.width)
            loss = loss - (x[..., block] * torch.log_softmax(out[..., block], dim=-1)).sum(dim=-1)
    return loss


class _ELBOCriterion:
    """The per-row negative ELBO as a criterion Opacus' ghost clipping can wrap: it sets
    ``reduction`` to "none" to get one loss per sample (a row, or a person's summed rows)."""

    def __init__(self, owner: "DPTVAE"):
        self.owner = owner
        self.reduction = "mean"

    def __call__(self, outputs, batch) -> torch.Tensor:
        out, mu, logvar = outputs
        rows, mask = training.batch_rows(batch)
        per_sample = training.per_unit(_per_row_loss(self.owner.codec, rows, out, mu, logvar, self.owner.kl_weight),
                                       mask)
        if self.reduction == "none":
            return per_sample
        return per_sample.mean() if len(rows) else per_sample.sum()


class DPTVAE:
    name = "dp-tvae"
    is_dp = True
    # Ghost clipping: ~6x faster than hooks here (BENCHMARKS.md); clips each row to the
    # bound and takes empty Poisson batches (tests check both).
    grad_sample_mode = "ghost"
    dp_scope = "every weight of the encoder and decoder is trained with DP-SGD; sampling uses the decoder only"

    def __init__(self, codec: TableCodec, *, hidden: int = 64, latent: int = 16, kl_weight: float = 0.5):
        self.codec = codec
        self.hidden = hidden
        self.latent = latent
        self.kl_weight = kl_weight
        self.model = _VAE(codec.width, hidden, latent)
        self.training_summary: dict = {}

    # -- training -----------------------------------------------------------------
    def check(self) -> None:
        """Nothing to refuse on public facts beyond what the codec already checked."""

    def fit(self, frame: pd.DataFrame, *, config: SynthesisConfig, plan: TrainingPlan,
            on_epoch: Callable[[EpochReport], None] | None = None,
            on_dp_start: Callable[[], None] | None = None, units=None, **_) -> "DPTVAE":
        """Train to exactly ``plan.steps`` steps: DP-SGD on the whole VAE (or plain, for the twin)."""
        device = training_device()
        torch.manual_seed(config.seed)  # weight initialisation only
        self.model = _VAE(self.codec.width, self.hidden, self.latent)
        # The latent draws while training are consumed per sampled row (a private count): under
        # DP from a fresh secret seed, so a public seed cannot tie one person to others' draws.
        torch.manual_seed(training.fresh_training_seed() if self.is_dp else config.seed)
        self.model.to(device).train()
        optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        prepared = training.prepare(self.model, optimizer, torch.from_numpy(self.codec.encode(frame)),
                                    config=config, plan=plan, private=self.is_dp,
                                    grad_sample_mode=self.grad_sample_mode, criterion=_ELBOCriterion(self),
                                    units=units)
        model, optimizer, criterion = prepared.module, prepared.optimizer, prepared.criterion

        def step(batch) -> tuple[float, int]:
            optimizer.zero_grad(set_to_none=True)
            rows, mask = training.batch_rows(batch)
            rows = rows.to(device)
            batch = rows if mask is None else (rows, mask.to(device))
            # An empty Poisson batch still takes its noisy step (the accountant counted it).
            loss = criterion(model(rows), batch)
            loss.backward()
            optimizer.step()
            per_sample = getattr(loss, "loss_per_sample", None)  # ghost clipping keeps the samples' losses
            n = len(rows) if mask is None else int(mask.sum())
            total = (float(per_sample.detach().sum()) if per_sample is not None
                     else float(loss.detach()) * len(rows))
            return total, n

        summary = training.run(prepared, step, config=config, plan=plan, private=self.is_dp, name=self.name,
                               on_epoch=on_epoch, on_dp_start=on_dp_start)
        self.model = training.unwrap(model).to("cpu").eval()
        self.training_summary = {**summary, "device": str(device)}
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

    # -- per-record fit (the privacy audit's white-box score) ---------------------------
    @torch.no_grad()
    def record_scores(self, frame: pd.DataFrame, *, draws: int = 16, seed: int = 0) -> np.ndarray:
        """Per-record fit: the training objective's ELBO (minus the per-row loss the model was
        trained on), averaged over ``draws`` latent draws; higher means the model fits the
        record better. Reads the rows given (the privacy audit passes its synthetic canaries);
        not DP: a view of the model for the internal audit, never released."""
        x = torch.from_numpy(self.codec.encode(frame))
        model = self.model.eval()
        h = model.encoder(x)
        mu, logvar = model.mu(h), model.logvar(h).clamp(-8, 8)
        gen = torch.Generator().manual_seed(seed)
        total = torch.zeros(len(x))
        for _ in range(draws):
            z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
            total += _per_row_loss(self.codec, x, model.decoder(z), mu, logvar, self.kl_weight)
        return (-total / draws).numpy().astype(float)

    # -- persistence: state dict + JSON, no pickles --------------------------------
    def save(self, directory: str | Path, *, metadata: dict) -> Path:
        return persistence.save(directory, self.model, {
            "generator": self.name,
            "is_dp": self.is_dp,
            "architecture": {"hidden": self.hidden, "latent": self.latent, "kl_weight": self.kl_weight,
                             "width": self.codec.width},
            "codec": self.codec.to_dict(),
            "training": self.training_summary,
            **metadata,
        })

    @classmethod
    def load(cls, directory: str | Path) -> "DPTVAE":
        meta = persistence.read_meta(directory)
        arch = meta["architecture"]
        obj = cls(TableCodec.from_dict(meta["codec"]), hidden=arch["hidden"], latent=arch["latent"],
                  kl_weight=arch.get("kl_weight", 1.0))
        persistence.load_state(directory, obj.model)
        obj.training_summary = meta.get("training", {})
        return obj


class TVAE(DPTVAE):
    """The same model trained without DP, for comparison: NOT differentially private. Reports
    mark it non-private and the privacy gate never passes it."""

    name = "tvae"
    is_dp = False
    dp_scope = "none: trained without DP"
