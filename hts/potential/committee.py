"""Committee disagreement: how much the prescreen's models disagree on a relaxed candidate.

The committee is the relaxing model plus ``relax.committee`` (fine-tuned models of other seeds, or shipped ones).
Each member evaluates the same structure at the same pressure; the spread of their enthalpies (meV/atom) and of
their forces (eV/A, largest over atoms of the RMS deviation from the committee mean) says where the potential
is unsure. Candidates above ``relax.uncertain_enthalpy_meV_per_atom`` or ``relax.uncertain_force_eV_A`` are
marked ``relax.uncertain`` and are what ``hts label --campaign`` labels next, for the next fine-tuning round.
:class:`MeanCalculator` relaxes with the members' mean instead (measured in ``benchmarks/mlip_fidelity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

__all__ = ["Disagreement", "MeanCalculator", "disagreement", "member_predictions", "spread"]


@dataclass(frozen=True)
class Disagreement:
    enthalpy_std_meV_per_atom: float
    force_std_eV_A: float
    n_members: int

    def uncertain(self, enthalpy_meV: float, force_eV_A: float) -> bool:
        return self.enthalpy_std_meV_per_atom > enthalpy_meV or self.force_std_eV_A > force_eV_A


def member_predictions(structure, pressure_GPa: float, models: list[str]) -> list[tuple[float, np.ndarray]]:
    """[(enthalpy eV/atom, forces eV/A)] of each model for ``structure`` held fixed at ``pressure_GPa``. A fine-tuned
    member's energies go back to the DFT scale with its own per-element offsets (each member refits them), so that
    members are compared on one scale."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.relax.mlip import finetuned_meta, get_calculator, is_finetuned
    from hts.units import GPA_TO_EV_PER_A3

    out = []
    atoms = AseAtomsAdaptor.get_atoms(structure)
    pv = pressure_GPa * GPA_TO_EV_PER_A3 * atoms.get_volume()
    for m in models:
        a = atoms.copy()
        a.calc = get_calculator(m)
        shift = 0.0
        if is_finetuned(m):
            off = finetuned_meta(m)["offsets_eV_per_atom"]
            shift = sum(off[s] for s in a.get_chemical_symbols())
        out.append(((float(a.get_potential_energy()) + shift + pv) / len(a), np.asarray(a.get_forces())))
    return out


def disagreement(structure, pressure_GPa: float, models: list[str]) -> Disagreement:
    """Spread of the committee ``models`` (two or more) on ``structure`` at ``pressure_GPa``."""
    if len(models) < 2:
        raise ValueError(f"a committee needs two models or more, got {models}")
    return spread(member_predictions(structure, pressure_GPa, models))


def spread(preds: list[tuple[float, np.ndarray]]) -> Disagreement:
    """Disagreement of the members' (enthalpy eV/atom, forces eV/A) predictions (:func:`member_predictions`)."""
    h = np.array([p[0] for p in preds])
    f = np.stack([p[1] for p in preds])  # (members, atoms, 3)
    dev = np.sqrt(((f - f.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0))  # per atom, RMS over members
    return Disagreement(float(1000 * h.std()), float(dev.max()), len(preds))


class MeanCalculator(Calculator):
    """ASE calculator whose energy, forces and stress are the mean of the ``models``' (each loaded once per process).
    The members' energy zeros may differ by per-element constants, which no relaxation or hull at one pressure sees."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, models: list[str], device: str = "cpu"):
        from hts.relax.mlip import get_calculator

        super().__init__()
        self.members = [get_calculator(m, device) for m in models]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        e, f, s = [], [], []
        for calc in self.members:
            a = self.atoms.copy()
            a.calc = calc
            e.append(a.get_potential_energy())
            f.append(a.get_forces())
            s.append(a.get_stress())
        self.results = {"energy": float(np.mean(e)), "free_energy": float(np.mean(e)),
                        "forces": np.mean(f, axis=0), "stress": np.mean(s, axis=0)}
