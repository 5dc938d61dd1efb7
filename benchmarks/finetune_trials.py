"""Training-recipe trials for ``hts finetune``: trains one recipe on a label file and prints its mean absolute
errors on the labels it trained on and on its held-out groups, so that underfitting (large training error) and
poor transfer (large held-out error) are told apart. One JSON line per trial is appended to
docs/data/finetune_trials.jsonl.

    python benchmarks/finetune_trials.py NAME [--labels F] [--epochs 8] [--batch 8] [--lr 1e-3]
           [--energy-weight 1] [--stress-weight 0.1] [--last-layers] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "finetune_trials.jsonl"


def maes(model, labels: list[dict], offsets: dict[str, float]) -> dict:
    from potential_fidelity import errors, predict

    r = errors(labels, predict(model, labels), offsets)
    return {"n": len(labels), "energy_meV": round(r["energy_mae_meV"], 1), "force_eV_A": round(r["force_mae"], 3),
            "pressure_GPa": round(r["pressure_mae_GPa"], 2)}


def main() -> None:
    from hts.potential.finetune import LAST_LAYERS, FinetuneSettings, _group, load_finetuned, read_labels, train

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
    a = ap.parse_args()
    settings = FinetuneSettings(epochs=a.epochs, learning_rate=a.lr, batch_size=a.batch,
                                energy_loss_ratio=a.energy_weight, stress_loss_ratio=a.stress_weight,
                                trainable=LAST_LAYERS if a.last_layers else FinetuneSettings.trainable)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        train(Path(a.labels), Path(tmp), settings, threads=a.threads)
        wall = time.time() - t0
        model, meta = load_finetuned(Path(tmp))
    labels = read_labels(Path(a.labels), settings.family)
    trained, groups = set(meta["train_ids"]), set(meta["train_groups"])
    off = meta["offsets_eV_per_atom"]
    row = {"name": a.name, "labels": len(labels), "training_hash": meta["training_hash"],
           "trainable": "last layers" if a.last_layers else "all", "epochs": a.epochs, "batch": a.batch, "lr": a.lr,
           "energy_weight": a.energy_weight, "stress_weight": a.stress_weight, "threads": a.threads,
           "train_wall_s": round(wall),
           "train": maes(model, [r for r in labels if r["id"] in trained], off),
           "held_out": maes(model, [r for r in labels if _group(r) not in groups], off)}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
