"""The MLIP phonon check against the same check with pw.x forces, on CompSC hydrides.

``benchmarks/mlip_fidelity.py`` counts how many DFT-stable CompSC hydrides the MLIP phonon check calls stable. This
asks whether the check itself (its supercell of at most 16 atoms, its q mesh) would call them stable with DFT forces:
each chosen structure, at its CompSC geometry and pressure, goes through ``hts.stability.phonons.phonon_check`` twice,
with the MLIP and with pw.x (the label settings: psl-us-pbe, smearing; but k spacing 0.2/A, since at the labels'
0.35/A the k-mesh error of the 0.01 A displacements' forces turned Im-3m CaH6 unstable at Gamma) as the force calculator.
Rows go to a JSON-lines file (resumable: a structure already there is not computed again).

Usage: python benchmarks/phonon_check_dft.py --ids 120 118 --model data/potential/model [--nprocs 2]
       [--ph-min-length 6 --ph-max-atoms 64 --ph-mesh 8]   (a campaign's phonon settings; default: mlip_fidelity.py's)
       [--conventional]   (the conventional standard cell: a cubic cell's supercell contains the zone-boundary points)
Last line: dft_stable=N/M mlip_stable=K/M (of the M structures computed so far with these settings)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]


class PwForces(Calculator):
    """pw.x scf energies and forces with hts's label settings (one run per call, in a scratch folder)."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, settings, workdir: Path):
        super().__init__()
        self.settings, self.workdir, self.n = settings, workdir, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        from pymatgen.io.ase import AseAtomsAdaptor

        from hts.label.dft import scf_label

        super().calculate(atoms, properties, system_changes)
        self.n += 1
        cfg = SimpleNamespace(structure=AseAtomsAdaptor.get_structure(self.atoms), id=f"ph{self.n}", origin={})
        doc = scf_label(cfg, self.settings, self.workdir / f"ph{self.n}")
        if doc["status"] != "ok":
            raise RuntimeError(f"pw.x failed: {doc['failure']}")
        self.results = {"energy": doc["energy_eV"], "free_energy": doc["energy_eV"],
                        "forces": np.asarray(doc["forces_eV_A"])}


def _show(ph) -> str:
    return f"{ph.classification} (min {ph.min_frequency_THz:.1f} THz, at the supercell's own q points " \
           f"{ph.min_commensurate_frequency_THz:.1f})" if ph.min_frequency_THz is not None else f"failed ({ph.reason})"


def main() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mlip_fidelity import PHONON_CHECK, load_sample

    from hts.label.dft import LabelSettings
    from hts.stability.phonons import phonon_check

    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", nargs="+", required=True, help="CompSC IDs of mlip_fidelity.py's sample")
    ap.add_argument("--model", default=str(ROOT / "data" / "potential" / "model"))
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--k-spacing", type=float, default=0.2,
                    help="1/A; the labels' 0.35 is too coarse for 0.01 A displacements (CaH6, docs/potential.md, session 40)")
    ap.add_argument("--ph-min-length", type=float, default=PHONON_CHECK["min_length"], help="supercell vectors >= A")
    ap.add_argument("--ph-max-atoms", type=int, default=PHONON_CHECK["max_atoms"])
    ap.add_argument("--ph-mesh", type=int, default=PHONON_CHECK["mesh"])
    ap.add_argument("--conventional", action="store_true",
                    help="start from the conventional standard cell (spglib) instead of CompSC's cell")
    ap.add_argument("--rows", default=str(ROOT / "docs" / "data" / "phonon_check_dft.jsonl"))
    ap.add_argument("--compsc", default=str(ROOT.parent / "shared" / "data" / "compsc"))
    args = ap.parse_args()

    rows_path = Path(args.rows)
    done = [json.loads(x) for x in rows_path.read_text().splitlines()] if rows_path.exists() else []
    settings = LabelSettings(k_spacing_invA=args.k_spacing, nprocs=args.nprocs)
    physics = {k: v for k, v in settings.as_dict().items() if k not in ("nprocs", "npool", "timeout_s")}
    check = {"min_length": args.ph_min_length, "max_atoms": args.ph_max_atoms, "mesh": args.ph_mesh}
    cell = {"cell": "conventional"} if args.conventional else {}  # recorded with the check; CompSC's cell has no key
    mine = [r for r in done if r["settings"] == physics and r.get("check", PHONON_CHECK) == {**check, **cell}]
    sample = {sid: (comp, p, s) for sid, comp, p, s in load_sample(Path(args.compsc), 10**6, 8)}
    for sid in args.ids:
        if any(r["id"] == sid for r in mine):
            continue
        comp, p, s = sample[sid]
        if args.conventional:
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            s = SpacegroupAnalyzer(s, symprec=1e-3).get_conventional_standard_structure()
        mlip = phonon_check(s, args.model, **check)
        with tempfile.TemporaryDirectory(prefix="hts_ph_") as tmp:
            calc = PwForces(settings, Path(tmp))
            dft = phonon_check(s, "pw.x", calculator=calc, **check)
        row = {"id": sid, "formula": comp, "pressure_GPa": p, "supercell": dft.supercell, "check": {**check, **cell},
               "settings": physics, "n_pw_runs": calc.n, "dft": dft.summary(),
               "mlip": {"model": args.model, **mlip.summary()}}
        mine.append(row)
        with open(rows_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{sid} {comp} {p:g} GPa: pw.x {_show(dft)}, MLIP {_show(mlip)}; {calc.n} pw.x runs", flush=True)
    stable = ("stable", "acoustic_noise")
    print(f"dft_stable={sum(r['dft']['classification'] in stable for r in mine)}/{len(mine)} "
          f"mlip_stable={sum(r['mlip']['classification'] in stable for r in mine)}/{len(mine)}")


if __name__ == "__main__":
    main()
