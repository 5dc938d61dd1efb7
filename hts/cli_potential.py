"""``hts finetune``: fine-tune the prescreen potential (CHGNet or SevenNet) on hts's DFT labels."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

__all__ = ["add_potential_commands"]


def _file_weight(text: str) -> tuple[str, float]:
    """``FILE=W`` of ``--label-weight`` as (FILE, W)."""
    path, sep, w = text.rpartition("=")
    try:
        weight = float(w)
    except ValueError:
        weight = float("nan")
    if not sep or not path or not 0 < weight < float("inf"):
        raise ValueError(f"{text!r}: FILE=W with W a number > 0 (labels-soft-modes.jsonl=3)")
    return path, weight


def _cmd_finetune(args) -> int:
    from hts.potential.finetune import LAST_LAYERS, FinetuneSettings, refit_offsets, train

    if args.refit_offsets:
        if not (Path(args.out) / "model.json").is_file():
            print(f"hts finetune: no model in {args.out} (weights.pt + model.json) to refit", file=sys.stderr)
            return 2
        try:
            meta = refit_offsets(Path(args.out))
        except (ValueError, FileNotFoundError) as exc:
            print(f"hts finetune: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"offsets_eV_per_atom": meta["offsets_eV_per_atom"], "offset_fit": meta["offset_fit"]}))
        return 0
    if not 0 <= args.val_share < 1:
        print(f"hts finetune: --val-share must lie in [0, 1), got {args.val_share:g}", file=sys.stderr)
        return 2
    if not 0 < args.bond_cutoff <= 6:
        print(f"hts finetune: --bond-cutoff must lie in (0, 6] A (CHGNet's atom graph reaches 6 A), got "
              f"{args.bond_cutoff:g}", file=sys.stderr)
        return 2
    if args.start_from and not (Path(args.start_from) / "weights.pt").is_file():
        print(f"hts finetune: --start-from {args.start_from}: no weights.pt (a model directory of hts finetune --out)",
              file=sys.stderr)
        return 2
    missing = [f for f in args.labels if not Path(f).is_file()]
    try:
        label_weights = tuple(_file_weight(x) for x in args.label_weight or ())
    except ValueError as exc:
        print(f"hts finetune: --label-weight {exc}", file=sys.stderr)
        return 2
    if missing:
        print(f"hts finetune: no label file {missing[0]} (hts label --export ...)", file=sys.stderr)
        return 2
    settings = FinetuneSettings(epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size, seed=args.seed,
                                val_share=args.val_share, family=args.family,
                                energy_loss_ratio=args.energy_weight,
                                stress_loss_ratio=args.stress_weight, max_pressure_GPa=args.max_pressure,
                                wall_max_pressure_GPa=args.wall_max_pressure, wall_energies=not args.wall_stress_only,
                                wall_weight=args.wall_weight, wall_hydrogen=args.wall_hydrogen,
                                trainable=LAST_LAYERS if args.last_layers else FinetuneSettings.trainable,
                                start_from=args.start_from, bond_graph_cutoff_A=args.bond_cutoff,
                                start_offset_fit=args.start_offsets, max_angles_per_batch=args.max_angles_per_batch,
                                loss=args.loss, label_weights=label_weights)
    if args.base != "chgnet":
        from hts.potential.sevennet import log as progress
        from hts.potential.sevennet import train_sevennet as train

        progress.setLevel(logging.INFO)  # one line per epoch (CHGNet's trainer prints its own)
    try:
        meta = train([Path(f) for f in args.labels], Path(args.out), settings, threads=args.threads)
    except ValueError as exc:
        print(f"hts finetune: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: meta[k] for k in ("training_hash", "n_labels", "n_train", "n_val", "elements",
                                           "train_wall_s")}))
    print(f"fine-tuned model in {args.out}: use it with relax.model: {Path(args.out).resolve()}")
    return 0


def add_potential_commands(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune CHGNet or SevenNet on DFT labels (data/potential/labels.jsonl)")
    p.add_argument("--labels", nargs="+", default=["data/potential/labels.jsonl"],
                   help="label files (hts label --export), read in order; a second stage adds new ones")
    p.add_argument("--out", required=True, help="model directory (weights.pt + model.json)")
    from hts.potential.finetune import START_OFFSET_FITS
    from hts.potential.finetune import FinetuneSettings as d
    p.add_argument("--base", choices=("chgnet", "7net-0"), default="chgnet",
                   help="the stock model fine-tuned: CHGNet 0.3.0 or SevenNet 7net-0 (smooth at collinear bonds)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.learning_rate)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-angles-per-batch", type=int, default=None, metavar="N",
                   help="close a batch before it passes N bond angles (dense cells: bounds the memory; "
                        "benchmarks/label_graph_cost.py counts them)")
    from hts.potential.sevennet import LOSSES
    p.add_argument("--loss", choices=LOSSES, default=d.loss,
                   help="huber (7net-0 only): sevenn's own fine-tuning loss, nearly linear in every error")
    p.add_argument("--label-weight", action="append", metavar="FILE=W",
                   help="7net-0 only: every loss term of the labels of FILE (one of --labels) weighs W (others 1)")
    p.add_argument("--energy-weight", type=float, default=d.energy_loss_ratio,
                   help="loss weight of energy (eV/atom)^2 (huber: of eV/atom)")
    p.add_argument("--stress-weight", type=float, default=d.stress_loss_ratio,
                   help="loss weight of stress (GPa)^2 (huber: of GPa)")
    p.add_argument("--max-pressure", type=float, default=d.max_pressure_GPa,
                   help="GPa; labels beyond it are not trained on (compressed cells cost most per epoch)")
    p.add_argument("--wall-max-pressure", type=float, default=d.wall_max_pressure_GPa,
                   help="GPa; cells of one element other than H are kept up to it instead (the repulsive wall)")
    p.add_argument("--wall-stress-only", action="store_true",
                   help="train the wall cells beyond --max-pressure on forces and stresses only, not energies")
    p.add_argument("--wall-hydrogen", action="store_true", help="hydrogen's one-element cells join the wall too")
    from hts.potential.wall import WALL_WEIGHTS
    p.add_argument("--wall-weight", choices=WALL_WEIGHTS, default=d.wall_weight,
                   help="relative: a wall cell beyond --max-pressure weighs (max-pressure / |P|)^2 in the loss")
    p.add_argument("--last-layers", action="store_true", help="train only the last convolutions and the readout")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="also varies the validation split: seeds 0, 1, ... make a committee")
    p.add_argument("--val-share", type=float, default=d.val_share,
                   help="share of prototype groups held out for validation; 0 trains on every label (a production member)")
    p.add_argument("--start-from", default=None, metavar="MODEL_DIR",
                   help="continue from a saved model's weights instead of stock CHGNet (a second training stage)")
    p.add_argument("--bond-cutoff", type=float, default=d.bond_graph_cutoff_A, metavar="A",
                   help="CHGNet's three-body cutoff; shorter trains faster (the model and its relaxations keep it)")
    p.add_argument("--start-offsets", choices=START_OFFSET_FITS, default=d.start_offset_fit,
                   help="fit of the energy offsets the labels are shifted by before training (total: the shipped "
                        "members' first stage, trained before session 24); the saved offsets are per atom either way")
    p.add_argument("--family", default="psl-us-pbe", help="pseudopotential family of the labels to train on")
    p.add_argument("--refit-offsets", action="store_true",
                   help="train nothing: fit the per-element energy offsets of the model in --out again on the labels "
                        "it trained on (per atom; the weights are untouched)")
    p.set_defaults(func=_cmd_finetune)
