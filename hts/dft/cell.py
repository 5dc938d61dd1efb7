"""The cell handed to Quantum ESPRESSO.

pw.x and ph.x only recognise symmetry operations that are rotations in its own Cartesian frame
(the cubic group about x, y, z, or the hexagonal group with c along z). A cell in another
orientation, e.g. an fcc primitive cell read from a CIF (a along x), keeps only a few of them:
fcc Al at k 8^3 then needs 150 irreducible k points instead of 29, and every q point of ph.x
costs as much more. The spglib standard primitive cell has the conventional orientation, and it
is also the smallest cell, which is what DFPT wants.
"""

from __future__ import annotations

import logging

from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

__all__ = ["qe_cell"]

log = logging.getLogger(__name__)


def qe_cell(structure: Structure, symprec: float = 1e-3) -> Structure:
    """spglib's standard primitive cell of ``structure`` (symprec in Angstrom); the input when spglib fails
    or the result does not hold the same composition at the same volume per atom."""
    try:
        std = SpacegroupAnalyzer(structure, symprec=symprec).get_primitive_standard_structure()
    except Exception as exc:  # spglib gives up on some cells: QE still runs, only slower
        log.warning("no standard cell (%s): using the cell as given", exc)
        return structure
    same = (std.composition.reduced_formula == structure.composition.reduced_formula
            and abs(std.volume / len(std) - structure.volume / len(structure)) < 1e-3 * structure.volume / len(structure))
    return std if same else structure
