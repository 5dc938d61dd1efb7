"""Volume per atom at pressure, used to size random cells.

Metals: Murnaghan equation V(P) = V0 (1 + B0' P / B0)^(-1/B0') with V0 and B0 from
pymatgen's element data and B0' = 4. Hydrogen in hydrides: v_H(P) = 5.0 (1 + P/20)^-0.4
Angstrom^3, fitted by eye to H3S (150 GPa) and LaH10 (200 GPa) cells (within ~5%).
"""

from __future__ import annotations

from pymatgen.core import Composition, Element

__all__ = ["atomic_volume", "target_volume"]

_AVOGADRO = 6.02214076e23


def atomic_volume(symbol: str, pressure_GPa: float) -> float:
    """Estimated volume (Angstrom^3) taken by one atom of ``symbol`` in a compound at P."""
    if symbol == "H":
        return 5.0 * (1.0 + pressure_GPa / 20.0) ** -0.4
    el = Element(symbol)
    v0 = float(el.molar_volume or 20.0) * 1e24 / _AVOGADRO  # cm^3/mol -> A^3/atom
    b0 = float(el.bulk_modulus or 50.0)
    bp = 4.0
    return v0 * (1.0 + bp * pressure_GPa / b0) ** (-1.0 / bp)


def target_volume(composition: Composition, pressure_GPa: float) -> float:
    """Sum of atomic volumes (Angstrom^3) for a composition at pressure."""
    return sum(n * atomic_volume(str(el), pressure_GPa) for el, n in composition.items())
