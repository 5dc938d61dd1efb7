"""Fine-tune CHGNet on hts's own pw.x labels at pressure.

- **Labels**: ``data/potential/labels.jsonl`` (:mod:`hts.label`): total energy (eV), forces (eV/A), stress (GPa,
  ASE sign: compression negative). CHGNet's ``s`` output is in GPa with the same sign (a squeezed fcc Al cell
  gives -98 GPa on its diagonal; :func:`stress_sign_check`). CHGNet's ``StructureData`` however takes VASP
  stresses (kbar, compression positive) and multiplies them by -0.1, so :func:`structure_data` hands it
  -10 x the label; a test checks that the training targets equal the labels.
- **Energy zero**: pseudopotentials and CHGNet's training data (VASP PAW) differ by a constant per element.
  :func:`fit_offsets` fits one offset per element (least squares of DFT minus model energy per atom over the
  element shares); the labels are shifted by them before training, and the offsets travel with the model, so
  formation enthalpies (offset-invariant) are what the model learns.
- **Split**: grouped by prototype (``origin.source`` + phase or prototype formula), never by random frame, so
  validation cells are of prototypes the model did not see.
- **Saved model**: a directory with ``weights.pt`` (a state dict: loading runs no code) and ``model.json``
  (training-set hash, element coverage, offsets, settings, metrics). :func:`load_finetuned` refuses elements
  outside the coverage.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hts.potential.batching import AngleCappedBatches, bond_angles
from hts.potential.split import grouped_split, label_group, split_by_groups
from hts.potential.wall import WALL_WEIGHTS, energy_free, loss_weights, weighted_targets, within_pressure

__all__ = ["LAST_LAYERS", "START_OFFSET_FITS", "WALL_WEIGHTS", "FinetuneSettings", "energy_free", "energy_trained",
           "fit_offsets", "grouped_split", "load_finetuned", "label_files", "loss_weights", "read_label_files",
           "read_labels", "refit_offsets", "stress_sign_check", "structure_data", "train", "training_labels"]


LAST_LAYERS = ("atom_conv_layers.3", "bond_conv_layers.2", "mlp", "composition_model")
START_OFFSET_FITS = ("per_atom", "total")  # FinetuneSettings.start_offset_fit: how the starting offsets are fit


@dataclass(frozen=True)
class FinetuneSettings:
    """Training recipe (docs/potential.md, session 15): every layer trained, small batches for many optimizer steps,
    and loss weights set against the accuracy targets (20 meV/atom, 3 GPa), because at 100-300 GPa stress errors of
    tens of GPa otherwise swamp the energy term and phase energy differences are never learned."""

    epochs: int = 20
    learning_rate: float = 2e-3
    batch_size: int = 4
    energy_loss_ratio: float = 20.0
    force_loss_ratio: float = 1.0
    stress_loss_ratio: float = 0.01
    trainable: tuple[str, ...] = ("",)  # parameter-name prefixes; "" is every layer, LAST_LAYERS the session-14 recipe
    val_share: float = 0.2
    seed: int = 0
    family: str | None = "psl-us-pbe"  # labels of this pseudopotential family only (None: all)
    max_pressure_GPa: float = 1000.0  # labels beyond it stay in the file but are not trained on: under an MSE loss a
    # strongly compressed cell (a Y label at 2257 GPa) would outweigh every label in the 50-300 GPa screening range
    wall_max_pressure_GPa: float | None = None  # cells of one element other than H are kept up to this pressure
    # instead (None: max_pressure_GPa): the compressed metal cells are the repulsive wall that stops the spurious
    # collapse of Ba, Y and La phases, and with one or two atoms they cost little per epoch
    wall_energies: bool = True  # False: the wall cells beyond max_pressure_GPa train forces and stresses only; their
    # energies, eV away from the screening range, then pull neither the energy fit nor the per-element offsets
    wall_hydrogen: bool = False  # True: hydrogen's one-element cells are wall cells too
    wall_weight: str = "equal"  # "relative": each wall cell beyond max_pressure_GPa weighs (max_pressure / |P|)^2 in
    # every loss term, so its errors count relative to its pressure (under MSE a 5 % stress error at 1000 GPa would
    # otherwise weigh 8x one at 350 GPa, and the wall would set the fit in the screening range)
    start_from: str | None = None  # a saved model directory whose weights training continues from (None: stock
    # CHGNet): a second stage, which keeps that model's held-out groups (val_share and seed then do not split)
    bond_graph_cutoff_A: float = 3.0  # CHGNet's three-body cutoff (stock 3 A); a shorter one cuts the bond angles that
    # set an epoch's cost (2.5 A: a third of them on the labels, benchmarks/bond_cutoff_cost.py); the model keeps it
    start_offset_fit: str = "per_atom"  # fit of the offsets the labels are shifted by before training: "per_atom" or
    # "total" (as before session 24: the shipped members' first stage); the saved offsets are per atom either way
    loss: str = "mse"  # or "huber" (SevenNet only: its own fine-tuning loss; the weights then count linear errors)
    max_angles_per_batch: int | None = None  # a batch closes before it passes this many bond angles (None: batch_size
    # labels whatever their size); bounds the training's memory when dense cells join (hts.potential.batching)
    label_weights: tuple[tuple[str, float], ...] = ()  # SevenNet only: (label file, w) pairs; every loss term of
    # that file's labels weighs w (others 1): a few labels of a kind the model gets wrong (frozen phonons) count more


# the packages whose versions decide a training run's bytes (recorded in model.json; pinned in constraints.txt)
PACKAGES = ("torch", "chgnet", "numpy", "scipy", "pymatgen", "ase")


def read_labels(path: Path, family: str | None = None) -> list[dict]:
    """The ``ok`` labels of an exported file (of pseudopotential ``family`` only, if given), each with a pymatgen
    Structure under ``structure``."""
    from pymatgen.core import Lattice, Structure

    from hts.label.run import read_rows

    out = []
    for r in read_rows(Path(path)):
        if r.get("status") != "ok" or (family and (r.get("settings") or {}).get("family") != family):
            continue
        r["structure"] = Structure(Lattice(r["lattice_A"]), r["species"], r["positions_A"], coords_are_cartesian=True)
        out.append(r)
    return out


def _paths(paths) -> list[Path]:
    """One label file or several, as a list of paths."""
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(f) for f in paths]


def read_label_files(paths, family: str | None = None) -> list[dict]:
    """:func:`read_labels` of one file or several, in order, each label with its file under ``label_file``; a label
    id in two files is read once: the one of the finest k spacing (``hts label --relabel``), else the first."""
    from hts.label.run import k_spacing

    out: dict[str, dict] = {}
    for path in _paths(paths):
        for r in read_labels(path, family):
            old = out.get(r["id"])
            if old is None or k_spacing(r) < k_spacing(old) - 1e-9:
                out[r["id"]] = {**r, "label_file": path}
    return list(out.values())


def label_files(meta: dict) -> list[Path]:
    """The label files a saved model (its model.json) was trained from."""
    return [Path(f) for f in meta.get("labels_files") or [meta["labels_file"]]]


def fit_offsets(labels: list[dict], model_energies_eV: list[float], per_atom: bool = True) -> dict[str, float]:
    """Per-element offsets mu (eV/atom) minimising sum ((E_dft - E_model - sum_el n_el mu_el) / n)^2.

    Per atom, as the training loss and the benchmarks measure energies: a fit of total energies (``per_atom=False``,
    n = 1) lets the many-atom cells pull the offsets and leaves the one-atom element cells hundreds of meV/atom off
    (session 24)."""
    elements = sorted({s for r in labels for s in r["species"]})
    a = np.array([[r["species"].count(e) for e in elements] for r in labels], dtype=float)
    b = np.array([r["energy_eV"] - em for r, em in zip(labels, model_energies_eV)])
    n = a.sum(axis=1) if per_atom else np.ones(len(labels))
    mu, *_ = np.linalg.lstsq(a / n[:, None], b / n, rcond=None)
    return {e: float(m) for e, m in zip(elements, mu)}


OFFSET_FIT = "per_atom"  # recorded in model.json; models without the key had their offsets fit on total energies


def refit_offsets(model_dir: Path) -> dict:
    """Fit a saved model's per-element offsets again on the labels it trained on (:func:`fit_offsets`); the weights
    are untouched. Rewrites and returns its model.json."""
    model_dir = Path(model_dir)
    model, meta = load_finetuned(model_dir)
    train_ids = set(meta["train_ids"])
    files = label_files(meta)
    labels = [r for r in read_label_files(files, (meta.get("settings") or {}).get("family")) if r["id"] in train_ids]
    if len(labels) != len(train_ids):
        raise ValueError(f"{', '.join(map(str, files))} hold {len(labels)} of the {len(train_ids)} labels {model_dir} "
                         "trained on")
    fit = energy_trained(labels, meta)
    meta["offsets_eV_per_atom"] = fit_offsets(fit, total_energies(model, fit))
    meta["offset_fit"] = OFFSET_FIT
    tmp = model_dir / f".model.json.{os.getpid()}.tmp"  # a killed refit leaves the old model.json whole
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, model_dir / "model.json")
    return meta


def total_energies(model, labels: list[dict]) -> list[float]:
    """A CHGNet model's total energies (eV, its own scale) of the labels' structures."""
    return [float(p["e"]) * len(r["species"]) for r, p in zip(labels, model.predict_structure(
        [r["structure"] for r in labels], task="e", batch_size=4))]  # energies only, small batches: dense cells at
    # 250 GPa have so many bond angles that a batch of 16 with forces took 11 GB


def shifted_energy(label: dict, offsets: dict[str, float]) -> float:
    """DFT total energy minus the per-element offsets (eV): on the model's energy scale."""
    return label["energy_eV"] - sum(offsets[s] for s in label["species"])


