"""What a fine-tune on the labels will cost, before running it: CHGNet's graph size per label.

CHGNet's time per epoch grows with the number of bond angles in the bond graph (bonds within 3 A), which grows
steeply with density, so a strongly compressed 1-atom cell can cost more than an 8-atom hydride. Prints, per label
source and pressure band, the labels, bonds and angles per label, and the total angles against those of the shipped
model's training labels (the cost ratio of an epoch on every label within ``--max-pressure``).

    python benchmarks/label_graph_cost.py [--labels data/potential/labels.jsonl] [--model data/potential/model]

The line before the last: the densest batch these labels allow and its training step's memory (about 0.12 MiB per
bond angle, ``benchmarks/batch_memory.py``). Last line: ``labels=N angles_vs_shipped=X``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections import defaultdict
from pathlib import Path

warnings.filterwarnings("ignore")
MIB_PER_ANGLE = 0.12  # peak memory of a training step per bond angle (benchmarks/batch_memory.py, session 35)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default="data/potential/labels.jsonl")
    ap.add_argument("--model", default="data/potential/model", help="its training labels are the reference")
    ap.add_argument("--max-pressure", type=float, default=1000.0, help="GPa, as hts finetune --max-pressure")
    ap.add_argument("--wall-max-pressure", type=float, default=None, help="GPa, as hts finetune --wall-max-pressure")
    ap.add_argument("--family", default="psl-us-pbe")
    ap.add_argument("--batch-size", type=int, default=4,
                    help="as hts finetune --batch-size (the densest batch's memory)")
    args = ap.parse_args()
    import torch
    from chgnet.model import CHGNet

    from hts.potential.finetune import read_labels, within_pressure

    torch.set_num_threads(1)
    convert = CHGNet.load(verbose=False).graph_converter
    shipped = set(json.loads((Path(args.model) / "model.json").read_text())["train_ids"])
    rows = defaultdict(lambda: [0, 0, 0])  # labels, bonds, angles
    ref = total = n = 0
    per_label = []  # bond angles of each trained label
    labels = read_labels(Path(args.labels), args.family)
    trained = {r["id"] for r in within_pressure(labels, args.max_pressure, args.wall_max_pressure)}
    for r in labels:
        g = convert(r["structure"])
        bonds, angles = int(g.atom_graph.shape[0]), int(g.bond_graph.shape[0])
        p = abs(r["pressure_GPa"])
        band = "<=300" if p <= 300 else "300-600" if p <= 600 else "600-1000" if p <= 1000 else ">1000"
        key = (r["origin"].get("source"), band, "shipped" if r["id"] in shipped else "new")
        row = rows[key]
        row[0] += 1
        row[1] += bonds
        row[2] += angles
        ref += angles if r["id"] in shipped else 0
        if r["id"] in trained:
            total += angles
            n += 1
            per_label.append(angles)
    print(f"{'source':>10} {'P (GPa)':>9} {'set':>8} {'labels':>6} {'bonds/label':>11} {'angles/label':>12} {'angles':>9}")
    for (src, band, which), (k, b, a) in sorted(rows.items()):
        print(f"{src:>10} {band:>9} {which:>8} {k:6d} {b // k:11d} {a // k:12d} {a:9d}")
    worst = sum(sorted(per_label, reverse=True)[:args.batch_size])
    gib = 0.45 + worst * MIB_PER_ANGLE / 1024  # model and labels loaded: 0.45 GiB
    print(f"densest batch of {args.batch_size}: {worst:,} bond angles, about {gib:.1f} GiB "
          f"for its training step (hts finetune --max-angles-per-batch caps it)")
    print(f"labels={n} angles_vs_shipped={total / max(ref, 1):.2f}")


if __name__ == "__main__":
    main()
