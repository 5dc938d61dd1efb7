"""Hull references hts computes itself: elements and sub-binaries at the campaign pressure.

Elements: fcc, bcc, hcp and simple cubic for metals; for hydrogen the molecular
high-pressure phases P6_3/m (phase I), C2/c-24 (phase III, Pickard & Needs, Nat. Phys.
3, 473 (2007)) approximated here by compact molecular cells, and atomic Cs-IV-like
I4_1/amd (McMahon & Ceperley, PRL 106, 165302 (2011)). The lowest enthalpy after
relaxation is the reference. Sub-binaries are the metal hydrides from the prototype
library (see :mod:`hts.generate.substitution`).

With ``mp_api`` and an MP_API_KEY, extra element/binary structures can be taken from
the Materials Project and relaxed here; offline this fails fast and is skipped.
"""

from __future__ import annotations

import os
import socket

from pymatgen.core import Lattice, Structure

from hts.generate.candidate import GeneratedStructure
from hts.generate.volume import atomic_volume

__all__ = ["element_references", "mp_references", "MPUnavailable"]


class MPUnavailable(RuntimeError):
    """The Materials Project cannot be reached (no key or no network)."""


def _scaled(s: Structure, symbol: str, pressure_GPa: float, factor: float = 1.0) -> Structure:
    s.scale_lattice(factor * len(s) * atomic_volume(symbol, pressure_GPa))
    return s


def _hydrogen_cells(pressure_GPa: float) -> dict[str, Structure]:
    b = 0.74  # H2 bond length (Angstrom)
    cells = {}
    # fcc molecular (alpha-N2-like, Pa-3)
    cells["H2_Pa-3"] = Structure.from_spacegroup(205, Lattice.cubic(3.2), ["H"], [[0.064, 0.064, 0.064]])
    # hcp arrangement of H2 molecules along c (phase I / P6_3/m-like)
    hcp = Structure.from_spacegroup(
        194, Lattice.hexagonal(2.0, 3.2), ["H"], [[1 / 3, 2 / 3, 0.25 + b / 6.4]]
    )
    cells["H2_P6_3/mmc-molecular"] = hcp
    # atomic metallic hydrogen, Cs-IV type I4_1/amd
    cells["H_I4_1/amd"] = Structure.from_spacegroup(141, Lattice.tetragonal(1.2, 3.0), ["H"], [[0, 0, 0]])
    # pure hydrogen is ~1.7x less dense than H in hydrides (Loubeyre et al., Nature 383, 702 (1996))
    return {k: _scaled(v, "H", pressure_GPa, 1.7) for k, v in cells.items()}


def _metal_cells(symbol: str, pressure_GPa: float) -> dict[str, Structure]:
    cells = {
        "fcc": Structure.from_spacegroup(225, Lattice.cubic(4.0), [symbol], [[0, 0, 0]]).get_primitive_structure(),
        "bcc": Structure.from_spacegroup(229, Lattice.cubic(3.2), [symbol], [[0, 0, 0]]).get_primitive_structure(),
        "hcp": Structure.from_spacegroup(194, Lattice.hexagonal(2.8, 4.5), [symbol], [[1 / 3, 2 / 3, 0.25]]),
        "sc": Structure(Lattice.cubic(2.6), [symbol], [[0, 0, 0]]),
    }
    return {k: _scaled(v, symbol, pressure_GPa) for k, v in cells.items()}


def element_references(elements: list[str], pressure_GPa: float, max_phases: int | None = None) -> list[GeneratedStructure]:
    """Trial phases of every element, scaled to the expected volume at pressure."""
    out = []
    for el in elements:
        cells = _hydrogen_cells(pressure_GPa) if el == "H" else _metal_cells(el, pressure_GPa)
        for name, s in list(cells.items())[:max_phases]:
            out.append(GeneratedStructure(s, {"generator": "reference", "kind": "element", "element": el, "phase": name}, role="reference"))
    return out


def mp_references(chemsys: str, timeout_s: float = 5.0) -> list[Structure]:
    """Structures in ``chemsys`` from the Materials Project; raises MPUnavailable fast offline."""
    key = os.environ.get("MP_API_KEY")
    if not key:
        raise MPUnavailable("MP_API_KEY is not set; using the references hts computes itself")
    try:
        socket.create_connection(("api.materialsproject.org", 443), timeout=timeout_s).close()
    except OSError as exc:
        raise MPUnavailable(f"Materials Project unreachable ({exc}); using the references hts computes itself") from exc
    from mp_api.client import MPRester

    with MPRester(key) as mpr:
        docs = mpr.materials.summary.search(chemsys=chemsys, fields=["structure", "material_id"])
    return [d.structure for d in docs]
