"""Are a label's energy and stress the same function? The pressure pw.x reports is compared with the one its energies
imply: the label's cell is recomputed at volumes (1 -+ delta) V (uniform strain, fractional coordinates and k mesh
kept, same settings), and P_E = -(E+ - E-) / (V+ - V-) against the mean of the two runs' pressures. A difference is
Pulay stress of an unconverged cutoff: stress labels that no potential can fit together with the energies.
Resumable: one JSON line per label id in docs/data/label_stress_consistency.jsonl.

    python benchmarks/label_stress_consistency.py --labels data/potential/labels.jsonl --ids lbl-... lbl-...

Last line: ``max_pulay_GPa=X id=ID n=N`` (largest |P_stress - P_E| of the rows of these ids).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from hts.label.configurations import LabelConfig
from hts.label.dft import LabelSettings, scf_label
from hts.potential.finetune import read_labels
from hts.units import EV_PER_A3_TO_GPA

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "data" / "label_stress_consistency.jsonl"


def _strained(structure, volume_factor: float):
    s = structure.copy()
    s.scale_lattice(structure.volume * volume_factor)
    return s


def consistency_row(label: dict, delta: float, ecut_scale: float, nprocs: int) -> dict:
    """Two pw.x runs of the label's cell at (1 -+ delta) V; the row (raises SystemExit on a failed run)."""
    settings = replace(LabelSettings(**label["settings"]), ecut_scale=ecut_scale, nprocs=nprocs, npool=1)
    runs = {}
    for sign in (-1, 1):
        s = _strained(label["structure"], 1 + sign * delta)
        probe = LabelConfig(s, {"stress_probe": label["id"], "volume_factor": 1 + sign * delta,
                                "ecut_scale": ecut_scale})
        with tempfile.TemporaryDirectory() as tmp:
            doc = scf_label(probe, settings, Path(tmp))
        if doc["status"] != "ok":
            raise SystemExit(f"{label['id']} at {1 + sign * delta:.3f} V: {doc['failure']}")
        if ecut_scale == 1.0 and doc["k_mesh"] != label["k_mesh"]:
            raise SystemExit(f"{label['id']}: k mesh {doc['k_mesh']} at {1 + sign * delta:.3f} V, label {label['k_mesh']}")
        runs[sign] = (s.volume, doc)
    (vm, dm), (vp, dp) = runs[-1], runs[1]
    p_energy = -(dp["energy_eV"] - dm["energy_eV"]) / (vp - vm) * EV_PER_A3_TO_GPA
    p_stress = 0.5 * (dp["pressure_GPa"] + dm["pressure_GPa"])
    o = label["origin"]
    return {"id": label["id"], "formula": label["formula"], "group": o.get("phase") or o.get("prototype"),
            "source": o.get("source"), "n_atoms": label["n_atoms"], "ecutwfc_Ry": dp["ecutwfc_Ry"],
            "ecut_scale": ecut_scale, "k_mesh": dp["k_mesh"], "delta": delta, "label_pressure_GPa": label["pressure_GPa"],
            "p_stress_GPa": round(p_stress, 3), "p_energy_GPa": round(p_energy, 3),
            "pulay_GPa": round(p_stress - p_energy, 3), "wall_s": round(dp["wall_s"] + dm["wall_s"], 1),
            "qe_version": dp["qe_version"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", nargs="+", default=[str(ROOT / "data" / "potential" / "labels.jsonl")])
    ap.add_argument("--ids", nargs="+", required=True)
    ap.add_argument("--delta", type=float, default=0.005, help="volume strain of each side")
    ap.add_argument("--ecut-scale", type=float, default=1.0, help="x the label's family cutoffs (1: the label's own)")
    ap.add_argument("--nprocs", type=int, default=1)
    args = ap.parse_args()
    labels = {r["id"]: r for f in args.labels for r in read_labels(Path(f))}
    missing = [i for i in args.ids if i not in labels]
    if missing:
        raise SystemExit(f"no ok label {missing[0]} in {' '.join(args.labels)}")
    rows = [json.loads(x) for x in OUT.read_text().splitlines() if x.strip()] if OUT.exists() else []
    done = {(r["id"], r["ecut_scale"], r["delta"]): r for r in rows}
    worst = (0.0, "")
    for i in args.ids:
        row = done.get((i, args.ecut_scale, args.delta))
        if row is None:
            row = consistency_row(labels[i], args.delta, args.ecut_scale, args.nprocs)
            with OUT.open("a") as f:
                f.write(json.dumps(row) + "\n")
        print(f"{i} {row['formula']:6s} {row['group']:24s} {row['ecutwfc_Ry']:5.1f} Ry  P_stress {row['p_stress_GPa']:8.2f}"
              f"  P_energy {row['p_energy_GPa']:8.2f}  Pulay {row['pulay_GPa']:6.2f} GPa  ({row['wall_s']:.0f} s)")
        worst = max(worst, (abs(row["pulay_GPa"]), i))
    print(f"max_pulay_GPa={worst[0]:.2f} id={worst[1]} n={len(args.ids)}")


if __name__ == "__main__":
    main()
