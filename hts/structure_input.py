"""Structure files from users (CIF, POSCAR), checked before spglib, an MLIP or QE sees them.

spglib crashes the process (SIGSEGV) on a NaN coordinate, QE runs for minutes on a cell with
overlapping atoms, and a zero-volume cell gives a traceback deep in a library. :func:`read_structure`
turns every such file into one :class:`StructureInputError` line; :func:`check_structure` applies the
same checks to a structure that is already in memory.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

__all__ = ["LIMITS", "StructureInputError", "check_structure", "read_structure"]

LIMITS = {
    "max_bytes": 2 << 20,  # a CIF of a few hundred atoms is tens of KB
    "max_atoms": 500,
    "min_length_A": 0.5,  # lattice vector length
    "max_length_A": 200.0,
    "min_volume_A3_per_atom": 0.5,  # hydrogen at 500 GPa is about 1.5 A^3/atom
    "max_volume_A3_per_atom": 500.0,
    "min_distance_A": 0.5,  # the relaxer's bound (MLIPRelaxMaker.min_distance_A)
}


class StructureInputError(ValueError):
    """A structure that is refused before any library computes with it."""


def check_structure(structure, min_distance_A: float = LIMITS["min_distance_A"]) -> None:
    """Raise :class:`StructureInputError` unless ``structure`` (pymatgen) is a sane periodic crystal."""
    from pymatgen.core import Element

    n = len(structure)
    if n == 0:
        raise StructureInputError("the structure has no atoms")
    if n > LIMITS["max_atoms"]:
        raise StructureInputError(f"{n} atoms; at most {LIMITS['max_atoms']} per cell")
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    frac = np.asarray(structure.frac_coords, dtype=float)
    if not (np.isfinite(matrix).all() and np.isfinite(frac).all()):
        raise StructureInputError("non-finite (NaN or infinite) lattice or coordinate values")
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.min() < LIMITS["min_length_A"] or lengths.max() > LIMITS["max_length_A"]:
        raise StructureInputError(f"lattice vector lengths {np.round(lengths, 3).tolist()} A outside "
                                  f"[{LIMITS['min_length_A']}, {LIMITS['max_length_A']}] A")
    volume = abs(float(np.linalg.det(matrix)))
    per_atom = volume / n
    if not LIMITS["min_volume_A3_per_atom"] <= per_atom <= LIMITS["max_volume_A3_per_atom"]:
        raise StructureInputError(f"volume {per_atom:.3g} A^3/atom outside [{LIMITS['min_volume_A3_per_atom']}, "
                                  f"{LIMITS['max_volume_A3_per_atom']}] (zero or degenerate cell?)")
    for site in structure:
        if not site.is_ordered:
            raise StructureInputError("partial occupancies; give an ordered structure")
        el = site.specie
        if not isinstance(el, Element) and not hasattr(el, "element"):
            raise StructureInputError(f"unknown species {el!s}")
        if getattr(el, "Z", 0) < 1 or getattr(el, "Z", 0) > 103:
            raise StructureInputError(f"unsupported element {el!s}")
    if n > 1:
        d = _min_distance(matrix, frac)
        if d < min_distance_A:
            raise StructureInputError(f"atoms {d:.3f} A apart, closer than {min_distance_A} A")


def _min_distance(matrix: np.ndarray, frac: np.ndarray) -> float:
    """Shortest distance between two atoms, periodic images included (numpy only)."""
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
    diff = frac[:, None, :] - frac[None, :, :]
    diff -= np.round(diff)
    best = math.inf
    for s in shifts:
        cart = (diff + s) @ matrix
        dist = np.linalg.norm(cart, axis=-1)
        if not s.any():
            np.fill_diagonal(dist, np.inf)
        best = min(best, float(dist.min()))
    # a cell shorter than the distance itself: the atom meets its own image
    best = min(best, float(np.linalg.norm(matrix, axis=1).min()))
    return best


def read_structure(path: str | Path):
    """Read a CIF or POSCAR file into a checked pymatgen Structure; one-line :class:`StructureInputError`."""
    from pymatgen.core import Structure

    from hts.user_files import UserFileError, read_text

    path = Path(path)
    if not path.is_file():
        raise StructureInputError(f"structure file {path} not found")
    try:
        text = read_text(path, LIMITS["max_bytes"])
    except UserFileError as exc:
        raise StructureInputError(str(exc)) from None
    fmt = "cif" if path.suffix.lower() == ".cif" or "_cell_length_a" in text else "poscar"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(text, fmt=fmt)
    except Exception as exc:  # noqa: BLE001 (the parsers raise many types for a malformed file)
        msg = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise StructureInputError(f"cannot read {path} as {fmt.upper()}: {type(exc).__name__} {msg}".rstrip()) from None
    try:
        check_structure(structure)
    except StructureInputError as exc:
        raise StructureInputError(f"{path}: {exc}") from None
    return structure
