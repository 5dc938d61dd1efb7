"""Peak memory of one CHGNet training step: the densest batch of the labels, uncapped and capped by bond angles.

A training run's memory is set by its largest batch (CHGNet keeps the graph of energy, forces and stress for the
loss's backward pass), and a batch's size in memory by its bond angles. This builds the worst batch ``hts finetune``
could draw from the given labels (the ``--batch-size`` labels with the most angles) and the first batch
``--max-angles-per-batch N`` would let through from the same labels (``hts.potential.batching.pack_batches`` over
them, densest first), and runs one training step on each (energy, forces and stress, CHGNet's training loss,
backward) in a fresh process, side by side; a third process loads the same labels and model and steps nothing.

    python benchmarks/batch_memory.py --labels data/potential/labels-h-modes.jsonl --cap 150000

Last line: ``angles=A capped_angles=B peak_GiB=X capped_peak_GiB=Y baseline_GiB=Z`` (``killed`` for a step the
kernel stopped for memory).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import warnings

warnings.filterwarnings("ignore")


def _graphs(files, max_pressure):
    from chgnet.model import CHGNet

    from hts.potential.finetune import read_label_files, within_pressure

    model = CHGNet.load(verbose=False)
    labels = within_pressure(read_label_files(files, "psl-us-pbe"), max_pressure)
    return model, labels, [model.graph_converter(r["structure"]) for r in labels]


def _step(files, max_pressure, idx, threads, queue) -> None:
    """One training step on the labels at ``idx`` (none: load only); puts this process's peak RSS (GiB)."""
    import torch
    from chgnet.trainer.trainer import CombinedLoss

    torch.set_num_threads(threads)
    model, labels, graphs = _graphs(files, max_pressure)
    if idx:
        out = model([graphs[i] for i in idx], task="efs")
        targets = {"e": out["e"].detach() + 0.01, "f": [f.detach() + 0.01 for f in out["f"]],
                   "s": [s.detach() + 1.0 for s in out["s"]]}
        loss = CombinedLoss(target_str="efs", energy_loss_ratio=20.0, stress_loss_ratio=0.01)(targets, out)["loss"]
        loss.backward()
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", nargs="+", default=["data/potential/labels-h-modes.jsonl"])
    ap.add_argument("--max-pressure", type=float, default=350.0, help="GPa, as hts finetune --max-pressure")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--cap", type=int, default=150_000, help="bond angles per batch, as --max-angles-per-batch")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from hts.potential.batching import pack_batches

    _, labels, graphs = _graphs(args.labels, args.max_pressure)
    angles = [int(g.bond_graph.shape[0]) for g in graphs]
    dense = sorted(range(len(angles)), key=lambda i: -angles[i])
    worst = dense[:args.batch_size]
    capped = pack_batches(dense, angles, args.batch_size, args.cap)[0]
    ctx = mp.get_context("spawn")
    peaks = {}
    for name, idx in (("baseline", []), ("uncapped", worst), ("capped", capped)):
        q = ctx.Queue()
        p = ctx.Process(target=_step, args=(args.labels, args.max_pressure, idx, args.threads, q))
        p.start()
        p.join()  # a step past the machine's memory is killed by the kernel: no peak then, its exit code instead
        peaks[name] = q.get(timeout=10) if p.exitcode == 0 else None
        peak = f"peak {peaks[name]:.2f} GiB" if peaks[name] is not None else f"killed (exit code {p.exitcode})"
        print(f"{name:>9}: {len(idx)} labels, {sum(angles[i] for i in idx):,} bond angles, {peak}")
    gib = {k: "killed" if v is None else f"{v:.2f}" for k, v in peaks.items()}
    print(f"angles={sum(angles[i] for i in worst)} capped_angles={sum(angles[i] for i in capped)} "
          f"peak_GiB={gib['uncapped']} capped_peak_GiB={gib['capped']} baseline_GiB={gib['baseline']}")


if __name__ == "__main__":
    main()
