"""The one place where the training device is chosen: CUDA when torch sees it, else CPU."""

from __future__ import annotations

import os


def training_device():
    """CUDA if available (set SYNTH_PIPELINE_DEVICE=cpu to force the CPU), otherwise CPU."""
    import torch

    forced = os.environ.get("SYNTH_PIPELINE_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
