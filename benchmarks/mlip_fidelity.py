"""MLIP fidelity on CompSC hydrides: volume error vs the DFT structures, and how often
hts's MLIP phonon check calls DFT-stable structures stable.

A fixed-seed sample of CompSC hydrides (small cells) is relaxed at its pressure with every
offline potential; every sampled structure was dynamically stable in the DFT work behind
its lambda, so phonon_stable_fraction is the fraction the MLIP filter would keep.
Last line: best_model=NAME median_volume_error_pct=X phonon_stable_fraction=Y

Usage: python benchmarks/mlip_fidelity.py [--n 40] [--max-atoms 8] [--models 7net-l3i5,chgnet,7net-mf-0]
       [--compsc ../shared/data/compsc]
"""

from __future__ import annotations

import argparse
import ast
import csv
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def load_sample(path: Path, n: int, max_atoms: int, seed: int = 0):
    from pymatgen.core import Lattice, Structure

    rows = list(csv.DictReader(open(path / "supercond_May23.csv")))
    out = []
    for r in rows:
        try:
            species = [s.strip() for s in ast.literal_eval(r["species"])]
            if "H" not in species or len(species) > max_atoms:
                continue
            lat = Lattice.from_parameters(*(float(r[k]) for k in ("a", "b", "c", "alpha", "beta", "gamma")))
            s = Structure(lat, species, ast.literal_eval(r["xred"]))
            out.append((r["ID"], r["composition"], float(r["pressure"]), s))
        except (ValueError, SyntaxError):
            continue
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(out), size=min(n, len(out)), replace=False)
    return [out[i] for i in sorted(idx)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-atoms", type=int, default=8)
    ap.add_argument("--models", default="7net-l3i5,chgnet,7net-mf-0")
    ap.add_argument("--compsc", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "compsc"))
    args = ap.parse_args()
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.phonons import phonon_check

    sample = load_sample(Path(args.compsc), args.n, args.max_atoms)
    print(f"{len(sample)} CompSC hydrides (<= {args.max_atoms} atoms), pressures "
          f"{min(s[2] for s in sample):.0f}-{max(s[2] for s in sample):.0f} GPa")
    results = {}
    for model in args.models.split(","):
        t0 = time.perf_counter()
        maker = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=150, keep_symmetry=True)
        errs, stable, failed = [], 0, 0
        for sid, comp, p, s in sample:
            r = maker.relax(s, p)
            if r.structure is None:
                failed += 1
                continue
            errs.append(100.0 * (r.volume_A3 / s.volume - 1.0))
            ph = phonon_check(r.structure, model, min_length=6.0, max_atoms=48, mesh=6)
            stable += ph.classification in ("stable", "acoustic_noise")
        abs_e = np.abs(errs)
        results[model] = (float(np.median(abs_e)), float(np.percentile(abs_e, 90)), stable / len(sample), failed)
        print(f"{model:>10}: median |dV| {results[model][0]:.2f}%  p90 {results[model][1]:.2f}%  "
              f"phonon-stable {results[model][2]:.2f}  failed {failed}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    best = min(results, key=lambda m: results[m][0])
    print(f"best_model={best} median_volume_error_pct={results[best][0]:.2f} phonon_stable_fraction={results[best][2]:.2f}")


if __name__ == "__main__":
    main()
