"""Machine-learned interatomic potentials whose weights ship inside their PyPI package.

Models are loaded once per process (``get_calculator`` is cached) and reused for every
structure. Nothing here downloads anything.

CHGNet runs with an inference force path (``chgnet_inference_model``): forces and stress come
from one backward pass without the double-backward graph that CHGNet builds for training.
Same weights, same numbers (forces agree to 1e-4 eV/A), about 1.7x fewer CPU seconds per call.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from importlib.metadata import version

__all__ = ["OFFLINE_MODELS", "chgnet_inference_model", "finetuned_meta", "get_calculator", "is_finetuned", "model_version",
           "set_torch_threads", "weights_md5", "with_bond_cutoff"]

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


def with_bond_cutoff(model, bond_graph_cutoff_A: float):
    """``model`` (a CHGNet) with its three-body (bond-graph) cutoff set to ``bond_graph_cutoff_A``, weights kept;
    the same model when it already has it. Its graph converter and radial basis follow the cutoff."""
    if float(model.model_args["bond_graph_cutoff"]) == float(bond_graph_cutoff_A):
        return model
    out = type(model)(**(model.model_args | {"bond_graph_cutoff": bond_graph_cutoff_A}))
    out.load_state_dict(model.state_dict())
    return out


def chgnet_inference_model(bond_graph_cutoff_A: float = 3.0):
    """The pretrained CHGNet whose forces (eV/A) and stress (GPa) take one ``autograd.grad`` call.

    Stock CHGNet differentiates the energy twice (forces, then stress), each time with
    ``create_graph=True`` so that training can back-propagate through the forces. Inference
    needs neither; in training mode the stock path is used unchanged.
    """
    import torch
    from chgnet.model import CHGNet

    class InferenceCHGNet(CHGNet):
        def _compute(self, g, *, compute_force: bool = False, compute_stress: bool = False, **kwargs) -> dict:
            if self.training or not (compute_force or compute_stress):
                return super()._compute(g, compute_force=compute_force, compute_stress=compute_stress, **kwargs)
            pred = super()._compute(g, compute_force=False, compute_stress=False, **kwargs)
            # total energy per graph (eV): pred["e"] is per atom when the model is intensive
            total = (pred["e"] * pred["atoms_per_graph"]).sum() if self.is_intensive else pred["e"].sum()
            positions = list(g.atom_positions) if compute_force else []
            strains = list(g.strains) if compute_stress else []
            grads = torch.autograd.grad(total, positions + strains)
            if compute_force:
                pred["f"] = [-gr for gr in grads[: len(positions)]]
            if compute_stress:
                scale = 1 / g.volumes * 160.21766208  # eV/A^3 -> GPa, as in CHGNet
                pred["s"] = [gr * sc for gr, sc in zip(grads[len(positions):], scale, strict=True)]
            return pred

    return with_bond_cutoff(InferenceCHGNet.load(verbose=False), bond_graph_cutoff_A)


@lru_cache(maxsize=4)
def get_calculator(model: str, device: str = "cpu"):
    """ASE calculator for an offline model on ``device`` ("cpu", "cuda", "cuda:1"); cached so each
    process loads it once. A device this machine lacks raises here, once per batch, not per structure."""
    if is_finetuned(model):  # a directory written by hts.potential.finetune or hts.potential.sevennet
        from hts.potential.sevennet import is_sevennet, load_sevennet

        if is_sevennet(finetuned_meta(model)):
            from sevenn.calculator import SevenNetCalculator

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return SevenNetCalculator(load_sevennet(model), device=device)
        from chgnet.model.dynamics import CHGNetCalculator

        from hts.potential.finetune import load_finetuned

        return CHGNetCalculator(load_finetuned(model)[0], use_device=device)
    if model not in OFFLINE_MODELS:
        raise ValueError(f"unknown or non-offline MLIP {model!r}; choose one of {sorted(OFFLINE_MODELS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "chgnet":
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(chgnet_inference_model(), use_device=device)
        from sevenn.calculator import SevenNetCalculator

        kwargs = {"modal": "PBE"} if model == "7net-mf-0" else {}
        return SevenNetCalculator(model, device=device, **kwargs)


def is_finetuned(model: str) -> bool:
    """True for a fine-tuned model directory (weights.pt + model.json) rather than a shipped model name."""
    return model not in OFFLINE_MODELS and os.path.isfile(os.path.join(model, "model.json"))


@lru_cache(maxsize=16)
def finetuned_meta(model: str) -> dict:
    """The model.json of a fine-tuned model directory, read once per process (as its weights are)."""
    import json

    with open(os.path.join(model, "model.json")) as f:
        return json.load(f)


def weights_md5(model: str) -> str | None:
    """md5 (12 hex) of a fine-tuned model's weights.pt, so that results of a model retrained in the same directory
    are told apart; None for a shipped model name."""
    import hashlib

    w = os.path.join(model, "weights.pt")
    if not os.path.isfile(w):
        return None
    with open(w, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()[:12]


def model_version(model: str) -> str:
    """e.g. 'sevenn 0.13.0 / 7net-mf-0 (PBE)'; a fine-tuned model: its base and training-set hash."""
    if is_finetuned(model):
        meta = finetuned_meta(model)
        return f"{meta['base']} fine-tuned on {meta['n_labels']} hts labels ({meta['training_hash']})"
    pkg = OFFLINE_MODELS.get(model, "?")
    suffix = " (PBE head)" if model == "7net-mf-0" else ""
    try:
        return f"{pkg} {version(pkg)} / {model}{suffix}"
    except Exception:
        return f"{pkg} / {model}{suffix}"