def stress_sign_check(model=None) -> float:
    """CHGNet's diagonal stress (GPa) for fcc Al squeezed to 9.8 A^3/atom: negative means ASE's sign."""
    from chgnet.model import CHGNet
    from pymatgen.core import Lattice, Structure

    model = model or CHGNet.load(verbose=False)
    s = Structure(Lattice.cubic(3.4), ["Al"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    return float(np.mean(np.diag(model.predict_structure(s)["s"])))


def structure_data(labels: list[dict], offsets: dict[str, float], no_energy: set[str] = frozenset(),
                   graph_converter=None, weights: dict[str, float] | None = None):
    """CHGNet's training set of ``labels``: energies per atom on the model's scale (offsets removed), forces, and
    stresses handed over in the VASP convention StructureData expects (kbar, positive under compression: it
    multiplies by -0.1 to get GPa with ASE's sign), so its targets are the labels' GPa stresses unchanged.
    Labels whose id is in ``no_energy`` get a NaN energy, which CHGNet's loss leaves out. ``graph_converter``: the
    model's (its cutoffs); None is CHGNet's default (6 and 3 A). ``weights`` (by id, default 1): each item's
    targets also carry its loss weight under ``w``."""
    from chgnet.data.dataset import StructureData

    cls = StructureData
    if weights:
        import torch

        w = [float(weights.get(r["id"], 1.0)) for r in labels]

        class cls(StructureData):  # noqa: N801 - the weight rides with the targets through collate_graphs
            def __getitem__(self, idx):
                graph, targets = super().__getitem__(idx)
                return graph, {**targets, "w": torch.tensor(w[int(self.keys[idx])])}
    return cls([r["structure"] for r in labels],
               [float("nan") if r["id"] in no_energy else shifted_energy(r, offsets) / len(r["species"])
                for r in labels],
               [r["forces_eV_A"] for r in labels],
               stresses=[(-10.0 * np.asarray(r["stress_GPa"])).tolist() for r in labels], shuffle=False,
               graph_converter=graph_converter)


def energy_trained(labels: list[dict], meta: dict) -> list[dict]:
    """The labels among ``labels`` whose energies the saved model of ``meta`` (its model.json) trained on."""
    train_ids = set(meta["train_ids"])
    no_energy = energy_free(labels, meta.get("settings") or {})
    return [r for r in labels if r["id"] in train_ids and r["id"] not in no_energy]


def _masked_energy_loss(trainer) -> None:
    """CHGNet's loss skips NaN energy targets, but a batch with none left would make the loss NaN: such a batch gets
    the prediction itself as its target (zero loss, zero gradient). Per-label weights (``targets["w"]``, see
    ``loss_weights``) are applied first. The Trainer's own loss is wrapped, settings kept."""
    import torch

    forward = trainer.criterion.forward

    def masked(targets, prediction):
        targets = weighted_targets(targets, prediction)
        if bool(torch.isnan(targets["e"]).all()):
            targets = {**targets, "e": prediction["e"].detach()}
        return forward(targets, prediction)

    trainer.criterion.forward = masked


def training_labels(paths, settings: FinetuneSettings) -> list[dict]:
    """The labels of one label file or several a model is trained on: ``ok``, of the settings' family, within its
    pressure bounds."""
    return within_pressure(read_label_files(paths, settings.family), settings.max_pressure_GPa,
                           settings.wall_max_pressure_GPa, settings.wall_hydrogen)


def training_hash(labels: list[dict]) -> str:
    h = hashlib.sha256()
    for r in sorted(labels, key=lambda r: r["id"]):
        h.update(json.dumps([r["id"], r["energy_eV"], r["forces_eV_A"], r["stress_GPa"]]).encode())
    return h.hexdigest()[:16]


def train(labels_path, out_dir: Path, settings: FinetuneSettings = FinetuneSettings(), threads: int = 2) -> dict:
    """Fine-tune CHGNet on the labels of ``labels_path`` (a file or a list of files); writes ``out_dir``/weights.pt
    and model.json."""
    import torch
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer
    from torch.utils.data import DataLoader

    from hts.relax.mlip import with_bond_cutoff

    if settings.start_offset_fit not in START_OFFSET_FITS:  # refused before any label is read
        raise ValueError(f"start_offset_fit {settings.start_offset_fit!r}: one of {', '.join(START_OFFSET_FITS)}")
    if settings.loss != "mse":  # refused before any label is read
        raise ValueError(f"loss {settings.loss!r}: CHGNet is trained with mse here (huber: base 7net-0)")
    if settings.label_weights:  # refused before any label is read
        raise ValueError("label_weights: SevenNet only (base 7net-0)")
    if settings.wall_weight not in WALL_WEIGHTS:  # refused before any label is read
        raise ValueError(f"wall_weight {settings.wall_weight!r}: one of {', '.join(WALL_WEIGHTS)}")
    if settings.max_angles_per_batch is not None and settings.max_angles_per_batch < 1:
        raise ValueError(f"max_angles_per_batch {settings.max_angles_per_batch}: a positive number of bond angles")
    start = Path(settings.start_from) if settings.start_from else None
    if start and not (start / "weights.pt").is_file():  # refused before any label is read
        raise ValueError(f"start_from {start}: no weights.pt (a model directory of hts finetune --out)")
    first = json.loads((start / "model.json").read_text()) if start else {}
    if start and _bond_cutoff(first) != settings.bond_graph_cutoff_A:  # one cutoff through both stages
        raise ValueError(f"start_from {start}: trained with a bond-graph cutoff of {_bond_cutoff(first):g} A, "
                         f"not {settings.bond_graph_cutoff_A:g} A")
    torch.set_num_threads(threads)
    torch.manual_seed(settings.seed)
    files = _paths(labels_path)
    labels = training_labels(files, settings)
    if len(labels) < 4:
        raise ValueError(f"{', '.join(map(str, files))}: {len(labels)} usable labels of family {settings.family} within "
                         f"{settings.max_pressure_GPa:g} GPa; at least 4 are needed")
    model = with_bond_cutoff(CHGNet.load(verbose=False), settings.bond_graph_cutoff_A)
    if start:
        model.load_state_dict(torch.load(start / "weights.pt", map_location="cpu", weights_only=True))
        # the first stage's held-out groups stay held out (a fresh split would test on its training labels)
        tr, va = split_by_groups(labels, set(first.get("val_groups", [])))
    else:
        tr, va = grouped_split(labels, settings.val_share, settings.seed)
    # CHGNet's Trainer wants a validation set; it only logs it (the weights kept are the last epoch's), so it gets one
    # batch: validating every held-out label each epoch cost a tenth of the training time and changed no weight
    logged = (va or tr)[:settings.batch_size]
    no_energy = energy_free(labels, asdict(settings))
    train_labels = [labels[i] for i in tr]
    fit_labels = [r for r in train_labels if r["id"] not in no_energy]
    offsets = fit_offsets(fit_labels, total_energies(model, fit_labels),  # training labels only: validation unseen
                          per_atom=settings.start_offset_fit == "per_atom")

    from chgnet.data.dataset import collate_graphs

    weights = loss_weights(train_labels, asdict(settings))
    data = structure_data(train_labels, offsets, no_energy, model.graph_converter, weights)
    if settings.max_angles_per_batch:
        cap = settings.max_angles_per_batch
        batches = AngleCappedBatches(bond_angles(data), settings.batch_size, cap, settings.seed)
        train_loader = DataLoader(data, batch_sampler=batches, collate_fn=collate_graphs)
    else:
        train_loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True, collate_fn=collate_graphs)
    val_loader = DataLoader(structure_data([labels[i] for i in logged], offsets, no_energy, model.graph_converter),
                            batch_size=settings.batch_size, collate_fn=collate_graphs)
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(t) for t in settings.trainable)
    trainer = Trainer(model=model, targets="efs", energy_loss_ratio=settings.energy_loss_ratio,
                      force_loss_ratio=settings.force_loss_ratio, stress_loss_ratio=settings.stress_loss_ratio,
                      optimizer="Adam", scheduler="CosLR", criterion="MSE", epochs=settings.epochs,
                      learning_rate=settings.learning_rate, use_device="cpu", print_freq=10**9,
                      torch_seed=settings.seed, data_seed=settings.seed)
    _masked_energy_loss(trainer)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as ckpt:  # CHGNet's per-epoch checkpoints: megabytes each, not kept
        trainer.train(train_loader, val_loader, save_dir=ckpt)
    # the final weights, not CHGNet's best_model: that one is picked by the validation error, and the validation
    # groups are the held-out test of benchmarks/potential_fidelity.py
    best = trainer.model
    best.eval()
    # the per-element reference energies refit with the trained model: Adam moves the composition weights by about
    # the learning rate per step, too little to follow the eV-size shifts that retraining the volume dependence
    # brings; least squares on the training labels settles them (validation labels stay unseen)
    offsets = fit_offsets(fit_labels, total_energies(best, fit_labels))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(best.state_dict(), out_dir / "weights.pt")
    meta = {"base": "chgnet 0.3.0", "training_hash": training_hash(labels), "n_labels": len(labels),
            "n_train": len(tr), "n_val": len(va), "elements": sorted(offsets), "offsets_eV_per_atom": offsets,
            "offset_fit": OFFSET_FIT, "packages": {p: importlib.metadata.version(p) for p in PACKAGES},
            "pressure_range_GPa": [min(r["pressure_GPa"] for r in labels), max(r["pressure_GPa"] for r in labels)],
            "settings": asdict(settings), "train_wall_s": round(time.time() - t0, 1), "labels_files": [str(f) for f in files],
            "val_groups": sorted({label_group(labels[i]) for i in va}),
            "train_groups": sorted({label_group(labels[i]) for i in tr}),
            "train_ids": sorted(labels[i]["id"] for i in tr),
            "val_ids": sorted(labels[i]["id"] for i in va)}  # with train_ids: the training hash's labels, files grown or not
    (out_dir / "model.json").write_text(json.dumps(meta, indent=1))
    return meta


def _bond_cutoff(meta: dict) -> float:
    """The bond-graph cutoff (A) a saved model was trained with (models before the setting: CHGNet's 3 A)."""
    return float((meta.get("settings") or {}).get("bond_graph_cutoff_A", 3.0))


def load_finetuned(model_dir: Path, elements: list[str] | None = None):
    """(CHGNet with the fine-tuned weights, its model.json); refuses ``elements`` outside its coverage."""
    import torch

    from hts.relax.mlip import chgnet_inference_model

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    from hts.potential.sevennet import is_sevennet  # lazy: sevennet reads this module's label functions
    if is_sevennet(meta):
        raise ValueError(f"{model_dir} is a fine-tuned SevenNet: hts.potential.sevennet.load_sevennet loads it")
    if elements is not None:
        outside = sorted(set(elements) - set(meta["elements"]))
        if outside:
            raise ValueError(f"fine-tuned model {model_dir} covers {meta['elements']}, not {outside}")
    model = chgnet_inference_model(_bond_cutoff(meta))
    model.load_state_dict(torch.load(model_dir / "weights.pt", map_location="cpu", weights_only=True))
    model.eval()
    return model, meta
