"""Element references at pressure with a prescreen potential, against pw.x with the label pseudopotentials.

For each element and pressure, every trial phase hts uses as a hull reference (hts.stability.references) is relaxed
with each model. A phase has *collapsed* when its relaxed volume per atom is below 0.8x the DFT volume at that
pressure (the element's Vinet fit of hts's own labels, hts.label.volumes) or its relaxation diverged. The
lowest-enthalpy phase of each model is then relaxed with pw.x (vc-relax, psl-us-pbe, label settings) and the
volumes compared. With ``--all-phases`` pw.x relaxes every trial phase, so the phase order is checked too: pw.x's
lowest phase against the model's (a model can get the volume of its lowest phase right and still pick the wrong
phase, hence the wrong chemical potential). Resumable: one JSON line per (model and its weights md5, element,
pressure, trial cells' md5) and per DFT relaxation in docs/data/element_references.jsonl.

    python benchmarks/element_references.py --models chgnet data/potential/model --elements H S Ca Y La Mg Sr Ba \
        --pressures 150 250

``--k-spacing`` sets pw.x's k spacing (default the labels' 0.35/A); the pw.x rows of each spacing are kept and read
apart, so the phase order and volumes can be checked against a denser mesh.

Last line: ``model=NAME collapsed=K/N max_volume_error_pct=X lowest_phase_agrees=A/B`` for the last model named (K
collapsed phases of N; X the largest |dV| of its lowest-enthalpy phases against pw.x; A of the B element-pressure
pairs whose every phase pw.x has relaxed have the model's lowest phase equal to pw.x's).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "data" / "element_references.jsonl"
COLLAPSE = 0.8
LABEL_K = 0.35  # 1/A, the labels' k spacing since session 14


def rows() -> list[dict]:
    return [json.loads(x) for x in OUT.read_text().splitlines() if x.strip()] if OUT.exists() else []


def write(row: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "structure"}), flush=True)


def trial_cells_md5(element: str, p: float) -> str:
    """md5 (12 characters) of the trial cells relaxed from: a result is only reused for the cells it started from."""
    from hts.stability.references import element_references

    cells = [(g.origin["phase"], np.round(g.structure.lattice.matrix, 4).tolist(), [str(x) for x in g.structure.species],
              np.round(g.structure.frac_coords, 4).tolist()) for g in element_references([element], p)]
    return hashlib.md5(json.dumps(cells).encode()).hexdigest()[:12]


def relax_phases(model: str, element: str, p: float, volumes, max_wall_s: float = 180.0) -> dict:
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.references import element_references

    maker = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=300, max_wall_s=max_wall_s)
    phases = {}
    for g in element_references([element], p):
        r = maker.relax(g.structure, p)
        v_ref = volumes.atomic_volume(element, p)
        entry = {"ok": r.ok, "reason": r.reason if not r.ok else None, "v_ref_A3": round(v_ref, 3)}
        if r.structure is not None and r.n_atoms:
            v = r.volume_A3 / r.n_atoms if r.volume_A3 else r.structure.volume / len(r.structure)
            entry |= {"volume_A3_per_atom": round(v, 3), "volume_ratio": round(v / v_ref, 3),
                      "enthalpy_eV_per_atom": None if r.enthalpy_eV is None else r.enthalpy_eV / r.n_atoms,
                      "structure": r.structure.as_dict()}
        entry["collapsed"] = (not r.ok and r.failure_type == "diverged") or entry.get("volume_ratio", 1.0) < COLLAPSE
        phases[g.origin["phase"]] = entry
    ok = {k: v for k, v in phases.items() if v.get("enthalpy_eV_per_atom") is not None and not v["collapsed"]}
    best = min(ok, key=lambda k: ok[k]["enthalpy_eV_per_atom"]) if ok else None
    return {"phases": phases, "lowest": best}


def main() -> None:
    from hts.label.dft import LabelSettings, vc_relax
    from hts.label.volumes import CalibratedVolumes
    from hts.potential.finetune import read_labels
    from hts.relax.mlip import weights_md5

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["chgnet"])
    ap.add_argument("--elements", nargs="+", default=["H", "S", "Ca", "Y", "La", "Mg", "Sr", "Ba"])
    ap.add_argument("--pressures", nargs="+", type=float, default=[150.0, 250.0])
    ap.add_argument("--labels", default=str(ROOT / "data" / "potential" / "labels.jsonl"))
    ap.add_argument("--nprocs", type=int, default=1)
    ap.add_argument("--no-dft", action="store_true", help="the MLIP side only")
    ap.add_argument("--all-phases", action="store_true", help="pw.x relaxes every trial phase (the phase order)")
    ap.add_argument("--k-spacing", type=float, default=LABEL_K,
                    help=f"pw.x's k spacing, 1/A (default {LABEL_K}, the labels'; rows of each spacing kept apart)")
    args = ap.parse_args()
    volumes = CalibratedVolumes.from_labels(read_labels(Path(args.labels), "psl-us-pbe"))
    done = rows()
    settings = LabelSettings(k_spacing_invA=args.k_spacing, nprocs=args.nprocs, timeout_s=3600)
    for model in args.models:
        wid = weights_md5(model)
        for el in args.elements:
            for p in args.pressures:
                key = {"kind": "mlip", "model": model, "weights_md5": wid, "element": el, "pressure_GPa": p,
                       "trial_cells_md5": trial_cells_md5(el, p)}
                row = next((r for r in done if all(r.get(k) == v for k, v in key.items())), None)
                if row is None:
                    row = key | relax_phases(model, el, p, volumes)
                    write(row)
                    done.append(row)
                if args.no_dft:
                    continue
                todo = list(row["phases"]) if args.all_phases else [row["lowest"]] if row["lowest"] else []
                relaxed = dft_by_phase(done, el, p, args.k_spacing)
                for phase in todo:
                    if phase in relaxed:  # a failed pw.x relaxation is tried again
                        continue
                    dkey = {"kind": "dft", "element": el, "pressure_GPa": p, "phase": phase}
                    if args.k_spacing != LABEL_K:  # rows without a spacing were made at the labels' 0.35/A
                        dkey["k_spacing_invA"] = args.k_spacing
                    s = start_structure(row["phases"][phase], el, p, phase)
                    wd = Path("/tmp/hts_element_refs") / f"{el}-{p:g}-{phase.replace('/', '_')}-k{args.k_spacing:g}"
                    res = vc_relax(s, p, settings, wd)
                    d = dkey | {k: v for k, v in res.items() if k != "structure"}
                    write(d)
                    done.append(d)
    summarize(args.models[-1], args.elements, args.pressures, done, args.k_spacing)


def start_structure(entry: dict, element: str, p: float, phase: str):
    """pw.x starts from the model's relaxed cell of ``phase``, or where the model collapsed it from hts's trial cell
    scaled to the labels' volume at ``p`` (from the trial cell's own volume, Ba at 250 GPa, pw.x's first BFGS step
    halves the cell and the semicore charges overlap: 'charge is wrong')."""
    from pymatgen.core import Structure

    from hts.stability.references import element_references

    if entry.get("structure") and not entry["collapsed"]:
        return Structure.from_dict(entry["structure"])
    s = next(g.structure for g in element_references([element], p) if g.origin["phase"] == phase)
    s.scale_lattice(entry["v_ref_A3"] * len(s))
    return s


def dft_by_phase(done: list[dict], element: str, p: float, k_spacing: float = LABEL_K) -> dict[str, dict]:
    """The successful pw.x rows of ``element`` at ``p`` and ``k_spacing``, by phase (the first where a phase has
    several)."""
    out: dict[str, dict] = {}
    for r in done:
        if (r.get("kind") == "dft" and r["element"] == element and r["pressure_GPa"] == p and r.get("ok")
                and abs(r.get("k_spacing_invA", LABEL_K) - k_spacing) < 1e-9):
            out.setdefault(r["phase"], r)
    return out


def dft_lowest(done: list[dict], element: str, p: float, phases, k_spacing: float = LABEL_K) -> str | None:
    """pw.x's lowest-enthalpy phase of ``phases`` when pw.x has relaxed every one of them, else None."""
    dft = dft_by_phase(done, element, p, k_spacing)
    if not set(phases) <= set(dft):
        return None
    return min(phases, key=lambda ph: dft[ph]["enthalpy_eV_per_atom"])


def summarize(model: str, elements, pressures, done: list[dict], k_spacing: float = LABEL_K) -> None:
    from hts.relax.mlip import weights_md5

    n = collapsed = agree = ordered = 0
    errs = []
    wid = weights_md5(model)
    for el in elements:
        for p in pressures:
            row = next((r for r in done if r.get("kind") == "mlip" and r["model"] == model and r["element"] == el
                        and r.get("weights_md5") == wid and r["pressure_GPa"] == p
                        and r.get("trial_cells_md5") == trial_cells_md5(el, p)), None)
            if row is None:
                continue
            n += len(row["phases"])
            collapsed += sum(v["collapsed"] for v in row["phases"].values())
            best = row["lowest"]
            ref = dft_lowest(done, el, p, row["phases"], k_spacing)
            if ref is not None:
                ordered += 1
                agree += best == ref
                if best != ref:
                    print(f"{el:3s} {p:5.0f} GPa  lowest {best} but pw.x's lowest is {ref}")
            dft = dft_by_phase(done, el, p, k_spacing).get(best)
            if best and dft:
                v = row["phases"][best]["volume_A3_per_atom"]
                err = 100 * (v - dft["volume_A3_per_atom"]) / dft["volume_A3_per_atom"]
                errs.append(abs(err))
                print(f"{el:3s} {p:5.0f} GPa  lowest {best:22s} V {v:7.3f}  pw.x {dft['volume_A3_per_atom']:7.3f}  "
                      f"{err:+6.1f} %")
    worst = max(errs) if errs else float("nan")
    print(f"model={model} collapsed={collapsed}/{n} max_volume_error_pct={worst:.1f} "
          f"lowest_phase_agrees={agree}/{ordered}")


if __name__ == "__main__":
    main()
