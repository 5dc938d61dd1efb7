"""Training-recipe trials for ``hts finetune``: trains one recipe on a label file and prints its mean absolute
errors on the labels it trained on and on its held-out groups, so that underfitting (large training error) and
poor transfer (large held-out error) are told apart. One JSON line per trial is appended to
docs/data/finetune_trials.jsonl.

    python benchmarks/finetune_trials.py NAME [--labels F] [--epochs 8] [--batch 8] [--lr 1e-3]
           [--energy-weight 1] [--force-weight 1] [--stress-weight 0.1] [--last-layers] [--val-share 0.2]
           [--max-pressure 1000] [--seed 0] [--keep DIR] [--threads 1] [--start-from DIR] [--base 7net-0]
    python benchmarks/finetune_trials.py NAME --model DIR   # the errors of a model this script kept (no training)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

from hts.potential import sevennet

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "finetune_trials.jsonl"


def maes(model, labels: list[dict], offsets: dict[str, float], predict) -> dict:
    from potential_fidelity import errors

    r = errors(labels, predict(model, labels), offsets)
    return {"n": len(labels), "energy_meV": round(r["energy_mae_meV"], 1), "force_eV_A": round(r["force_mae"], 3),
            "pressure_GPa": round(r["pressure_mae_GPa"], 2)}


def main() -> None:
    from hts.potential.finetune import (LAST_LAYERS, FinetuneSettings, energy_trained, label_files, label_group,
                                        read_label_files, train, within_pressure)

    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--labels", default="data/potential/labels.jsonl")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--energy-weight", type=float, default=1.0)
    ap.add_argument("--stress-weight", type=float, default=0.1)
    ap.add_argument("--last-layers", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--force-weight", type=float, default=1.0)
    ap.add_argument("--val-share", type=float, default=FinetuneSettings.val_share)
    ap.add_argument("--max-pressure", type=float, default=FinetuneSettings.max_pressure_GPa)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--elements", nargs="+", default=None,
                    help="train on the labels whose elements are all among these (a subset file beside the model)")
    ap.add_argument("--keep", default=None, help="keep the trained model in this directory")
    ap.add_argument("--model", default=None, help="measure a model kept by an earlier trial instead of training one")
    ap.add_argument("--start-from", default=None, help="continue training from this saved model's weights")
    ap.add_argument("--base", choices=("chgnet", "7net-0"), default="chgnet", help="the stock model fine-tuned")
    a = ap.parse_args()
    if a.base != "chgnet":
        train = sevennet.train_sevennet
    from potential_fidelity import load_tuned

    if a.model:
        model, meta, predict = load_tuned(Path(a.model))
        wall = meta["train_wall_s"]
    else:
        settings = FinetuneSettings(epochs=a.epochs, learning_rate=a.lr, batch_size=a.batch,
                                    energy_loss_ratio=a.energy_weight, force_loss_ratio=a.force_weight,
                                    stress_loss_ratio=a.stress_weight, val_share=a.val_share,
                                    max_pressure_GPa=a.max_pressure, seed=a.seed, start_from=a.start_from,
                                    trainable=LAST_LAYERS if a.last_layers else FinetuneSettings.trainable)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(a.keep or tmp)
            labels_file = Path(a.labels)
            if a.elements:
                out.mkdir(parents=True, exist_ok=True)
                labels_file = out / "labels.jsonl"
                labels_file.write_text("".join(x + "\n" for x in Path(a.labels).read_text().splitlines()
                                               if x.strip() and set(json.loads(x)["elements"]) <= set(a.elements)))
            t0 = time.time()
            train(labels_file, out, settings, threads=a.threads)
            wall = time.time() - t0
            model, meta, predict = load_tuned(out)
    s = meta["settings"]
    labels = within_pressure(read_label_files(label_files(meta), s["family"]), s["max_pressure_GPa"],
                             s.get("wall_max_pressure_GPa"), s.get("wall_hydrogen", False))
    groups = set(meta["train_groups"])
    off = meta["offsets_eV_per_atom"]
    held = [r for r in labels if label_group(r) not in groups]
    row = {"name": a.name, "labels": len(labels), "labels_files": [str(f) for f in label_files(meta)],
           "training_hash": meta["training_hash"], "trainable": "all" if s["trainable"] == [""] else "last layers",
           "epochs": s["epochs"], "batch": s["batch_size"], "lr": s["learning_rate"],
           "energy_weight": s["energy_loss_ratio"], "force_weight": s.get("force_loss_ratio", 1.0),
           "stress_weight": s["stress_loss_ratio"], "max_pressure_GPa": s["max_pressure_GPa"], "seed": s["seed"],
           "threads": a.threads, "train_wall_s": round(wall), "start_from": s.get("start_from"),
           "train": maes(model, energy_trained(labels, meta), off, predict),
           "held_out": maes(model, held, off, predict) if held else None}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
