"""The one generator registry: every generator's name, family and class, and the protocol
they share. Reads no data.

Classes are imported only when one is asked for, so that the Dagster definitions, the
CLI and the config checks load without torch (docs/architecture.md: torch only where
training happens).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Protocol, runtime_checkable

import pandas as pd

DP_SGD, MARGINAL, NON_PRIVATE = "dp-sgd", "marginal", "non-private"


@runtime_checkable
class Generator(Protocol):
    """What the chain asks of a generator. ``fit`` states its privacy unit and charge in its
    docstring; ``check`` refuses, on public facts only, what cannot be fitted (domain and
    model-size caps) before anything is charged."""

    name: ClassVar[str]
    is_dp: ClassVar[bool]
    dp_scope: ClassVar[str]
    training_summary: dict

    def check(self) -> None: ...

    def fit(self, frame: pd.DataFrame, *, config, plan, on_epoch: Callable | None = None,
            on_dp_start: Callable | None = None, frequencies: dict | None = None,
            label: str | None = None) -> object: ...

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame: ...

    def save(self, directory: str | Path, *, metadata: dict) -> Path: ...

    @classmethod
    def load(cls, directory: str | Path) -> "Generator": ...


@dataclass(frozen=True, kw_only=True)
class GeneratorInfo:
    name: str
    family: str  # DP_SGD, MARGINAL or NON_PRIVATE
    target: str  # "module:Class", imported on demand
    conditional: bool = False  # needs DP category frequencies (CTGAN's condition vector)

    @property
    def is_dp(self) -> bool:
        return self.family != NON_PRIVATE


GENERATORS: dict[str, GeneratorInfo] = {info.name: info for info in (
    GeneratorInfo(name="dp-tvae", family=DP_SGD, target="synth_pipeline.synthesizers.dp_tvae:DPTVAE"),
    GeneratorInfo(name="dp-ctgan", family=DP_SGD, target="synth_pipeline.synthesizers.dp_ctgan:DPCTGAN",
                  conditional=True),
    GeneratorInfo(name="aim", family=MARGINAL, target="synth_pipeline.synthesizers.marginal.aim:AIM"),
    GeneratorInfo(name="mst", family=MARGINAL, target="synth_pipeline.synthesizers.marginal.mst:MST"),
    GeneratorInfo(name="tvae", family=NON_PRIVATE, target="synth_pipeline.synthesizers.dp_tvae:TVAE"),
    GeneratorInfo(name="ctgan", family=NON_PRIVATE, target="synth_pipeline.synthesizers.dp_ctgan:CTGAN",
                  conditional=True),
)}


def names(*, family: str | None = None, conditional: bool | None = None) -> tuple[str, ...]:
    return tuple(n for n, info in GENERATORS.items()
                 if (family is None or info.family == family)
                 and (conditional is None or info.conditional == conditional))


def generator_info(name: str) -> GeneratorInfo:
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {list(GENERATORS)}")
    return GENERATORS[name]


def generator_class(name: str) -> type:
    """The class behind ``name`` (imports torch for the DP-SGD generators and their twins)."""
    module, _, cls = generator_info(name).target.partition(":")
    return getattr(importlib.import_module(module), cls)


def load_generator(directory: str | Path):
    """Load a saved generator from its state dict and JSON metadata (no pickles)."""
    from synth_pipeline.synthesizers.persistence import read_meta

    return generator_class(read_meta(directory)["generator"]).load(directory)
