"""Fidelity of the fine-tuned prescreen potential on DFT labels it never trained on, beside the stock model.

Held-out labels are those of groups (whole prototypes, never single frames: hts.potential.finetune.grouped_split)
the fine-tuned model (CHGNet or SevenNet; the stock model is its base) never trained on: its validation groups and any labelled since; or the labels of ``--held-out``
files (JSON lines) in such groups. ``--common-with`` drops the groups other models trained on too, so that models
trained on different groups (a production member trained on every label, say) are compared on one test set. To be
fair to the stock model, its per-element energy offsets are refit on the same training labels the fine-tuned model saw.
Labels beyond the model's ``max_pressure_GPa`` are not tested either, the compressed wall cells of
``--wall-max-pressure`` included (up to session 32 those of held-out groups were tested).
Errors: energy per atom (meV/atom, after offsets), force components (eV/A), pressure (GPa, -trace(stress)/3).
``--by-group`` splits each group's energy error into its mean (an offset of the whole prototype) and the error about
that mean (the energy surface's shape within it: strains, rattles).
One JSON line per run is appended to docs/data/potential_fidelity.jsonl.

    python benchmarks/potential_fidelity.py --model data/potential/model [--labels data/potential/labels.jsonl]
        [--held-out data/potential/labels-light-*.jsonl --common-with OTHER_MODEL] [--by-group] [--fit]

Last line: ``energy_mae_meV=X force_mae=Y pressure_mae_GPa=Z stock_energy_mae_meV=W``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "potential_fidelity.jsonl"


def predict(model, labels: list[dict]) -> list[dict]:
    """[{e_eV (total), f, p_GPa}] of a CHGNet model for each label's structure."""
    # two cells a batch: a batch of 8 of the small dense light-hydride cells (labels-light-prototypes.jsonl)
    # grew past 13 GB in the stress backward pass, where each alone takes under 0.1 GB more than the model
    preds = model.predict_structure([r["structure"] for r in labels], task="efs", batch_size=2)
    return [{"e_eV": float(p["e"]) * len(r["species"]), "f": np.asarray(p["f"]),
             "p_GPa": float(-np.trace(np.asarray(p["s"])) / 3)} for r, p in zip(labels, preds)]


def load_tuned(model_dir: Path):
    """(model, model.json, its predict function) of a fine-tuned CHGNet or SevenNet directory."""
    from hts.potential import sevennet
    from hts.potential.finetune import load_finetuned

    meta = json.loads((model_dir / "model.json").read_text())
    if sevennet.is_sevennet(meta):
        return sevennet.load_sevennet(model_dir), meta, sevennet.predict
    return (*load_finetuned(model_dir), predict)


def energy_error_per_atom(label: dict, pred: dict, offsets: dict[str, float]) -> float:
    """Signed energy error (eV/atom) of one prediction (model scale) against its label, the offsets added back."""
    return (pred["e_eV"] + sum(offsets[s] for s in label["species"]) - label["energy_eV"]) / len(label["species"])


def errors(labels: list[dict], preds: list[dict], offsets: dict[str, float]) -> dict:
    """Mean absolute errors of ``preds`` (model scale) against the labels, the offsets added back."""
    de = [abs(energy_error_per_atom(r, p, offsets)) for r, p in zip(labels, preds)]
    df = np.concatenate([np.abs(p["f"] - np.asarray(r["forces_eV_A"])).ravel() for r, p in zip(labels, preds)])
    dp = [abs(p["p_GPa"] - r["pressure_GPa"]) for r, p in zip(labels, preds)]
    return {"energy_mae_meV": 1000 * float(np.mean(de)), "force_mae": float(df.mean()), "pressure_mae_GPa": float(np.mean(dp))}


def energy_bias_and_scatter(labels: list[dict], preds: list[dict], offsets: dict[str, float]) -> tuple[float, float]:
    """(mean signed energy error, mean absolute error about that mean), meV/atom: a group's offset and its own shape."""
    de = 1000.0 * np.array([energy_error_per_atom(r, p, offsets) for r, p in zip(labels, preds)])
    return float(de.mean()), float(np.abs(de - de.mean()).mean())


