"""How far can hts's prescreen get ahead of atomate2 on this CPU? Where a force call's time goes, and the ceiling.

Relaxes the same N prescreen cells (benchmarks/prescreen.py: 150 GPa, BFGS, fmax 0.1 eV/A, ``--steps`` steps)
three ways, side by side in one run, and times every CHGNet call split into graph construction
(CrystalGraphConverter) and the network's forward + backward pass:
- stock: the package's ``CHGNetCalculator``, one process, torch's default threads (what the bare-ASE and
  atomate2 legs of prescreen.py run; atomate2 adds nothing measurable per job on CPU);
- hts x1: hts's inference force path, one process, one torch thread;
- hts x2: two such processes at once, each relaxing all N cells (the two-worker layout of ``relax_many``).
Printed: seconds per force call, the share of the network in it, the throughput of two processes over one,
and the ceiling of hts_vs_atomate2 if everything but the network's own arithmetic cost nothing:
    ceiling = (stock s/call) / (hts network s/call / two-process speed-up)
Last line:
    parallel_speedup=P network_share=F hts_vs_atomate2_ceiling=C

Usage: python benchmarks/prescreen_ceiling.py [--n 16] [--steps 20]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def _timed(fn, totals: dict, key: str):
    """``fn`` that adds its wall seconds to ``totals[key]`` and counts its calls in ``totals[key + '_n']``."""
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            totals[key] += time.perf_counter() - t0
            totals[key + "_n"] += 1

    return wrapper


def _leg(kind: str, threads: int | None, n: int, steps: int, pressure: float, start=None) -> dict:
    """Relax the cells with one calculator; wall s, force calls, s in graph building and in the whole call."""
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(Path(__file__).parent))
    import torch
    from prescreen import ase_loop, cells, stock_calculator

    from hts.relax.mlip import get_calculator

    if threads:
        torch.set_num_threads(threads)
    calc = stock_calculator("chgnet") if kind == "stock" else get_calculator("chgnet")
    conv = calc.model.graph_converter
    t = {"graph": 0.0, "graph_n": 0, "call": 0.0, "call_n": 0}
    conv.forward, calc.calculate = _timed(conv.forward, t, "graph"), _timed(calc.calculate, t, "call")
    structs = cells(n, pressure)
    if start is not None:
        start.wait()  # both processes of the two-process leg start together
    t0 = time.perf_counter()
    ase_loop(structs, calc, pressure, "BFGS", 0.1, steps)
    t["wall"] = time.perf_counter() - t0
    return t


def _worker(args, queue):
    queue.put(_leg(*args))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--pressure", type=float, default=150.0)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")

    def run(kind, threads, copies):
        start, queue = ctx.Barrier(copies), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=((kind, threads, args.n, args.steps, args.pressure, start), queue))
                 for _ in range(copies)]
        for p in procs:
            p.start()
        out = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        return out

    stock = run("stock", None, 1)[0]
    one = run("hts", 1, 1)[0]
    two = run("hts", 1, 2)
    per = lambda r: r["call"] / r["call_n"]  # noqa: E731
    print(f"{args.n} prescreen cells, BFGS, {args.steps} steps at most, {args.pressure:g} GPa; CHGNet on CPU")
    print(f"{'leg':>26} {'force calls':>11} {'wall s':>8} {'s/call':>7} {'graph s/call':>12} {'network s/call':>14}")
    for name, r in (("stock, 1 process", stock), ("hts, 1 process, 1 thread", one)):
        print(f"{name:>26} {r['call_n']:11d} {r['wall']:8.1f} {per(r):7.3f} {r['graph'] / r['call_n']:12.3f} "
              f"{(r['call'] - r['graph']) / r['call_n']:14.3f}")
    calls2, wall2 = sum(r["call_n"] for r in two), max(r["wall"] for r in two)
    speedup = (calls2 / wall2) / (one["call_n"] / one["wall"])
    network = (one["call"] - one["graph"]) / one["call_n"]
    share = (one["call"] - one["graph"]) / one["wall"]
    print(f"{'hts, 2 processes at once':>26} {calls2:11d} {wall2:8.1f}  -> {speedup:.2f}x the force calls per second of one")
    print(f"the network's forward + backward is {share:.0%} of hts's wall time in one process; the rest is graph "
          f"building, the cell filter and BFGS")
    ceiling = per(stock) / (network / speedup)
    print(f"parallel_speedup={speedup:.2f} network_share={share:.2f} hts_vs_atomate2_ceiling={ceiling:.2f}")


if __name__ == "__main__":
    main()
