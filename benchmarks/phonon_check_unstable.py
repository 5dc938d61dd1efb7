"""Does the MLIP phonon check reject cells that pw.x shows dynamically unstable?

``mlip_fidelity.py`` measures false rejection (CompSC holds only DFT-stable structures). This measures false
acceptance: the frozen-phonon labels (``hts label --soft-modes``, amplitudes 0.1 and 0.2 A along a model's soft
mode) whose pw.x energy falls from 0.1 to 0.2 A lie on a mode that is unstable with DFT. The undisplaced cell is
2 x the 0.1 A cell - the 0.2 A cell (the labels are not rattled); each distinct one (prototype, formula, target
pressure) goes through ``hts.stability.phonons.phonon_check`` with mlip_fidelity.py's settings, with one
displacement amplitude and with two (``two_amplitudes``, force constants from F(2u) - F(u)).

Usage: python benchmarks/phonon_check_unstable.py [--model data/potential/model] [--labels FILE ...] [--displacement 0.01]
Last line: dft_unstable_cells=N rejected_one_amplitude=X rejected_two_amplitudes=Y
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
LABELS = [ROOT / "data" / "potential" / f for f in
          ("labels-soft-modes.jsonl", "labels-soft-modes-r2.jsonl", "labels-soft-modes-r3.jsonl")]

sys.path.insert(0, str(ROOT / "benchmarks"))
from soft_mode_rise import mode_pairs, rise_meV  # noqa: E402


def unstable_cells(paths) -> list[dict]:
    """One row per distinct undisplaced cell along whose labelled mode the pw.x energy falls (meV/atom, 0.1 -> 0.2 A)."""
    from pymatgen.core import Structure

    labels = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines()]
    cells: dict = {}
    for a, b in mode_pairs(labels):  # the 0.1 A and 0.2 A labels of one mode
        o = a["origin"]
        proto, formula, p, q = o["prototype"], o["formula"], o["pressure_GPa"], o["q"]
        fall = rise_meV(a["energy_eV"], b["energy_eV"], b["n_atoms"])
        if fall >= 0 or (proto, formula, p) in cells:
            continue
        base = 2.0 * np.asarray(a["positions_A"]) - np.asarray(b["positions_A"])
        s = Structure(a["lattice_A"], a["species"], base, coords_are_cartesian=True)
        cells[(proto, formula, p)] = {"prototype": proto, "formula": formula, "target_pressure_GPa": p,
                                      "pw_pressure_GPa": a["pressure_GPa"], "q": list(q), "fall_meV_per_atom": fall,
                                      "structure": s}
    return list(cells.values())


def main() -> None:
    from mlip_fidelity import PHONON_CHECK

    from hts.relax.mlip import get_calculator
    from hts.stability.phonons import phonon_check

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "data" / "potential" / "model"))
    ap.add_argument("--labels", nargs="+", default=[str(p) for p in LABELS])
    ap.add_argument("--displacement", type=float, default=0.01, help="A")
    args = ap.parse_args()

    cells = unstable_cells(args.labels)
    calc = get_calculator(args.model)
    rejected = {False: 0, True: 0}
    print(f"{len(cells)} cells pw.x shows unstable; model {args.model}, displacement {args.displacement} A")
    for c in cells:
        res = {two: phonon_check(c["structure"], args.model, displacement=args.displacement, two_amplitudes=two,
                                 calculator=calc, **PHONON_CHECK) for two in (False, True)}
        for two, r in res.items():
            rejected[two] += r.classification == "unstable"
        show = "  ".join(f"{'two' if two else 'one'}: {r.classification} ({r.min_frequency_THz:.1f} THz)"
                         for two, r in res.items())
        print(f"  {c['formula']:6s} {c['prototype']:20s} {c['pw_pressure_GPa']:5.0f} GPa  pw.x {c['fall_meV_per_atom']:+6.1f} "
              f"meV/atom from 0.1 to 0.2 A at q={c['q']}  {show}", flush=True)
    print(f"dft_unstable_cells={len(cells)} rejected_one_amplitude={rejected[False]} "
          f"rejected_two_amplitudes={rejected[True]}")


if __name__ == "__main__":
    main()
