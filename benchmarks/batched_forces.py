"""Does batching CHGNet force calls pay on CPU? Single calls vs one batched call, side by side.

Evaluates energy, forces and stress of the same N prescreen cells (benchmarks/prescreen.py, 150 GPa)
once structure by structure and once through ``CHGNet.predict_structure(list, batch_size=B)``.
Last line:
    batched_vs_single=R        (throughput ratio; above 1 means batching is faster)

Usage: python benchmarks/batched_forces.py [--n 32] [--batch-size 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pressure", type=float, default=150.0)
    args = ap.parse_args()

    import torch
    from chgnet.model import CHGNet

    sys.path.insert(0, str(Path(__file__).parent))
    from prescreen import cells

    torch.set_num_threads(args.threads)
    model = CHGNet.load(verbose=False)
    structs = cells(args.n, args.pressure)
    model.predict_structure(structs[0], task="efs")  # warm-up
    t = time.perf_counter()
    for s in structs:
        model.predict_structure(s, task="efs")
    single = time.perf_counter() - t
    t = time.perf_counter()
    model.predict_structure(structs, task="efs", batch_size=args.batch_size)
    batched = time.perf_counter() - t
    print(f"{len(structs)} cells, {sum(map(len, structs)) / len(structs):.1f} atoms on average, {args.threads} torch thread(s)")
    print(f"   single: {single:7.2f} s")
    print(f"  batched: {batched:7.2f} s  (batch size {args.batch_size})")
    print(f"batched_vs_single={single / batched:.2f}")


if __name__ == "__main__":
    main()
