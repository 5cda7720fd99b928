"""Saved generators: a torch state dict plus a JSON file, never a pickle of objects.

Reads no data. Loading needs only these two files: no private rows.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import torch

STATE_FILE = "model.pt"
META_FILE = "model.json"


def save(directory: str | Path, module: torch.nn.Module, meta: dict) -> Path:
    """Write the weights and the metadata (library versions added)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), directory / STATE_FILE)
    meta = {**meta, "versions": {"torch": torch.__version__, "opacus": version("opacus")}}
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return directory


def read_meta(directory: str | Path) -> dict:
    return json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))


def load_state(directory: str | Path, module: torch.nn.Module) -> None:
    """Weights only (``weights_only=True``: no code runs on load), onto the CPU."""
    module.load_state_dict(torch.load(Path(directory) / STATE_FILE, weights_only=True, map_location="cpu"))
    module.eval()
