"""MLIP fidelity on CompSC hydrides: volume error vs the DFT structures, and how often
hts's MLIP phonon check calls DFT-stable structures stable.

A fixed-seed sample of CompSC hydrides (<= 8 atoms, 50-300 GPa: the screening range) is relaxed at its pressure with every
offline potential (symmetry kept, BFGS to fmax 0.05 eV/A, at most 100 steps or 40 s); every sampled structure was dynamically
stable in the DFT work behind its lambda, so phonon_stable_fraction is the fraction the
MLIP phonon filter would keep (1 - its false-rejection rate). Models run in parallel
processes (one per core, one torch thread each); each loads its model once.
Last line: best_model=NAME median_volume_error_pct=X phonon_stable_fraction=Y
(best = lowest median |volume error| on the structures every model relaxed; X is that median).

A fine-tuned model directory (hts finetune) can be named among --models; the sample is then drawn only from
hydrides whose elements it covers, and every model runs on that same sample. Models joined by "+"
(data/potential/model+data/potential/model-s1) relax and make phonons with their members' mean
(hts.potential.committee.MeanCalculator).

Usage: python benchmarks/mlip_fidelity.py [--n 40] [--max-atoms 8] [--jobs 2]
       [--models 7net-l3i5,chgnet,7net-mf-0,7net-0] [--compsc ../shared/data/compsc] [--ph-displacement 0.01]
       [--ph-two-amplitudes]
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
PHONON_CHECK = {"min_length": 4.5, "max_atoms": 16, "mesh": 4}  # the check's defaults here (phonon_check_dft.py too)


def load_sample(path: Path, n: int, max_atoms: int, seed: int = 0, p_range=(50.0, 300.0), elements=None):
    """(ID, composition, pressure GPa, Structure) for n hydrides with <= max_atoms atoms in p_range GPa (and only
    ``elements``, if given: a fine-tuned model's coverage)."""
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
            if elements is not None and not set(species) <= set(elements):
                continue
            lat = Lattice.from_parameters(*(float(r[k]) for k in ("a", "b", "c", "alpha", "beta", "gamma")))
            out.append((r["ID"], r["composition"], float(r["pressure"]), Structure(lat, species, ast.literal_eval(r["xred"]))))
        except (ValueError, SyntaxError):
            continue
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(out), size=min(n, len(out)), replace=False)
    return [out[i] for i in sorted(idx)]


def run_model(model: str, sample, ph_min_length: float, ph_max_atoms: int, ph_mesh: int, max_wall_s: float,
              ph_displacement: float = 0.01, ph_two_amplitudes: bool = False) -> dict:
    """Relax + phonon-check every structure with one model (in its own process, one thread)."""
    warnings.filterwarnings("ignore")
    from hts.relax.mlip import set_torch_threads
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.phonons import phonon_check

    set_torch_threads(1)
    t0 = time.perf_counter()
    calc = mean_calculator(model)
    maker = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=100, keep_symmetry=True, max_wall_s=max_wall_s,
                           calculator=calc)
    rows = []
    for sid, comp, p, s in sample:
        r = maker.relax(s, p)
        row = {"id": sid, "formula": comp, "pressure_GPa": p, "ok": r.structure is not None, "reason": r.reason}
        if r.structure is not None:
            row["dV_pct"] = 100.0 * (r.volume_A3 / s.volume - 1.0)
            ph = phonon_check(r.structure, model, min_length=ph_min_length, max_atoms=ph_max_atoms, mesh=ph_mesh,
                              displacement=ph_displacement, two_amplitudes=ph_two_amplitudes, calculator=calc)
            row.update(phonon=ph.classification, min_freq_THz=ph.min_frequency_THz,
                       min_commensurate_freq_THz=ph.min_commensurate_frequency_THz)
        rows.append(row)
        print(f"    [{model}] {len(rows)}/{len(sample)} {comp} {p:g} GPa dV={row.get('dV_pct', float('nan')):+.1f}% "
              f"{row.get('phonon')} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return {"model": model, "rows": rows, "wall_s": time.perf_counter() - t0, "ph_displacement_A": ph_displacement,
            "ph_two_amplitudes": ph_two_amplitudes}


