"""DP-CTGAN: a CTGAN-style conditional GAN with DP-SGD on the critic, and its twin CTGAN.

Reads private values, DP (``dp-ctgan``): only the critic sees real rows, and it is trained
with Opacus' DP-SGD (Poisson sampling of rows, per-sample clipping, Gaussian noise). The
generator is updated from the critic's output alone, so it is post-processing of the DP
critic. Done right where peers break (docs/privacy.md, "Where DP-SGD generators usually break"):

- privacy unit one row, rows Poisson-sampled first; a real row's condition vector is derived
  from the row itself (a discrete column picked at random, that row's own category), never
  by choosing rows by their values (CTGAN's training-by-sampling);
- pac = 1 under DP and no BatchNorm in the critic (both mix rows inside one per-sample
  gradient); the generator may keep BatchNorm: it never sees real rows;
- no gradient penalty under DP (Opacus' per-sample hooks do not cover its double backward):
  the DP critic uses the standard GAN loss;
- the fake rows in a critic batch are a fixed, public number (the expected real batch size),
  so adding or removing one real row changes the clipped gradient sum by at most the
  clipping norm (a test checks it);
- the condition frequencies the generator draws from are DP (released with the run's
  preprocessing, charged) — never raw counts.

``ctgan`` is the non-private twin (WGAN-GP, pac 10, empirical frequencies): NOT DP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan
from synth_pipeline.synthesizers import persistence, training
from synth_pipeline.synthesizers.device import training_device
from synth_pipeline.synthesizers.training import EpochReport
from synth_pipeline.synthesizers.transforms import OTHER, TableCodec

GUMBEL_TAU = 0.2
GP_WEIGHT = 10.0


class Conditions:
    """Condition vectors over the discrete columns of a codec (categorical and boolean)."""

    def __init__(self, codec: TableCodec, frequencies: dict[str, dict[str, float]]):
        self.blocks = [c for c in codec.codecs if c.kind == "discrete"]
        self.width = sum(c.width for c in self.blocks)
        self.offsets = np.cumsum([0] + [c.width for c in self.blocks])[:-1]
        # Per block: probabilities over its categories (OTHER and unknown values get 0).
        self.probs = []
        for c in self.blocks:
            freq = frequencies.get(c.name, {})
            p = np.array([0.0 if v == OTHER else float(freq.get(v, 0.0)) for v in c.categories])
            self.probs.append(p / p.sum() if p.sum() > 0 else np.where(np.array(c.categories) == OTHER, 0, 1.0)
                              / max(1, len(c.categories) - 1))

    def from_rows(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """For each real row: a column picked at random, the row's own one-hot there."""
        cond = torch.zeros(len(rows), self.width)
        if not self.blocks or not len(rows):
            return cond
        picks = torch.randint(len(self.blocks), (len(rows),), generator=generator)
        for b, c in enumerate(self.blocks):
            mask = picks == b
            cond[mask, self.offsets[b]:self.offsets[b] + c.width] = rows[mask, c.start:c.start + c.width]
        return cond

    def draw(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """n condition vectors from the (DP) frequencies; also the picked blocks and categories."""
        cond = torch.zeros(n, self.width)
        if not self.blocks:
            return cond, np.zeros(n, dtype=int), np.zeros(n, dtype=int)
        picks = rng.integers(len(self.blocks), size=n)
        cats = np.zeros(n, dtype=int)
        for b in range(len(self.blocks)):
            idx = np.flatnonzero(picks == b)
            cats[idx] = rng.choice(len(self.probs[b]), size=len(idx), p=self.probs[b])
            cond[idx, self.offsets[b] + cats[idx]] = 1.0
        return cond, picks, cats


class _Residual(nn.Module):
    def __init__(self, width_in: int, width_out: int):
        super().__init__()
        self.fc = nn.Linear(width_in, width_out)
        self.bn = nn.BatchNorm1d(width_out)

    def forward(self, x):
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class _Generator(nn.Module):
    def __init__(self, noise: int, cond: int, hidden: int, width: int):
        super().__init__()
        self.body = nn.Sequential(_Residual(noise + cond, hidden), _Residual(noise + cond + hidden, hidden))
        self.out = nn.Linear(noise + cond + 2 * hidden, width)

    def forward(self, z, cond):
        return self.out(self.body(torch.cat([z, cond], dim=1)))


class _Critic(nn.Module):
    """No BatchNorm: under DP every sample's gradient must depend on that sample alone."""

    def __init__(self, width: int, hidden: int, pac: int):
        super().__init__()
        self.pac = pac
        self.net = nn.Sequential(nn.Linear(width * pac, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(hidden, 1))

    def forward(self, x):
        if self.pac == 1:  # rows on the last axis: (rows, width) or a person batch (persons, k, width)
            return self.net(x)
        return self.net(x.reshape(-1, x.shape[1] * self.pac))


class _PersonBCE:
    """The critic's loss per sample for a person batch: each person's summed per-row BCE
    over its real rows (``target`` is (labels, mask)); ``reduction`` as Opacus' ghost
    clipping sets it."""

    reduction = "mean"

    def __call__(self, logits: torch.Tensor, target) -> torch.Tensor:
        labels, mask = target
        per_sample = training.per_unit(F.binary_cross_entropy_with_logits(logits, labels, reduction="none"), mask)
        if self.reduction == "none":
            return per_sample
        return per_sample.mean() if len(per_sample) else per_sample.sum()


class DPCTGAN:
    name = "dp-ctgan"
    is_dp = True
    grad_sample_mode = "ghost"  # ghost clipping of the critic (BENCHMARKS.md); tests check the bound
    dp_scope = ("the critic is trained with DP-SGD; the generator sees only the critic (post-processing); "
                "condition frequencies are DP statistics")

    def __init__(self, codec: TableCodec, *, noise: int = 64, hidden: int = 128, critic_hidden: int = 128,
                 pac: int | None = None, generator_lr: float = 2e-4):
        self.codec = codec
        self.noise, self.hidden, self.critic_hidden = noise, hidden, critic_hidden
        self.pac = 1 if self.is_dp else (pac or 10)
        if self.is_dp and pac not in (None, 1):
            raise ValueError("under DP the critic takes pac = 1 (packs after sampling mix rows)")
        self.generator_lr = generator_lr
        self.frequencies: dict[str, dict[str, float]] = {}
        self.conditions = Conditions(codec, {})
        self.generator = _Generator(noise, self.conditions.width, hidden, codec.width)
        self.training_summary: dict = {}

    # -- generator output ---------------------------------------------------------
    def _activate(self, raw: torch.Tensor, hard: bool = False) -> torch.Tensor:
        parts = []
        for c in self.codec.codecs:
            block = raw[:, c.start:c.start + c.width]
            if c.kind == "numeric":
                parts.append(torch.tanh(block[:, :1]))
                if c.width > 1:
                    parts.append(F.gumbel_softmax(block[:, 1:], tau=GUMBEL_TAU, hard=hard))
            else:
                parts.append(F.gumbel_softmax(block, tau=GUMBEL_TAU, hard=hard))
        return torch.cat(parts, dim=1)

    def _condition_loss(self, raw: torch.Tensor, picks: np.ndarray, cats: np.ndarray) -> torch.Tensor:
        """Cross-entropy making each fake row carry its condition's category."""
        if not self.conditions.blocks:
            return raw.sum() * 0
        losses = []
        for b, c in enumerate(self.conditions.blocks):
            idx = np.flatnonzero(picks == b)
            if len(idx):
                logits = raw[idx, c.start:c.start + c.width]
                losses.append(F.cross_entropy(logits, torch.as_tensor(cats[idx]), reduction="sum"))
        return sum(losses) / len(raw)

    # -- training -------------------------------------------------------------------
    def check(self) -> None:
        """Nothing to refuse on public facts beyond what the codec already checked."""

    def fit(self, frame: pd.DataFrame, *, config: SynthesisConfig, plan: TrainingPlan,
            on_epoch: Callable[[EpochReport], None] | None = None,
            on_dp_start: Callable[[], None] | None = None,
            frequencies: dict[str, dict[str, float]] | None = None, units=None, **_) -> "DPCTGAN":
        """Train to exactly ``plan.steps`` critic steps, one generator step after each.

        ``frequencies`` (DP, from the run's preprocessing) drive the generator's conditions;
        the non-private twin computes them from the rows."""
        device = training_device()
        # config.seed: weight initialisation only. The randomness used while training (dropout,
        # fake rows, condition picks) is consumed in amounts that follow the private batch
        # sizes, so a public seed would let one person shift everyone's later draws: under DP it
        # comes from a fresh secret seed (training.fresh_training_seed); the critic's noise and
        # Poisson sampling are secret too (training.py).
        torch.manual_seed(config.seed)
        self.generator = _Generator(self.noise, self.conditions.width, self.hidden, self.codec.width)
        critic = _Critic(self.codec.width + self.conditions.width, self.critic_hidden, self.pac)
        run_seed = training.fresh_training_seed() if self.is_dp else config.seed
        torch.manual_seed(run_seed)
        rng = np.random.default_rng(run_seed)
        cond_gen = torch.Generator().manual_seed(run_seed + 1)
        data = torch.from_numpy(self.codec.encode(frame))
        if self.is_dp:
            if frequencies is None:
                raise ValueError("dp-ctgan needs DP category frequencies (plan them with marginals=True)")
            self.frequencies = frequencies
        else:
            self.frequencies = {c.name: frame[c.name].astype("string").value_counts(normalize=True).to_dict()
                                for c in self.conditions.blocks}
        self.conditions = Conditions(self.codec, self.frequencies)
        critic = critic.to(device).train()
        self.generator.to(device).train()
        betas = (0.5, 0.9)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=config.learning_rate, betas=betas)
        gen_opt = torch.optim.Adam(self.generator.parameters(), lr=self.generator_lr, betas=betas)
        persons = self.is_dp and plan.privacy_unit is not None
        prepared = training.prepare(critic, critic_opt, data, config=config, plan=plan, private=self.is_dp,
                                    grad_sample_mode=self.grad_sample_mode, units=units,
                                    criterion=_PersonBCE() if persons else nn.BCEWithLogitsLoss())
        critic, critic_opt, bce = prepared.module, prepared.optimizer, prepared.criterion
        # Public and fixed (never the real batch size): one real row moves the gradient sum by ≤ C.
        # At least 8, so the generator's BatchNorm has rows to normalise over.
        n_fake = max(config.batch_size, 8)
        n_gen = max(self.pac, n_fake - n_fake % self.pac)

        def fake_batch(n: int):
            cond, picks, cats = self.conditions.draw(n, rng)
            raw = self.generator(torch.randn(n, self.noise, device=device), cond.to(device))
            return raw, cond.to(device), picks, cats

        def person_critic_loss(batch, mask) -> torch.Tensor:
            """DP with a person unit: each real person's rows and n_fake fake "persons" of k
            fake rows (a public, fixed number) as samples; losses summed per person."""
            k = batch.shape[1]
            real_cond = self.conditions.from_rows(batch.reshape(-1, batch.shape[-1]).cpu(), cond_gen)
            # (persons, k, width): an empty Poisson batch keeps its shape (the step still counts)
            real_in = torch.cat([batch, real_cond.reshape(len(batch), k, self.conditions.width).to(device)], -1)
            with torch.no_grad():
                raw, cond, _, _ = fake_batch(n_fake * k)
                fake_in = torch.cat([self._activate(raw), cond], 1).reshape(n_fake, k, -1)
            logits = critic(torch.cat([real_in, fake_in], 0)).squeeze(-1)
            labels = torch.cat([torch.ones(len(batch), k), torch.zeros(n_fake, k)]).to(device)
            return bce(logits, (labels, torch.cat([mask, torch.ones(n_fake, k)]).to(device)))

        def step(batch) -> tuple[float, int]:
            batch, mask = training.batch_rows(batch)
            batch = batch.to(device)
            critic_opt.zero_grad(set_to_none=True)
            if mask is not None:
                critic_loss = person_critic_loss(batch, mask)
                rows = int(mask.sum())
            else:
                critic_loss, rows = row_critic_loss(batch), len(batch)
            critic_loss.backward()
            critic_opt.step()
            generator_step()
            return float(critic_loss.detach()) * rows, rows

        def row_critic_loss(batch) -> torch.Tensor:
            real_cond = self.conditions.from_rows(batch.cpu(), cond_gen).to(device)
            with torch.no_grad():
                raw, cond, _, _ = fake_batch(n_fake)
                fake = self._activate(raw)
            real_in, fake_in = torch.cat([batch, real_cond], 1), torch.cat([fake, cond], 1)
            if self.is_dp:
                logits = critic(torch.cat([real_in, fake_in], 0)).squeeze(1)
                labels = torch.cat([torch.ones(len(batch)), torch.zeros(n_fake)]).to(device)
                critic_loss = bce(logits, labels)
            else:
                m = len(real_in) - len(real_in) % self.pac  # whole packs only
                real_in, fake_in = real_in[:m], fake_in[:m]
                critic_loss = (critic(fake_in).mean() - critic(real_in).mean()
                               + GP_WEIGHT * _gradient_penalty(critic, real_in, fake_in, self.pac))
            return critic_loss

        def generator_step() -> None:
            # Generator step: through the critic, whose weights are frozen and whose
            # per-sample hooks are off (the generator never touches real rows).
            _set_critic_trainable(critic, False)
            gen_opt.zero_grad(set_to_none=True)
            raw, cond, picks, cats = fake_batch(n_gen)
            score = critic(torch.cat([self._activate(raw), cond], 1)).squeeze(1)
            adversarial = F.softplus(-score).mean() if self.is_dp else -score.mean()
            gen_loss = adversarial + self._condition_loss(raw, picks, cats)
            gen_loss.backward()
            gen_opt.step()
            _set_critic_trainable(critic, True)

        summary = training.run(prepared, step, config=config, plan=plan, private=self.is_dp, name=self.name,
                               on_epoch=on_epoch, on_dp_start=on_dp_start)
        self.generator = self.generator.to("cpu").eval()
        # Kept in memory for the privacy audit's white-box score; never saved nor released.
        self.critic = training.unwrap(critic).to("cpu").eval()
        self.training_summary = {**summary, "device": str(device)}
        return self

    @torch.no_grad()
    def record_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-record fit: the final critic's score (logit of "real"), averaged over the
        record's own condition vectors (one per discrete column, as in training); a pack of
        ``pac`` copies of the record for the twin. Higher means the critic takes the record
        for a training row. Only after ``fit`` in this process (the critic is not saved).
        Reads the rows given (the privacy audit's canaries); not DP: internal audit only."""
        critic = getattr(self, "critic", None)
        if critic is None:
            raise ValueError("record_scores needs the critic of a fit in this process (it is never saved)")
        x = torch.from_numpy(self.codec.encode(frame))
        blocks = self.conditions.blocks or [None]
        total = torch.zeros(len(x))
        for b, c in enumerate(blocks):
            cond = torch.zeros(len(x), self.conditions.width)
            if c is not None:
                offset = self.conditions.offsets[b]
                cond[:, offset:offset + c.width] = x[:, c.start:c.start + c.width]
            rows = torch.cat([x, cond], dim=1)
            total += critic(rows.repeat_interleave(self.pac, dim=0)).reshape(-1)
        return (total / len(blocks)).numpy().astype(float)

    # -- sampling -----------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, batch: int = 50_000) -> pd.DataFrame:
        """Draw ``n`` rows: conditions from the stored (DP) frequencies, post-processing only."""
        if n < 1:
            raise ValueError(f"the number of rows to sample must be positive, got {n}")
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.generator.eval()
        parts = []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            cond, _, _ = self.conditions.draw(m, rng)
            raw = self.generator(torch.randn(m, self.noise), cond).numpy()
            parts.append(self.codec.decode(raw, raw, rng))
        return pd.concat(parts, ignore_index=True)

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path, *, metadata: dict) -> Path:
        return persistence.save(directory, self.generator, {
            "generator": self.name,
            "is_dp": self.is_dp,
            "architecture": {"noise": self.noise, "hidden": self.hidden, "critic_hidden": self.critic_hidden,
                             "pac": self.pac, "width": self.codec.width,
                             "note": "the critic is not saved: only the generator is released"},
            "codec": self.codec.to_dict(),
            "condition_frequencies": self.frequencies,
            "training": self.training_summary,
            **metadata,
        })

    @classmethod
    def load(cls, directory: str | Path) -> "DPCTGAN":
        meta = persistence.read_meta(directory)
        arch = meta["architecture"]
        obj = cls(TableCodec.from_dict(meta["codec"]), noise=arch["noise"], hidden=arch["hidden"],
                  critic_hidden=arch["critic_hidden"], pac=None if cls.is_dp else arch["pac"])
        obj.frequencies = meta["condition_frequencies"]
        obj.conditions = Conditions(obj.codec, obj.frequencies)
        persistence.load_state(directory, obj.generator)
        obj.training_summary = meta.get("training", {})
        return obj


class CTGAN(DPCTGAN):
    """The non-private twin (WGAN-GP, pac 10, empirical condition frequencies): NOT DP.
    Reports mark it non-private and the privacy gate never passes it."""

    name = "ctgan"
    is_dp = False
    dp_scope = "none: trained without DP"


def _set_critic_trainable(critic: nn.Module, on: bool) -> None:
    for p in critic.parameters():
        p.requires_grad_(on)
    toggle = getattr(critic, "enable_hooks" if on else "disable_hooks", None)
    if toggle is not None:
        toggle()


def _gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, pac: int) -> torch.Tensor:
    """WGAN-GP on packs (non-private twin only: its double backward is outside DP-SGD)."""
    if not len(real):
        return real.sum() * 0
    alpha = torch.rand(len(real) // pac, 1, 1, device=real.device).repeat(1, pac, real.shape[1]).reshape(real.shape)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grads = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
    return ((grads.reshape(-1, pac * real.shape[1]).norm(2, dim=1) - 1) ** 2).mean()
