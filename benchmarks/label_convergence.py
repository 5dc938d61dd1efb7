"""k-point convergence of DFT labels: one configuration labelled at several k spacings, each compared with the
densest (energy per atom, forces, pressure), so the coarsest spacing that meets the potential's accuracy targets
(energy 20 meV/atom, force 0.15 eV/A, pressure 3 GPa, each with margin) is chosen on evidence.
Resumable: one JSON line per (configuration id, k spacing, cutoff scale) in docs/data/label_convergence.jsonl.

    python benchmarks/label_convergence.py --element Ca --formula CaH6 --pressure 150 --k-spacing 0.25 0.35 0.45

Last line: ``coarsest_ok_k_spacing=X de_meV=.. df_eV_A=.. dp_GPa=..`` (deviations of that spacing from the densest).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from hts.label.configurations import label_configurations
from hts.label.dft import LabelSettings, scf_label

OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "label_convergence.jsonl"
TARGETS = {"de_meV": 5.0, "df_eV_A": 0.05, "dp_GPa": 1.0}  # a third of the accuracy targets or less


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--element", required=True)
    ap.add_argument("--formula", required=True, help="prototype formula (or the element, for an element phase)")
    ap.add_argument("--pressure", type=float, default=150.0)
    ap.add_argument("--k-spacing", nargs="+", type=float, default=[0.25, 0.35, 0.45])
    ap.add_argument("--nprocs", type=int, default=1)
    args = ap.parse_args()
    configs = [c for c in label_configurations([args.element], [args.pressure], strains=(0.0,), max_atoms=12)
               if (c.origin.get("formula") or c.origin.get("element")) == args.formula]
    if not configs:
        raise SystemExit(f"no configuration of {args.formula} for {args.element}")
    c = configs[0]
    rows = [json.loads(x) for x in OUT.read_text().splitlines() if x.strip()] if OUT.exists() else []
    res = {}
    for ks in sorted(args.k_spacing):
        old = [r for r in rows if r["id"] == c.id and r["k_spacing_invA"] == ks]
        if old:
            res[ks] = old[0]
            continue
        with tempfile.TemporaryDirectory() as tmp:
            doc = scf_label(c, LabelSettings(k_spacing_invA=ks, nprocs=args.nprocs), Path(tmp))
        if doc["status"] != "ok":
            raise SystemExit(f"k spacing {ks}: {doc['failure']}")
        row = {"id": c.id, "formula": doc["formula"], "n_atoms": doc["n_atoms"], "k_spacing_invA": ks,
               "k_mesh": doc["k_mesh"], "energy_eV": doc["energy_eV"], "forces_eV_A": doc["forces_eV_A"],
               "pressure_GPa": doc["pressure_GPa"], "wall_s": doc["wall_s"], "ecutwfc_Ry": doc["ecutwfc_Ry"]}
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")
        res[ks] = row
        print(json.dumps({k: v for k, v in row.items() if k != "forces_eV_A"}), flush=True)
    ref = res[min(res)]
    best = None
    for ks in sorted(res):
        r = res[ks]
        d = {"de_meV": 1000 * abs(r["energy_eV"] - ref["energy_eV"]) / r["n_atoms"],
             "df_eV_A": float(np.abs(np.subtract(r["forces_eV_A"], ref["forces_eV_A"])).max()),
             "dp_GPa": abs(r["pressure_GPa"] - ref["pressure_GPa"])}
        print(f"k spacing {ks}: mesh {r['k_mesh']}, {r['wall_s']} s, " + ", ".join(f"{k} {v:.3f}" for k, v in d.items()))
        if all(d[k] <= TARGETS[k] for k in d):
            best = (ks, d)
    ks, d = best
    print(f"coarsest_ok_k_spacing={ks} " + " ".join(f"{k}={v:.3f}" for k, v in d.items()))


if __name__ == "__main__":
    main()
