"""How much relabelling at a finer k mesh moves the labels: for each id in FINE also in COARSE (the same cell), the
change of energy per atom, pressure and forces, per element (one-element labels) or formula. A shift common to an
element's labels is absorbed by its refit energy offset; what the potential learns differently is the spread about
that mean (phase and volume differences).

    python benchmarks/relabel_shift.py --fine data/potential/labels-metals-k018.jsonl \
        --coarse data/potential/labels.jsonl

Last line: ``labels=N largest_spread_meV=X largest_dP_GPa=Y largest_dF_eV_A=Z`` (X: the largest deviation of a
label's energy change from its group's mean change).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from hts.label.run import read_rows


def shifts(fine: list[dict], coarse: list[dict]) -> dict[str, dict]:
    """Per group (element or formula): n, mean and spread (largest |dE - mean|) of the energy change in meV/atom,
    largest |dP| (GPa) and largest force-component change (eV/A), fine minus coarse, same ids, both ok."""
    old = {r["id"]: r for r in coarse if r["status"] == "ok"}
    by: dict[str, list] = defaultdict(list)
    for r in fine:
        o = old.get(r["id"])
        if r["status"] != "ok" or o is None:
            continue
        de = 1000 * (r["energy_eV"] - o["energy_eV"]) / r["n_atoms"]
        df = float(np.abs(np.subtract(r["forces_eV_A"], o["forces_eV_A"])).max())
        by[r["formula"]].append((de, abs(r["pressure_GPa"] - o["pressure_GPa"]), df))
    out = {}
    for g, v in sorted(by.items()):
        de = np.array([x[0] for x in v])
        out[g] = {"n": len(v), "mean_dE_meV": float(de.mean()), "spread_meV": float(np.abs(de - de.mean()).max()),
                  "max_dP_GPa": max(x[1] for x in v), "max_dF_eV_A": max(x[2] for x in v)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fine", required=True)
    ap.add_argument("--coarse", required=True)
    args = ap.parse_args()
    res = shifts(read_rows(Path(args.fine)), read_rows(Path(args.coarse)))
    for g, s in res.items():
        print(f"{g:8s} n {s['n']:3d}  mean dE {s['mean_dE_meV']:+8.1f}  spread {s['spread_meV']:6.1f} meV/atom  "
              f"max dP {s['max_dP_GPa']:5.2f} GPa  max dF {s['max_dF_eV_A']:.3f} eV/A")
    print(f"labels={sum(s['n'] for s in res.values())} "
          f"largest_spread_meV={max((s['spread_meV'] for s in res.values()), default=float('nan')):.1f} "
          f"largest_dP_GPa={max((s['max_dP_GPa'] for s in res.values()), default=float('nan')):.2f} "
          f"largest_dF_eV_A={max((s['max_dF_eV_A'] for s in res.values()), default=float('nan')):.3f}")


if __name__ == "__main__":
    main()
