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
    """The trial phases near pure hydrogen's volume at pressure, the molecules keeping their bond (scaling a molecular
    cell as a whole squeezes the bond with it)."""
    b = 0.74  # H2 bond length (Angstrom)
    # pw.x (psl-us-pbe, docs/data/element_references.jsonl) relaxes the molecular phases to 1.93-2.00 A^3/atom at 150
    # GPa and 1.57-1.62 at 250: 0.89-0.94 of hts's volume of H in hydrides (I4_1/amd 1.75 and 1.53: 0.82-0.87). The
    # earlier 1.7x started them 1.8-2.1x too large, with bonds squeezed to 0.64-0.68 A.
    v = 0.92 * atomic_volume("H", pressure_GPa)
    a = (8 * v) ** (1 / 3)  # fcc molecular (alpha-N2-like, Pa-3): 4 molecules centred on fcc sites, along <111>
    cells = {"H2_Pa-3": Structure.from_spacegroup(205, Lattice.cubic(a), ["H"], [[b / (2 * 3**0.5 * a)] * 3])}
    a = (4 * v / (3**0.5 / 2 * 1.6)) ** (1 / 3)  # hcp arrangement of molecules along c (phase I-like), c/a 1.6
    cells["H2_P6_3/mmc-molecular"] = Structure.from_spacegroup(
        194, Lattice.hexagonal(a, 1.6 * a), ["H"], [[1 / 3, 2 / 3, 0.25 + b / (2 * 1.6 * a)]])
    # atomic metallic hydrogen, Cs-IV type I4_1/amd
    atomic = Structure.from_spacegroup(141, Lattice.tetragonal(1.2, 3.0), ["H"], [[0, 0, 0]])
    atomic.scale_lattice(len(atomic) * v)
    cells["H_I4_1/amd"] = atomic
    return cells


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
