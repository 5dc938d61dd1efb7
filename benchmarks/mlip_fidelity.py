"""MLIP fidelity on CompSC hydrides: volume error vs the DFT structures, and how often
hts's MLIP phonon check calls DFT-stable structures stable.

A fixed-seed sample of CompSC hydrides (<= 8 atoms, 50-300 GPa: the screening range) is relaxed at its pressure with every
offline potential (symmetry kept, BFGS to fmax 0.05 eV/A, at most 100 steps or 40 s); every sampled structure was dynamically
stable in the DFT work behind its lambda, so phonon_stable_fraction is the fraction the
MLIP phonon filter would keep (1 - its false-rejection rate). Models run in parallel
processes (one per core, one torch thread each); each loads its model once.
Last line: best_model=NAME median_volume_error_pct=X phonon_stable_fraction=Y
(best = lowest median |volume error|).

Usage: python benchmarks/mlip_fidelity.py [--n 40] [--max-atoms 8] [--jobs 2]
       [--models 7net-l3i5,chgnet,7net-mf-0,7net-0] [--compsc ../shared/data/compsc]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def load_sample(path: Path, n: int, max_atoms: int, seed: int = 0, p_range=(50.0, 300.0)):
    """(ID, composition, pressure GPa, Structure) for n hydrides with <= max_atoms atoms in p_range GPa."""
    from pymatgen.core import Lattice, Structure

    with open(path / "supercond_May23.csv") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        try:
            species = [s.strip() for s in ast.literal_eval(r["species"])]
            if "H" not in species or len(species) > max_atoms or len(set(species)) < 2:
                continue
            if not p_range[0] <= float(r["pressure"]) <= p_range[1]:
                continue
            lat = Lattice.from_parameters(*(float(r[k]) for k in ("a", "b", "c", "alpha", "beta", "gamma")))
            out.append((r["ID"], r["composition"], float(r["pressure"]), Structure(lat, species, ast.literal_eval(r["xred"]))))
        except (ValueError, SyntaxError):
            continue
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(out), size=min(n, len(out)), replace=False)
    return [out[i] for i in sorted(idx)]


def run_model(model: str, sample, ph_min_length: float, ph_max_atoms: int, ph_mesh: int, max_wall_s: float) -> dict:
    """Relax + phonon-check every structure with one model (in its own process, one thread)."""
    warnings.filterwarnings("ignore")
    from hts.relax.mlip import set_torch_threads
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.phonons import phonon_check

    set_torch_threads(1)
    t0 = time.perf_counter()
    maker = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=100, keep_symmetry=True, max_wall_s=max_wall_s)
    rows = []
    for sid, comp, p, s in sample:
        r = maker.relax(s, p)
        row = {"id": sid, "formula": comp, "pressure_GPa": p, "ok": r.structure is not None, "reason": r.reason}
        if r.structure is not None:
            row["dV_pct"] = 100.0 * (r.volume_A3 / s.volume - 1.0)
            ph = phonon_check(r.structure, model, min_length=ph_min_length, max_atoms=ph_max_atoms, mesh=ph_mesh)
            row.update(phonon=ph.classification, min_freq_THz=ph.min_frequency_THz)
        rows.append(row)
        print(f"    [{model}] {len(rows)}/{len(sample)} {comp} {p:g} GPa dV={row.get('dV_pct', float('nan')):+.1f}% "
              f"{row.get('phonon')} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return {"model": model, "rows": rows, "wall_s": time.perf_counter() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-atoms", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models", default="7net-l3i5,chgnet,7net-mf-0,7net-0")
    ap.add_argument("--ph-min-length", type=float, default=4.5)
    ap.add_argument("--ph-max-atoms", type=int, default=16)
    ap.add_argument("--ph-mesh", type=int, default=4)
    ap.add_argument("--max-wall-s", type=float, default=40.0, help="per relaxation; beyond it: a timeout failure")
    ap.add_argument("--json", help="write per-structure results here")
    ap.add_argument("--compsc", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "compsc"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    sample = load_sample(Path(args.compsc), args.n, args.max_atoms)
    print(f"{len(sample)} CompSC hydrides (<= {args.max_atoms} atoms, 50-300 GPa, seed 0), "
          f"{min(s[2] for s in sample):.0f}-{max(s[2] for s in sample):.0f} GPa; phonons: supercell >= "
          f"{args.ph_min_length} A (<= {args.ph_max_atoms} atoms), mesh {args.ph_mesh}^3", flush=True)
    models = args.models.split(",")
    results = {}
    with ProcessPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run_model, m, sample, args.ph_min_length, args.ph_max_atoms, args.ph_mesh,
                          args.max_wall_s) for m in models]
        for f in futs:
            res = f.result()
            rows = res["rows"]
            err = np.abs([r["dV_pct"] for r in rows if r["ok"]])
            signed = np.median([r["dV_pct"] for r in rows if r["ok"]])
            stable = sum(r.get("phonon") in ("stable", "acoustic_noise") for r in rows) / len(rows)
            failed = sum(not r["ok"] for r in rows)
            results[res["model"]] = (float(np.median(err)), float(np.percentile(err, 90)), stable, failed, float(signed), res)
            print(f"{res['model']:>10}: median |dV| {results[res['model']][0]:5.2f}%  p90 {results[res['model']][1]:5.2f}%  "
                  f"median signed dV {signed:+.2f}%  phonon_stable {stable:.2f}  relax failures {failed}  "
                  f"({res['wall_s']:.0f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({m: v[5] for m, v in results.items()}, indent=1))
    print(f"total wall time {time.perf_counter() - t0:.0f} s on {args.jobs} processes")
    best = min(results, key=lambda m: results[m][0])
    print(f"best_model={best} median_volume_error_pct={results[best][0]:.2f} phonon_stable_fraction={results[best][2]:.2f}")


if __name__ == "__main__":
    main()
