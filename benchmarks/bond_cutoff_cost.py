"""What a shorter three-body cutoff would save: CHGNet's bond angles and training-step time at two bond-graph cutoffs.

CHGNet builds its angles from bonds within 3 A (``bond_graph_cutoff``), a range chosen for ambient densities. At
150-300 GPa bonds are 15-25 % shorter, so 3 A reaches more neighbour shells and the angle count, which sets the
cost of a training epoch, grows steeply. This measures, on the same labels and side by side in one run, the angles
and the time of CHGNet training steps (energy, forces and stress from the stock weights, loss backward, batch 4)
at 3 A and at ``--cutoff``. It does not say whether the shorter cutoff keeps the accuracy: that takes a fine-tune.

    python benchmarks/bond_cutoff_cost.py [--cutoff 2.5] [--n 80] [--threads 2]

Last line: ``cutoff_A=X angles_ratio=R step_time_ratio=T`` (X against 3 A; ratios below 1 are savings).
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "data" / "potential" / f for f in ("labels.jsonl", "labels-soft-modes.jsonl")]  # stage 2's labels


def step_time(model, graphs, batch: int = 4) -> float:
    t = time.perf_counter()
    for i in range(0, len(graphs), batch):
        out = model(graphs[i:i + batch], task="efs")
        loss = out["e"].sum() + sum((f ** 2).sum() for f in out["f"]) + 1e-4 * sum((s ** 2).sum() for s in out["s"])
        loss.backward()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutoff", type=float, default=2.5, help="bond-graph cutoff (A) compared with CHGNet's 3 A")
    ap.add_argument("--n", type=int, default=80, help="labels timed (a fixed-seed sample of those within 350 GPa)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    from chgnet.model import CHGNet

    from hts.potential.finetune import read_label_files, within_pressure
    from hts.relax.mlip import with_bond_cutoff

    torch.set_num_threads(args.threads)
    labels = within_pressure(read_label_files(FILES, "psl-us-pbe"), 350.0)
    base = CHGNet.load(verbose=False)
    models, angles, graphs = {}, {}, {}
    for cut in (3.0, args.cutoff):
        models[cut] = m = with_bond_cutoff(base, cut)
        g = [m.graph_converter(r["structure"]) for r in labels]
        angles[cut] = sum(int(x.bond_graph.shape[0]) for x in g)
        graphs[cut] = [g[i] for i in random.Random(0).sample(range(len(g)), min(args.n, len(g)))]
    times = {3.0: [], args.cutoff: []}
    for _ in range(2):  # alternated, so a slower minute of the machine falls on both
        for cut in times:
            times[cut].append(step_time(models[cut], graphs[cut]))
    for cut in times:
        print(f"bond cutoff {cut:.2f} A: {angles[cut]:,} angles on {len(labels)} labels; "
              f"{len(graphs[cut])} labels' training steps {min(times[cut]):.1f} s (best of 2)")
    print(f"cutoff_A={args.cutoff:g} angles_ratio={angles[args.cutoff] / angles[3.0]:.2f} "
          f"step_time_ratio={min(times[args.cutoff]) / min(times[3.0]):.2f}")


if __name__ == "__main__":
    main()
