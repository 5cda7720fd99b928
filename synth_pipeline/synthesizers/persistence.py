"""Saved generators: a torch state dict (or plain arrays) plus a JSON file, never a pickle
of objects.

Reads no data. Loading needs only these files: no private rows. Torch is imported only by
the functions that handle torch weights.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

STATE_FILE = "model.pt"
ARRAYS_FILE = "arrays.npz"
META_FILE = "model.json"


def save(directory: str | Path, module, meta: dict) -> Path:
    """Write the weights of a torch module and the metadata (library versions added)."""
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), directory / STATE_FILE)
    return write_meta(directory, {**meta, "versions": {"torch": torch.__version__, "opacus": version("opacus")}})


def save_arrays(directory: str | Path, arrays: dict, meta: dict) -> Path:
    """Write named numpy arrays (``.npz``, no object arrays) and the metadata."""
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / ARRAYS_FILE, **{k: np.asarray(v, dtype=float) for k, v in arrays.items()})
    return write_meta(directory, meta)


def load_arrays(directory: str | Path) -> dict:
    """Arrays saved by ``save_arrays``; ``allow_pickle=False``: no code runs on load."""
    import numpy as np

    with np.load(Path(directory) / ARRAYS_FILE, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def write_meta(directory: Path, meta: dict) -> Path:
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return directory


def read_meta(directory: str | Path) -> dict:
    return json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))


def load_state(directory: str | Path, module) -> None:
    """Weights only (``weights_only=True``: no code runs on load), onto the CPU."""
    import torch

    module.load_state_dict(torch.load(Path(directory) / STATE_FILE, weights_only=True, map_location="cpu"))
    module.eval()