def main() -> None:
    from chgnet.model import CHGNet

    from hts.potential.finetune import (energy_trained, fit_offsets, label_files, label_group, read_label_files,
                                       read_labels, total_energies, within_pressure)

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="fine-tuned model directory (hts finetune --out)")
    ap.add_argument("--labels", nargs="+", default=None,
                    help="label files (default: those the model was trained from)")
    ap.add_argument("--held-out", nargs="+", default=None,
                    help="label files to test on instead of the validation groups (their groups the model trained on left out)")
    ap.add_argument("--common-with", nargs="+", default=[], metavar="MODEL",
                    help="also leave out the groups these fine-tuned models trained on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--by-group", action="store_true", help="also print the fine-tuned model's errors per held-out group")
    ap.add_argument("--fit", action="store_true",
                    help="also print the fine-tuned model's errors on its own training labels (underfit or poor transfer?)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    from hts.potential import sevennet

    tuned, meta, run = load_tuned(Path(args.model))
    if sevennet.is_sevennet(meta):  # stock 7net-0: offsets fit robustly (far off on a few cells)
        stock, stock_fit = sevennet.stock_model(), sevennet.robust_offsets

        def energies(model, labels):
            return [p["e_eV"] for p in sevennet.predict(model, labels)]
    else:
        stock, stock_fit = CHGNet.load(verbose=False), fit_offsets
        energies = total_energies  # energies only: no force graph to hold
    family = (meta.get("settings") or {}).get("family")
    labels = read_label_files(args.labels or label_files(meta), family)
    train_groups = set(meta["train_groups"])
    trained = meta.get("settings") or {}  # the pressure range it was trained within
    train = energy_trained(labels, meta)  # exactly the labels whose energies the fine-tuned model trained on
    # held out: every label of a group (prototype) the model never trained on, labelled since included
    seen = train_groups.union(*(json.loads((Path(m) / "model.json").read_text())["train_groups"] for m in args.common_with))
    pool = [r for f in args.held_out for r in read_labels(Path(f), family)] if args.held_out else labels
    test = [r for r in pool if label_group(r) not in seen]  # a training label's group is in seen
    # within the screening range the model was trained for: the compressed wall cells beyond it (a training device,
    # eV and hundreds of GPa away) are not what it is judged on
    test = within_pressure([r for r in test if set(r["species"]) <= set(meta["elements"])],
                           trained.get("max_pressure_GPa", float("inf")))
    if not test:
        raise SystemExit("no held-out label with elements the model covers")
    fair = within_pressure(train, trained.get("max_pressure_GPa", float("inf")))  # the wall cells' eV would set them
    stock_offsets = stock_fit(fair, energies(stock, fair))
    test = [r for r in test if set(r["species"]) <= set(stock_offsets)]  # an element seen in training only
    res_stock = errors(test, run(stock, test), stock_offsets)
    pred_tuned = run(tuned, test)
    res_tuned = errors(test, pred_tuned, meta["offsets_eV_per_atom"])
    row = {"model": args.model, "training_hash": meta["training_hash"], "settings": meta.get("settings"),
           "n_train_labels": len(train), "n_test": len(test), "held_out_files": args.held_out,
           "common_with": args.common_with,
           "test_groups": sorted({label_group(r) for r in test}), "fine_tuned": res_tuned, "stock": res_stock,
           "fine_tuned_on_training_labels": errors(train, run(tuned, train), meta["offsets_eV_per_atom"]) if args.fit else None,
           "wall_s": round(time.time() - t0, 1)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{len(test)} held-out labels in {len(row['test_groups'])} groups; {len(train)} training labels")
    print(f"{'':12s} {'energy meV/atom':>16s} {'force eV/A':>11s} {'pressure GPa':>13s}")
    rows = [("stock", res_stock), ("fine-tuned", res_tuned)]
    if args.fit:
        rows.append(("(training)", row["fine_tuned_on_training_labels"]))
    for name, r in rows:
        print(f"{name:12s} {r['energy_mae_meV']:16.1f} {r['force_mae']:11.3f} {r['pressure_mae_GPa']:13.2f}")
    if args.by_group:
        scatter_sum = 0.0
        for g in sorted({label_group(r) for r in test}):
            idx = [i for i, r in enumerate(test) if label_group(r) == g]
            sub, sub_pred = [test[i] for i in idx], [pred_tuned[i] for i in idx]
            r = errors(sub, sub_pred, meta["offsets_eV_per_atom"])
            bias, scatter = energy_bias_and_scatter(sub, sub_pred, meta["offsets_eV_per_atom"])
            scatter_sum += scatter * len(idx)
            print(f"  {g:40s} {len(idx):3d} labels {r['energy_mae_meV']:8.1f} meV/atom (mean {bias:+7.1f}, about it "
                  f"{scatter:6.1f}) {r['pressure_mae_GPa']:7.1f} GPa")
        print(f"energy error about each group's mean: {scatter_sum / len(test):.1f} meV/atom")
    print(f"energy_mae_meV={res_tuned['energy_mae_meV']:.1f} force_mae={res_tuned['force_mae']:.3f} "
          f"pressure_mae_GPa={res_tuned['pressure_mae_GPa']:.2f} stock_energy_mae_meV={res_stock['energy_mae_meV']:.1f}")


if __name__ == "__main__":
    main()
