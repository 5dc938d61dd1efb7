"""Enthalpy convex hull at one pressure with pymatgen's PhaseDiagram.

Entries carry the total enthalpy H = E + PV (eV) in place of the energy, so the hull is
the T = 0 Gibbs-energy hull at that pressure. All entries must come from the same
engine and model.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

__all__ = ["HullResult", "enthalpy_hull"]


@dataclass
class HullResult:
    e_above_hull_meV: float  # meV/atom
    decomposition: dict[str, float]  # reduced formula -> fraction


def enthalpy_hull(entries: dict[str, tuple[str | Composition, float]]) -> tuple[PhaseDiagram, dict[str, HullResult]]:
    """Build the hull from ``{id: (composition, total_enthalpy_eV)}``.

    Returns the PhaseDiagram and, for every id, e_above_hull (meV/atom) and the
    decomposition products. Raises ValueError if an element has no entry.
    """
    pd_entries = []
    for doc_id, (comp, h) in entries.items():
        e = PDEntry(Composition(comp), float(h), name=doc_id)
        e.entry_id = doc_id
        pd_entries.append(e)
    pd = PhaseDiagram(pd_entries)
    out = {}
    for e in pd_entries:
        decomp, e_hull = pd.get_decomp_and_e_above_hull(e, allow_negative=True)
        out[e.entry_id] = HullResult(
            e_above_hull_meV=1000.0 * float(e_hull),
            decomposition={d.composition.reduced_formula: round(float(f), 6) for d, f in decomp.items()},
        )
    return pd, out
