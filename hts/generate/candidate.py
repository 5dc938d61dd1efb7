"""What every generator returns: a structure plus the origin needed to regenerate it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pymatgen.core import Structure

__all__ = ["GeneratedStructure", "candidate_id"]


def candidate_id(campaign: str, pressure_GPa: float, origin: dict) -> str:
    """Deterministic id: the same campaign, pressure and origin always give the same id."""
    key = json.dumps({"c": campaign, "p": round(float(pressure_GPa), 6), "o": origin}, sort_keys=True)
    return "hts-" + hashlib.sha1(key.encode()).hexdigest()[:12]


@dataclass
class GeneratedStructure:
    """An unrelaxed structure with its origin (generator, prototype, rule, seed, ...).

    ``role`` is "candidate" for structures being screened and "reference" for hull
    references (elements, sub-binaries) that hts computes itself.
    """

    structure: Structure
    origin: dict
    role: str = "candidate"
    tags: list[str] = field(default_factory=list)

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula
