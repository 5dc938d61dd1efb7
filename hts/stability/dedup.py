"""Duplicate detection: a cheap fingerprint (reduced formula, spacegroup) then StructureMatcher."""

from __future__ import annotations

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

__all__ = ["Deduplicator", "fingerprint"]


def fingerprint(structure: Structure, symprec: float = 0.1) -> str:
    """'LaYH12|229': reduced formula and space group number (spglib, loose tolerance)."""
    try:
        sg = SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number()
    except Exception:
        sg = 0
    return f"{structure.composition.reduced_formula}|{sg}"


class Deduplicator:
    """Keeps the originals seen so far; ``find`` returns the id of a match or None.

    Structures are compared at the same pressure only (the caller keys by pressure).
    """

    def __init__(self, ltol: float = 0.2, stol: float = 0.3, angle_tol: float = 5.0):
        self.matcher = StructureMatcher(ltol=ltol, stol=stol, angle_tol=angle_tol)
        self._by_formula: dict[str, list[tuple[str, Structure]]] = {}

    def add(self, doc_id: str, structure: Structure) -> None:
        self._by_formula.setdefault(structure.composition.reduced_formula, []).append((doc_id, structure))

    def find(self, structure: Structure) -> str | None:
        for doc_id, other in self._by_formula.get(structure.composition.reduced_formula, []):
            if self.matcher.fit(structure, other):
                return doc_id
        return None
