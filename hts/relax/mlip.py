"""Machine-learned interatomic potentials whose weights ship inside their PyPI package.

Models are loaded once per process (``get_calculator`` is cached) and reused for every
structure. Nothing here downloads anything.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from importlib.metadata import version

__all__ = ["OFFLINE_MODELS", "get_calculator", "model_version", "set_torch_threads"]

# name -> (package, loader description)
OFFLINE_MODELS = {
    "chgnet": "chgnet",
    "7net-0": "sevenn",
    "7net-l3i5": "sevenn",
    "7net-mf-0": "sevenn",  # multi-fidelity; hts uses its PBE head
}


def set_torch_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)
        os.environ["OMP_NUM_THREADS"] = str(n)


@lru_cache(maxsize=4)
def get_calculator(model: str, device: str = "cpu"):
    """ASE calculator for an offline model on ``device`` ("cpu", "cuda", "cuda:1"); cached so each
    process loads it once. A device this machine lacks raises here, once per batch, not per structure."""
    if model not in OFFLINE_MODELS:
        raise ValueError(f"unknown or non-offline MLIP {model!r}; choose one of {sorted(OFFLINE_MODELS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "chgnet":
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(CHGNet.load(verbose=False), use_device=device)
        from sevenn.calculator import SevenNetCalculator

        kwargs = {"modal": "PBE"} if model == "7net-mf-0" else {}
        return SevenNetCalculator(model, device=device, **kwargs)


def model_version(model: str) -> str:
    """e.g. 'sevenn 0.13.0 / 7net-mf-0 (PBE)'."""
    pkg = OFFLINE_MODELS.get(model, "?")
    suffix = " (PBE head)" if model == "7net-mf-0" else ""
    try:
        return f"{pkg} {version(pkg)} / {model}{suffix}"
    except Exception:
        return f"{pkg} / {model}{suffix}"
