"""Fine-tune SevenNet (7net-0) on hts's pw.x labels at pressure: the second base of ``hts finetune``.

SevenNet builds its angular terms from spherical harmonics of the bond directions, polynomials in their components,
so its energy is smooth where bonds are collinear; CHGNet's learned Fourier frequencies of the bond angle put a cusp
at every inversion centre (docs/potential.md, session 42), which the phonon check reads as a force constant.

- **Labels, split, energy offsets**: as :mod:`hts.potential.finetune` (the same :class:`FinetuneSettings`, grouped
  split, per-element offsets fit per atom), except that the starting offsets are fit robustly: stock 7net-0 is
  hundreds of eV/atom off on a few compressed hydrogen-rich cells, and one such cell would set every offset.
- **Units**: SevenNet's stress target is minus ASE's stress in eV/A^3 (order xx yy zz xy yz zx) and its loss is in
  kbar; the labels' GPa stresses are converted here, and ``stress_loss_ratio`` (per GPa^2) is divided by 100.
- **Loss**: mean squared errors (``loss="mse"``, as CHGNet) or sevenn's own fine-tuning loss, Huber with delta 0.01
  (``loss="huber"``), nearly linear in every error, so a cell far off does not throw the weights.
- **Saved model**: ``weights.pt`` (a state dict of the 7net-0 architecture) and ``model.json`` with
  ``base: "sevenn <version> / 7net-0"``; :func:`load_sevennet` rebuilds the architecture from the packaged checkpoint.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hts.units import EV_PER_A3_TO_GPA

__all__ = ["BASE", "LOSSES", "is_sevennet", "load_sevennet", "predict", "robust_offsets", "sevennet_graph",
           "stock_model", "train_sevennet"]

BASE = "7net-0"
LOSSES = ("mse", "huber")  # FinetuneSettings.loss values a SevenNet run takes
HUBER_DELTA = 0.01  # sevenn's fine_tune preset: in eV/atom, eV/A and kbar, so nearly every error is in the linear part
log = logging.getLogger(__name__)
CHGNET_ONLY = ("max_angles_per_batch", "wall_weight", "trainable", "start_offset_fit", "bond_graph_cutoff_A")
# FinetuneSettings fields a SevenNet run takes at their defaults only


def is_sevennet(meta: dict) -> bool:
    """True for the model.json of a fine-tuned SevenNet."""
    return str(meta.get("base", "")).startswith("sevenn")


def _checkpoint():
    from sevenn.util import load_checkpoint

    return load_checkpoint(BASE)


def stock_model():
    """Stock 7net-0 (the packaged checkpoint's weights), the base of every fine-tuned SevenNet."""
    return _checkpoint().build_model()


def load_sevennet(model_dir: Path):
    """The 7net-0 architecture with the fine-tuned weights of ``model_dir``, in evaluation mode."""
    import torch

    model = _checkpoint().build_model()
    model.load_state_dict(torch.load(Path(model_dir) / "weights.pt", map_location="cpu", weights_only=True))
    model.eval()
    return model


def sevennet_graph(label: dict, cutoff_A: float, energy_eV: float | None = None, weight: float = 1.0):
    """SevenNet's graph of a label, its targets in SevenNet's convention (``energy_eV`` replaces the label's) and
    its loss ``weight`` (sevenn's data weight, one for energy, forces and stress)."""
    from ase import Atoms
    import sevenn._keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import atoms_to_graph

    s = label["structure"]
    atoms = Atoms([str(x) for x in label["species"]], positions=s.cart_coords, cell=s.lattice.matrix, pbc=True)
    atoms.info["y_energy"] = float(label["energy_eV"] if energy_eV is None else energy_eV)
    atoms.arrays["y_force"] = np.asarray(label["forces_eV_A"], dtype=float)
    atoms.info["y_stress"] = -np.asarray(label["stress_GPa"], dtype=float) / EV_PER_A3_TO_GPA
    graph = atoms_to_graph(atoms, cutoff_A, transfer_info=False, allow_unlabeled=True)
    graph[KEY.DATA_WEIGHT] = {"energy": weight, "force": weight, "stress": weight}
    return AtomGraphData.from_numpy_dict(graph)


def predict(model, labels: list[dict], cutoff_A: float = 5.0, batch_size: int = 4) -> list[dict]:
    """[{e_eV (total, model scale), f (eV/A), p_GPa}] of a SevenNet model for each label's structure."""
    from torch_geometric.loader import DataLoader

    model.eval()
    model.set_is_batch_data(True)
    out = []
    for batch in DataLoader([sevennet_graph(r, cutoff_A) for r in labels], batch_size=batch_size, shuffle=False):
        o = model(batch)
        n = batch["num_atoms"].tolist()
        forces = o["inferred_force"].detach().split(n)
        for i in range(len(n)):
            out.append({"e_eV": float(o["inferred_total_energy"][i].detach()), "f": forces[i].numpy(),
                        "p_GPa": float(o["inferred_stress"][i, :3].detach().mean()) * EV_PER_A3_TO_GPA})
    return out


def robust_offsets(labels: list[dict], model_energies_eV: list[float],
                   thresholds_eV: tuple[float, ...] = (100.0, 20.0, 5.0, 2.0, 1.0)) -> dict[str, float]:
    """Per-element offsets (:func:`~hts.potential.finetune.fit_offsets`) refit with the labels the last fit left more
    than each threshold (eV/atom) off dropped in turn; an element whose labels are all dropped keeps its last offset."""
    from hts.potential.finetune import fit_offsets

    off = fit_offsets(labels, model_energies_eV)
    for t in thresholds_eV:
        keep = [i for i, (r, e) in enumerate(zip(labels, model_energies_eV))
                if abs(r["energy_eV"] - e - sum(off[s] for s in r["species"])) / len(r["species"]) < t]
        if keep:
            off = {**off, **fit_offsets([labels[i] for i in keep], [model_energies_eV[i] for i in keep])}
    return off


def file_weights(files: list[Path], pairs) -> dict[Path, float]:
    """``FinetuneSettings.label_weights`` checked against the label files trained on: {file of ``files``: weight}."""
    out, known = {}, {Path(f).resolve(): Path(f) for f in files}
    for f, w in pairs:
        if Path(f).resolve() not in known:
            raise ValueError(f"label weight {f}: not among the label files ({', '.join(map(str, files))})")
        if not (isinstance(w, (int, float)) and 0 < w < float("inf")):
            raise ValueError(f"label weight {f}: must be a number > 0, got {w!r}")
        out[known[Path(f).resolve()]] = float(w)
    return out


def train_sevennet(labels_path, out_dir: Path, settings, threads: int = 2) -> dict:
    """Fine-tune 7net-0 on the labels of ``labels_path`` (a file or a list) with ``settings`` (a FinetuneSettings);
    writes ``out_dir``/weights.pt and model.json and returns the latter."""
    import torch
    from sevenn.train.loss import ForceLoss, PerAtomEnergyLoss, StressLoss
    from torch_geometric.loader import DataLoader

    from hts.potential import finetune as ft

    if settings.loss not in LOSSES:  # refused before any label is read
        raise ValueError(f"loss {settings.loss!r}: {' or '.join(LOSSES)}")
    default = ft.FinetuneSettings()
    odd = [k for k in CHGNET_ONLY if getattr(settings, k) != getattr(default, k)]
    if odd:  # refused before any label is read
        raise ValueError(f"base {BASE}: {', '.join(odd)} are CHGNet options; leave them at their defaults")
    start = Path(settings.start_from) if settings.start_from else None
    first = json.loads((start / "model.json").read_text()) if start and (start / "model.json").is_file() else {}
    if start and not is_sevennet(first):
        raise ValueError(f"start_from {start}: not a fine-tuned SevenNet (base {first.get('base')!r})")
    torch.set_num_threads(threads)
    torch.manual_seed(settings.seed)
    files = [Path(labels_path)] if isinstance(labels_path, (str, Path)) else [Path(f) for f in labels_path]
    weights = file_weights(files, settings.label_weights)  # refused before any label is read
    labels = ft.training_labels(files, settings)
    if len(labels) < 4:
        raise ValueError(f"{', '.join(map(str, files))}: {len(labels)} usable labels of family {settings.family} within "
                         f"{settings.max_pressure_GPa:g} GPa; at least 4 are needed")
    cp = _checkpoint()
    cutoff = float(cp.config["cutoff"])
    model = load_sevennet(start) if start else cp.build_model()
    if start:  # the first stage's held-out groups stay held out, as in finetune.train
        tr, va = ft.split_by_groups(labels, set(first.get("val_groups", [])))
    else:
        tr, va = ft.grouped_split(labels, settings.val_share, settings.seed)
    no_energy = ft.energy_free(labels, asdict(settings))
    train_labels = [labels[i] for i in tr]
    fit_labels = [r for r in train_labels if r["id"] not in no_energy]
    offsets = robust_offsets(fit_labels, [p["e_eV"] for p in predict(model, fit_labels, cutoff)])
    data = [sevennet_graph(r, cutoff, float("nan") if r["id"] in no_energy else ft.shifted_energy(r, offsets),
                           weights.get(r["label_file"], 1.0)) for r in train_labels]
    loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(settings.seed))
    # mse weights count squared errors (stress per GPa^2 -> per kbar^2), huber's linear ones (per GPa -> per kbar):
    # a cell hundreds of eV/atom off then pulls no harder than one a few meV/atom off
    # per-element losses, each times its label's weight, then the mean: with every weight 1 the plain mse or huber
    crit = torch.nn.MSELoss(reduction="none") if settings.loss == "mse" else \
        torch.nn.HuberLoss(reduction="none", delta=HUBER_DELTA)
    per_kbar = 100.0 if settings.loss == "mse" else 10.0
    losses = [(PerAtomEnergyLoss(criterion=crit, use_weight=True), settings.energy_loss_ratio),
              (ForceLoss(criterion=crit, use_weight=True), settings.force_loss_ratio),
              (StressLoss(criterion=crit, use_weight=True), settings.stress_loss_ratio / per_kbar)]
    opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, settings.epochs * len(loader)))
    t0 = time.time()
    model.set_is_batch_data(True)
    history = []  # mean training loss per cell, per epoch
    for epoch in range(settings.epochs):
        model.train()
        total, seen = 0.0, 0
        for batch in loader:
            opt.zero_grad()
            out = model(batch)
            loss = sum(term.get_loss(out, model) * w for term, w in losses)
            loss.backward()
            total, seen = total + float(loss.detach()) * batch.num_graphs, seen + batch.num_graphs
            # a compressed H-rich cell that stock 7net-0 puts hundreds of eV/atom off would otherwise throw the
            # weights in one step
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            sched.step()
        history.append(round(total / seen, 6))
        log.info("epoch %d/%d: training loss %.4g, %.0f s", epoch + 1, settings.epochs, history[-1], time.time() - t0)
    model.eval()
    offsets = ft.fit_offsets(fit_labels, [p["e_eV"] for p in predict(model, fit_labels, cutoff)])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / "weights.pt")
    meta = {"base": f"sevenn {importlib.metadata.version('sevenn')} / {BASE}", "training_hash": ft.training_hash(labels),
            "n_labels": len(labels), "n_train": len(tr), "n_val": len(va), "elements": sorted(offsets),
            "offsets_eV_per_atom": offsets, "offset_fit": ft.OFFSET_FIT,
            "packages": {p: importlib.metadata.version(p) for p in ("torch", "sevenn", "numpy", "ase")},
            "pressure_range_GPa": [min(r["pressure_GPa"] for r in labels), max(r["pressure_GPa"] for r in labels)],
            "settings": asdict(settings), "train_wall_s": round(time.time() - t0, 1), "train_loss_per_epoch": history,
            "labels_files": [str(f) for f in files],
            "val_groups": sorted({ft.label_group(labels[i]) for i in va}),
            "train_groups": sorted({ft.label_group(labels[i]) for i in tr}),
            "train_ids": sorted(labels[i]["id"] for i in tr), "val_ids": sorted(labels[i]["id"] for i in va)}
    (out_dir / "model.json").write_text(json.dumps(meta, indent=1))
    return meta
