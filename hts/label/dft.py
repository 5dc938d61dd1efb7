"""One DFT label: a pw.x scf of a configuration, with its energy, forces and stress and every setting recorded.

Units and signs (checked against pw.x's own ``P=`` line in tests/test_label.py):
- ``energy_eV``: total energy, eV (the pseudopotentials' energy zero; fine-tuning refits per-element offsets);
- ``forces_eV_A``: per atom, eV/A;
- ``stress_GPa``: 3x3, ASE's sign (positive = tensile: a compressed cell has negative diagonal stress);
- ``pressure_GPa``: -trace(stress)/3, positive under compression, as pw.x prints it (in kbar).
A failed run is a label document too (``status: failed`` with the typed QE failure).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["LabelSettings", "scf_label", "vc_relax"]


@dataclass(frozen=True)
class LabelSettings:
    family: str = "psl-us-pbe"  # pressures converged at its cutoffs (docs/potential.md); GTH needs >200 Ry
    k_spacing_invA: float = 0.30  # reciprocal-lattice spacing (2 pi included); see docs/potential.md
    min_k: int = 2
    ecut_scale: float = 1.0  # x the family's suggested cutoffs
    smearing: str = "mv"
    degauss_Ry: float = 0.02
    conv_thr_Ry_per_atom: float = 1e-8
    nprocs: int = 1
    npool: int = 1
    timeout_s: float | None = 1800.0

    def as_dict(self) -> dict:
        return asdict(self)


def _write_pw_input(path: Path, structure, settings: LabelSettings, family, extra: dict) -> dict:
    """Write a pw.x input for ``structure`` with the label settings (the family's cutoffs x ecut_scale, the k
    spacing, smearing, forces and stress) and the namelist entries of ``extra``; {ecutwfc_Ry, ecutrho_Ry, k_mesh}.
    A one-atom cell is written with its atom at the origin (the same crystal): off it, the symmetry operations need
    fractional translations that pw.x discards, and it finds no symmetry (a rattled one-atom Ba cell at 0.18/A: 1099 k
    points, where the cubic cell's 16x16x16 mesh has 165 irreducible ones)."""
    from ase.io.espresso import write_espresso_in
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.tc.protocols import mesh

    symbols = sorted({e.symbol for e in structure.composition.elements})
    if len(structure) == 1:  # a rattled one-atom cell: pw.x finds its symmetry only with the atom at the origin
        structure = structure.copy()
        structure.translate_sites([0], -structure[0].frac_coords, frac_coords=True, to_unit_cell=False)
    wfc, rho = family.cutoffs(symbols)
    wfc, rho = round(wfc * settings.ecut_scale, 2), round(rho * settings.ecut_scale, 2)
    k = mesh(np.asarray(structure.lattice.reciprocal_lattice.abc), settings.k_spacing_invA, settings.min_k)
    data = {"control": {"outdir": "./tmp", "pseudo_dir": str(family.dir), "tprnfor": True, "tstress": True,
                        "disk_io": "none"},
            "system": {"ecutwfc": wfc, "ecutrho": rho, "occupations": "smearing", "smearing": settings.smearing,
                       "degauss": settings.degauss_Ry},
            "electrons": {"conv_thr": settings.conv_thr_Ry_per_atom * len(structure), "mixing_beta": 0.4}}
    for block, entries in extra.items():
        data.setdefault(block, {}).update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        write_espresso_in(f, AseAtomsAdaptor.get_atoms(structure), input_data=data,
                          pseudopotentials=family.files(symbols), kpts=k)
    return {"ecutwfc_Ry": wfc, "ecutrho_Ry": rho, "k_mesh": list(k)}


def scf_label(config, settings: LabelSettings, workdir: Path, family=None) -> dict:
    """Run pw.x on ``config`` (a :class:`~hts.label.configurations.LabelConfig`); the label document."""
    from ase.io import read

    from hts.dft.pseudo import load_family
    from hts.dft.qe import QEError, QERunner
    from hts.label.frames import frame_of

    s = config.structure
    doc = {"id": config.id, "origin": config.origin, "formula": s.composition.reduced_formula,
           "elements": sorted({e.symbol for e in s.composition.elements}), "n_atoms": len(s),
           "target_pressure_GPa": config.origin.get("pressure_GPa"), "structure": s.as_dict(),
           "settings": settings.as_dict()}
    t0 = time.time()
    try:
        fam = family or load_family(settings.family)
        symbols = doc["elements"]
        prov = fam.provenance(symbols)
        inp = workdir / "scf.in"
        setup = _write_pw_input(inp, s, settings, fam, {"control": {"calculation": "scf", "prefix": "lbl"},
                                                        "electrons": {"electron_maxstep": 150}})
        doc.update(**setup, pseudopotentials=prov)
        run = QERunner(nprocs=settings.nprocs, timeout_s=settings.timeout_s, npool=settings.npool).run(
            "pw.x", inp, workdir, step="label scf")
        doc.update(status="ok", **frame_of(read(run.output, format="espresso-out")), qe_version=run.version,
                   wall_s=round(run.wall_s, 1))
    except QEError as exc:
        doc.update(status="failed", failure=exc.as_dict(), wall_s=round(time.time() - t0, 1))
    except Exception as exc:  # noqa: BLE001 (a missing pseudopotential, an unreadable output: a typed record)
        doc.update(status="failed", failure={"kind": type(exc).__name__, "step": "label", "message": str(exc)[:300]},
                   wall_s=round(time.time() - t0, 1))
    return doc


def vc_relax(structure, pressure_GPa: float, settings: LabelSettings, workdir: Path) -> dict:
    """pw.x vc-relax of ``structure`` at ``pressure_GPa`` with the label settings (family, cutoffs, k spacing):
    {ok, volume_A3_per_atom, enthalpy_eV_per_atom, structure, wall_s} or {ok: False, failure}. The DFT side of
    the element-reference check (benchmarks/element_references.py)."""
    import re

    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.dft.cell import qe_cell
    from hts.dft.pseudo import load_family
    from hts.dft.qe import QEError, QERunner
    from hts.units import KBAR_PER_GPA, RY_TO_EV

    structure = qe_cell(structure)  # spglib's standard cell: an MLIP cell's near-symmetry crashes pw.x's checkallsym
    _write_pw_input(workdir / "vc.in", structure, settings, load_family(settings.family), {
        "control": {"calculation": "vc-relax", "prefix": "vc", "nstep": 80, "forc_conv_thr": 1e-3},
        "ions": {"ion_dynamics": "bfgs"},
        "cell": {"cell_dynamics": "bfgs", "press": pressure_GPa * KBAR_PER_GPA, "press_conv_thr": 0.5}})
    try:
        run = QERunner(nprocs=settings.nprocs, timeout_s=settings.timeout_s, npool=settings.npool).run(
            "pw.x", workdir / "vc.in", workdir, step="vc-relax")
        final = read(run.output, format="espresso-out", index=-1)
        enth = re.findall(r"Final enthalpy\s*=\s*([-\d.]+)\s*Ry", Path(run.output).read_text())
        if not enth:
            return {"ok": False, "failure": {"kind": "not_converged", "step": "vc-relax", "message": "no final enthalpy"}}
        return {"ok": True, "volume_A3_per_atom": final.get_volume() / len(final),
                "enthalpy_eV_per_atom": float(enth[-1]) * RY_TO_EV / len(final),
                "structure": AseAtomsAdaptor.get_structure(final).as_dict(), "wall_s": round(run.wall_s, 1)}
    except QEError as exc:
        return {"ok": False, "failure": exc.as_dict()}
