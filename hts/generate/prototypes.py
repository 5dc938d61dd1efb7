"""Hydride prototypes built from space group + Wyckoff positions.

Each prototype records its space group, the Wyckoff sites, a lattice at a quoted
pressure and the literature reference. Positions are representative values; every
structure is relaxed before use, so only the symmetry and the site topology matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from pymatgen.core import Lattice, Structure

__all__ = ["Prototype", "PROTOTYPES", "DEFAULT_PROTOTYPES", "get_prototype", "prototype_structure"]


@dataclass(frozen=True)
class Prototype:
    """A crystal prototype: space group, Wyckoff sites and literature source.

    ``sites`` lists (species, Wyckoff label, fractional coordinates of one representative).
    ``lattice`` holds (a, b, c, alpha, beta, gamma) in Angstrom/degrees at ``pressure_GPa``.
    """

    name: str
    formula: str
    spacegroup: str
    spacegroup_number: int
    lattice: tuple[float, float, float, float, float, float]
    sites: tuple[tuple[str, str, tuple[float, float, float]], ...]
    pressure_GPa: float
    reference: str
    doi: str
    metal_sites: tuple[str, ...] = field(default=())  # species playing the "metal" role
    # drawn by the substitution generator unless a config lists its prototypes; False for the light-hydride
    # structure types added for the potential's labels (a campaign names them in ``substitution.prototypes``)
    in_default_search: bool = True

    def structure(self) -> Structure:
        return prototype_structure(self.name)


PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in [
        Prototype(
            "H3S_Im-3m", "H3S", "Im-3m", 229, (3.09, 3.09, 3.09, 90, 90, 90),
            (("S", "2a", (0, 0, 0)), ("H", "6b", (0, 0.5, 0.5))),
            150.0, "D. Duan et al., Sci. Rep. 4, 6968 (2014)", "10.1038/srep06968", ("S",),
        ),
        Prototype(
            "CaH6_Im-3m", "CaH6", "Im-3m", 229, (3.50, 3.50, 3.50, 90, 90, 90),
            (("Ca", "2a", (0, 0, 0)), ("H", "12d", (0.25, 0, 0.5))),
            150.0, "H. Wang et al., PNAS 109, 6463 (2012)", "10.1073/pnas.1118168109", ("Ca",),
        ),
        Prototype(
            "YH6_Im-3m", "YH6", "Im-3m", 229, (3.58, 3.58, 3.58, 90, 90, 90),
            (("Y", "2a", (0, 0, 0)), ("H", "12d", (0.25, 0, 0.5))),
            165.0, "Y. Li et al., Sci. Rep. 5, 9948 (2015)", "10.1038/srep09948", ("Y",),
        ),
        Prototype(
            "MgH6_Im-3m", "MgH6", "Im-3m", 229, (3.30, 3.30, 3.30, 90, 90, 90),
            (("Mg", "2a", (0, 0, 0)), ("H", "12d", (0.25, 0, 0.5))),
            300.0, "X. Feng et al., RSC Adv. 5, 59292 (2015)", "10.1039/C5RA11459D", ("Mg",),
        ),
        Prototype(
            "LaH10_Fm-3m", "LaH10", "Fm-3m", 225, (5.10, 5.10, 5.10, 90, 90, 90),
            (("La", "4a", (0, 0, 0)), ("H", "8c", (0.25, 0.25, 0.25)), ("H", "32f", (0.38, 0.38, 0.38))),
            200.0, "H. Liu et al., PNAS 114, 6990 (2017)", "10.1073/pnas.1704505114", ("La",),
        ),
        Prototype(
            "YH9_P6_3/mmc", "YH9", "P6_3/mmc", 194, (3.40, 3.40, 5.20, 90, 90, 120),
            (("Y", "2c", (1 / 3, 2 / 3, 0.25)), ("H", "2b", (0, 0, 0.25)),
             ("H", "4f", (1 / 3, 2 / 3, 0.60)), ("H", "12k", (0.155, 0.31, 0.07))),
            150.0, "F. Peng et al., Phys. Rev. Lett. 119, 107001 (2017)",
            "10.1103/PhysRevLett.119.107001", ("Y",),
        ),
        Prototype(
            "LaBeH8_Fm-3m", "LaBeH8", "Fm-3m", 225, (5.20, 5.20, 5.20, 90, 90, 90),
            (("La", "4a", (0, 0, 0)), ("Be", "4b", (0.5, 0.5, 0.5)), ("H", "32f", (0.35, 0.35, 0.35))),
            100.0, "Z. Zhang et al., Phys. Rev. Lett. 128, 047001 (2022)",
            "10.1103/PhysRevLett.128.047001", ("La", "Be"),
        ),
        Prototype(
            "YH2_Fm-3m_fluorite", "YH2", "Fm-3m", 225, (4.60, 4.60, 4.60, 90, 90, 90),
            (("Y", "4a", (0, 0, 0)), ("H", "8c", (0.25, 0.25, 0.25))),
            100.0, "fluorite (CaF2) type; Y. Li et al., Sci. Rep. 5, 9948 (2015)",
            "10.1038/srep09948", ("Y",),
        ),
        Prototype(
            "La4H23_Pm-3n_A15", "La4H23", "Pm-3n", 223, (6.00, 6.00, 6.00, 90, 90, 90),
            (("La", "2a", (0, 0, 0)), ("La", "6c", (0.25, 0, 0.5)), ("H", "6d", (0.25, 0.5, 0)),
             ("H", "16i", (0.17, 0.17, 0.17)), ("H", "24k", (0, 0.28, 0.10))),
            120.0, "A15-type metal sublattice; J. Guo et al., Natl. Sci. Rev. 11, nwad241 (2024)",
            "10.1093/nsr/nwad241", ("La",),
        ),
        Prototype(
            "LiH_Fm-3m_rocksalt", "LiH", "Fm-3m", 225, (3.40, 3.40, 3.40, 90, 90, 90),
            (("Li", "4a", (0, 0, 0)), ("H", "4b", (0.5, 0.5, 0.5))),
            100.0, "rocksalt (B1) type, stable in experiment to 250 GPa; A. Lazicki et al., Phys. Rev. B 85, 054103 (2012)",
            "10.1103/PhysRevB.85.054103", ("Li",), in_default_search=False,
        ),
        Prototype(
            "AlH3_Pm-3n", "AlH3", "Pm-3n", 223, (3.10, 3.10, 3.10, 90, 90, 90),
            (("Al", "2a", (0, 0, 0)), ("H", "6c", (0.25, 0, 0.5))),
            110.0, "metallic cubic phase above 100 GPa (A15 type); I. Goncharenko et al., Phys. Rev. Lett. 100, 045504 (2008)",
            "10.1103/PhysRevLett.100.045504", ("Al",), in_default_search=False,
        ),
    ]
}

DEFAULT_PROTOTYPES = tuple(sorted(n for n, p in PROTOTYPES.items() if p.in_default_search))


@lru_cache(maxsize=None)
def _build(name: str) -> Structure:
    p = PROTOTYPES[name]
    species = [s for s, _, _ in p.sites]
    coords = [c for _, _, c in p.sites]
    lat = Lattice.from_parameters(*p.lattice)
    return Structure.from_spacegroup(p.spacegroup_number, lat, species, coords, tol=1e-3)


def prototype_structure(name: str) -> Structure:
    """Conventional cell of a prototype (a fresh copy)."""
    if name not in PROTOTYPES:
        raise KeyError(f"unknown prototype {name!r}; known: {sorted(PROTOTYPES)}")
    return _build(name).copy()


def get_prototype(name: str) -> Prototype:
    if name not in PROTOTYPES:
        raise KeyError(f"unknown prototype {name!r}; known: {sorted(PROTOTYPES)}")
    return PROTOTYPES[name]
