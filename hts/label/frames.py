"""Labels left by the DFT stages: the pw.x frames of the re-screen's vc-relax and of DFPT's scf (energy, forces,
stress), as label documents of the store's ``labels`` collection, beside those ``hts label`` makes.

Units and signs are those of :mod:`hts.label.dft`. Each label records the campaign's pseudopotential family and
protocol; fine-tuning takes the labels of one family only (``hts finetune --family``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["frame_of", "pw_frames", "stage_labels"]


def frame_of(atoms) -> dict:
    """{energy_eV, forces_eV_A, stress_GPa (ASE sign), pressure_GPa} of a pw.x step read by ASE."""
    from hts.units import EV_PER_A3_TO_GPA

    stress = np.asarray(atoms.get_stress(voigt=False)) * EV_PER_A3_TO_GPA
    return {"energy_eV": float(atoms.get_potential_energy()), "forces_eV_A": np.asarray(atoms.get_forces()).round(6).tolist(),
            "stress_GPa": stress.round(5).tolist(), "pressure_GPa": round(float(-np.trace(stress) / 3), 4)}


def pw_frames(output: Path, max_frames: int = 4) -> list[dict]:
    """Up to ``max_frames`` ionic steps of a pw.x output (first and last kept, the rest evenly spaced), each
    {structure (pymatgen dict), energy_eV, forces_eV_A, stress_GPa, pressure_GPa}; [] if none is complete."""
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        steps = read(output, format="espresso-out", index=":")
    except Exception:  # noqa: BLE001 (no complete step: no label, the stage's own failure record says why)
        return []
    out = []
    for a in steps:
        try:
            out.append({"structure": AseAtomsAdaptor.get_structure(a).as_dict(), **frame_of(a)})
        except Exception:  # noqa: BLE001 (a step without stress or forces is not a label)
            continue
    if len(out) > max_frames:
        keep = sorted({int(round(i)) for i in np.linspace(0, len(out) - 1, max_frames)})
        out = [out[i] for i in keep]
    return out


def stage_labels(doc: dict, frames: list[dict], stage: str, tc: dict, family: str, protocol: str) -> list[dict]:
    """Label documents of ``frames`` from ``stage`` for candidate (or reference) ``doc``; ``tc`` is the stage's tc
    block (cutoffs, k mesh, QE version, pseudopotentials)."""
    from pymatgen.core import Structure

    out = []
    for i, f in enumerate(frames):
        origin = {"source": "dft_stage", "stage": stage, "campaign": doc.get("campaign"), "candidate_id": doc["id"],
                  "formula": doc["formula"], "prototype": (doc.get("origin") or {}).get("prototype") or doc["formula"],
                  "pressure_GPa": doc["pressure_GPa"], "frame": i, "family": family, "protocol": protocol}
        key = json.dumps(origin, sort_keys=True, default=str)
        s = Structure.from_dict(f["structure"])
        out.append({"id": "lbl-" + hashlib.sha1(key.encode()).hexdigest()[:14], "origin": origin,
                    "formula": s.composition.reduced_formula, "elements": sorted({e.symbol for e in s.composition.elements}),
                    "n_atoms": len(s), "target_pressure_GPa": doc["pressure_GPa"], "status": "ok",
                    "energy_eV": f["energy_eV"], "forces_eV_A": f["forces_eV_A"], "stress_GPa": f["stress_GPa"],
                    "pressure_GPa": f["pressure_GPa"], "structure": f["structure"],
                    "ecutwfc_Ry": tc.get("ecutwfc_Ry"), "ecutrho_Ry": tc.get("ecutrho_Ry"), "k_mesh": tc.get("k_mesh"),
                    "settings": {"family": family, "protocol": protocol, "stage": stage},
                    "qe_version": tc.get("qe_version"), "pseudopotentials": tc.get("pseudopotentials"), "wall_s": None})
    return out