def mean_calculator(model: str):
    """The members' mean for a "+"-joined model name, else None (the model loads itself)."""
    if "+" not in model:
        return None
    from hts.potential.committee import MeanCalculator

    return MeanCalculator(model.split("+"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-atoms", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models", default="7net-l3i5,chgnet,7net-mf-0,7net-0")
    ap.add_argument("--ph-min-length", type=float, default=PHONON_CHECK["min_length"])
    ap.add_argument("--ph-max-atoms", type=int, default=PHONON_CHECK["max_atoms"])
    ap.add_argument("--ph-mesh", type=int, default=PHONON_CHECK["mesh"])
    ap.add_argument("--ph-displacement", type=float, default=0.01, help="A; phonons.displacement_A of the configs")
    ap.add_argument("--ph-two-amplitudes", action="store_true",
                    help="force constants from F(2u) - F(u): a cusp of the energy cancels (hts.stability.phonons)")
    ap.add_argument("--max-wall-s", type=float, default=40.0, help="per relaxation; beyond it: a timeout failure")
    ap.add_argument("--json", help="write per-structure results here")
    ap.add_argument("--summarize", help="only print the summary of a JSON written by --json")
    ap.add_argument("--compsc", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "compsc"))
    args = ap.parse_args()

    models = args.models.split(",")
    if args.summarize:  # reuse the per-structure results of a run; the hydrogen gate is cheap and rerun
        with ProcessPoolExecutor(args.jobs) as ex:
            gate = {g["model"]: g for g in ex.map(hydrogen_gate, models)}
        summarize(json.loads(Path(args.summarize).read_text()), gate)
        return
    t0 = time.perf_counter()
    from hts.relax.mlip import is_finetuned

    covered = None  # CompSC is never training data; a fine-tuned model is tested where it claims coverage
    for m in (member for m in models for member in m.split("+")):
        if is_finetuned(m):
            els = set(json.loads((Path(m) / "model.json").read_text())["elements"])
            covered = els if covered is None else covered & els
    sample = load_sample(Path(args.compsc), args.n, args.max_atoms, elements=covered)
    if covered is not None:
        print(f"sample restricted to the fine-tuned models' elements {sorted(covered)}", flush=True)
    print(f"{len(sample)} CompSC hydrides (<= {args.max_atoms} atoms, 50-300 GPa, seed 0), "
          f"{min(s[2] for s in sample):.0f}-{max(s[2] for s in sample):.0f} GPa; phonons: supercell >= "
          f"{args.ph_min_length} A (<= {args.ph_max_atoms} atoms), mesh {args.ph_mesh}^3, displacement "
          f"{args.ph_displacement} A{' (two amplitudes)' if args.ph_two_amplitudes else ''}", flush=True)
    results = {}
    with ProcessPoolExecutor(args.jobs) as ex:
        gate_futs = [ex.submit(hydrogen_gate, m) for m in models]
        futs = [ex.submit(run_model, m, sample, args.ph_min_length, args.ph_max_atoms, args.ph_mesh,
                          args.max_wall_s, args.ph_displacement, args.ph_two_amplitudes) for m in models]
        for f in futs:
            res = f.result()
            results[res["model"]] = res
            print(f"{res['model']:>10}: done in {res['wall_s']:.0f} s", flush=True)
        gate = {g["model"]: g for g in (f.result() for f in gate_futs)}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"total wall time {time.perf_counter() - t0:.0f} s on {args.jobs} processes")
    summarize(results, gate)


def hydrogen_gate(model: str, pressure_GPa: float = 150.0) -> dict:
    """Relax hts's hydrogen reference phases (molecular Pa-3, P6_3/mmc; atomic I4_1/amd) at pressure.

    A hydride hull needs H at the same pressure with the same model: a model passes when every phase
    relaxes without collapse and the enthalpies stay within 1 eV/atom of each other (no unphysical
    deep minimum)."""
    warnings.filterwarnings("ignore")
    from hts.relax.mlip import set_torch_threads
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.references import element_references

    set_torch_threads(1)
    maker = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=200, keep_symmetry=True, calculator=mean_calculator(model))
    phases = {}
    for g in element_references(["H"], pressure_GPa, None):
        r = maker.relax(g.structure, pressure_GPa)
        phases[g.origin.get("phase")] = r.enthalpy_per_atom if r.structure is not None else None
    ok_h = [h for h in phases.values() if h is not None]
    passed = len(ok_h) == len(phases) and max(ok_h) - min(ok_h) < 1.0
    return {"model": model, "phases_eV_per_atom": phases, "passed": passed}


def summarize(results: dict, gate: dict | None = None) -> None:
    """Per-model table and the last line. best = lowest median |dV| on the structures that every
    model relaxed (the same set for all; a model cannot win by failing the hard cases), among
    the models that pass the hydrogen-reference gate when it was run."""
    models = list(results)
    n = len(results[models[0]]["rows"])
    common = [i for i in range(n) if all(results[m]["rows"][i]["ok"] for m in models)]
    print(f"{'model':>10} {'relaxed':>7} {'median|dV|%':>11} {'p90|dV|%':>8} {'signed%':>7} "
          f"{'common-set median|dV|% (n=' + str(len(common)) + ')':>30} {'phonon-stable':>13}")
    summary = {}
    for m in models:
        rows = results[m]["rows"]
        ok = [r for r in rows if r["ok"]]
        err = np.abs([r["dV_pct"] for r in ok])
        com = float(np.median([abs(rows[i]["dV_pct"]) for i in common])) if common else float("nan")
        stable = sum(r.get("phonon") in ("stable", "acoustic_noise") for r in ok) / max(len(ok), 1)
        summary[m] = (com, stable)
        print(f"{m:>10} {len(ok):>4}/{n:<2} {np.median(err):11.2f} {np.percentile(err, 90):8.2f} "
              f"{np.median([r['dV_pct'] for r in ok]):+7.2f} {com:30.2f} {stable:13.2f}")
        reasons = {}
        for r in rows:
            if not r["ok"]:
                key = r["reason"].split(":")[0].split(" after")[0]
                reasons[key] = reasons.get(key, 0) + 1
        if reasons:
            print(f"{'':>10} failures: " + ", ".join(f"{k} x{v}" for k, v in sorted(reasons.items())))
    print("phonon-stable: fraction of the relaxed structures (all DFT-stable) that the MLIP phonon check "
          "calls stable; 1 - it is the filter's false-rejection rate")
    eligible = list(summary)
    if gate:
        for m, g in gate.items():
            txt = ", ".join(f"{k} {'collapsed' if v is None else f'{v:.2f}'}" for k, v in g["phases_eV_per_atom"].items())
            print(f"hydrogen gate {m:>10}: {'pass' if g['passed'] else 'FAIL'} (H at 150 GPa, eV/atom: {txt})")
        eligible = [m for m in summary if gate.get(m, {}).get("passed")] or eligible
    best = min(eligible, key=lambda m: summary[m][0])
    print(f"best_model={best} median_volume_error_pct={summary[best][0]:.2f} phonon_stable_fraction={summary[best][1]:.2f}")


if __name__ == "__main__":
    main()
