"""Frozen-phonon configurations along a potential's imaginary modes, to label with DFT.

The phonon check calls a structure unstable when the potential's force constants have imaginary modes; at the q
points its supercell contains these are the potential's own (docs/potential.md, session 24). Where DFT disagrees,
the potential has the curvature of the energy wrong along exactly those displacement patterns. The supercell
displaced along each soft mode, at a few amplitudes, is what a label can correct: rattled cells sample random
directions and rarely these.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from hts.label.configurations import LabelConfig

__all__ = ["mode_pattern", "soft_mode_configurations", "soft_mode_label_configurations", "soft_modes"]


def soft_modes(ph, supercell: list[int], threshold_THz: float = -0.5) -> list[tuple[list[float], int, float]]:
    """(q in reduced coordinates, band index, frequency THz) of the lowest mode at each q point the diagonal
    ``supercell`` contains, where it lies below ``threshold_THz`` (imaginary modes are negative); ``ph`` is a Phonopy
    object with force constants whose primitive cell is the unit cell itself (q in its reciprocal basis)."""
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    out = []
    for q in get_commensurate_points(np.diag(supercell)):
        ph.run_qpoints([q])
        freqs = np.asarray(ph.get_qpoints_dict()["frequencies"])[0]
        band = int(np.argmin(freqs))
        if freqs[band] < threshold_THz:
            out.append(([round(float(x), 6) for x in q], band, float(freqs[band])))
    return out


def mode_pattern(ph, supercell: list[int], q, band: int) -> tuple[np.ndarray, object]:
    """Real Cartesian displacements of mode ``band`` at ``q`` in the supercell, scaled to a largest atomic
    displacement of 1, and that (undisplaced) supercell."""
    ph.run_modulations(supercell, [[q, band, 1.0, 0.0]])
    mods, cell = ph.get_modulations_and_supercell()
    u = np.asarray(mods)[0]
    re, im = np.real(u), np.imag(u)
    u = re if np.linalg.norm(re) >= np.linalg.norm(im) else im  # the phase whose real pattern is not empty
    return u / np.linalg.norm(u, axis=1).max(), cell


def soft_mode_configurations(structure: Structure, origin: dict, calculator, supercell: list[int],
                             amplitudes_A=(0.05, 0.1, 0.2), threshold_THz: float = -0.5, model: str = "",
                             displacement_A: float = 0.01) -> list[LabelConfig]:
    """The ``supercell`` of ``structure`` displaced along each of the potential's soft modes (the lowest mode per
    commensurate q below ``threshold_THz``), its largest atomic displacement being each of ``amplitudes_A``. The
    origin keeps ``origin`` and adds q, band, the potential's frequency (0.1 THz) and ``model``; its ``source`` is
    ``soft_mode``."""
    from hts.stability.phonons import model_force_constants

    ph = model_force_constants(structure, calculator, supercell, displacement_A)
    out = []
    for q, band, freq in soft_modes(ph, supercell, threshold_THz):
        u, cell = mode_pattern(ph, supercell, q, band)
        for amp in amplitudes_A:
            s = Structure(cell.cell, list(cell.symbols), np.asarray(cell.positions) + amp * u,
                          coords_are_cartesian=True)
            out.append(LabelConfig(s, {**origin, "source": "soft_mode", "supercell": list(supercell), "q": q,
                                       "band": band, "model_frequency_THz": round(freq, 1), "amplitude_A": amp,
                                       "model": model}))
    return out


def soft_mode_label_configurations(bases: list[LabelConfig], model: str, min_length_A: float = 4.5,
                                   max_atoms: int = 16, amplitudes_A=(0.05, 0.1, 0.2),
                                   threshold_THz: float = -0.5) -> list[LabelConfig]:
    """Frozen-phonon configurations of every base cell (unstrained, unrattled) where ``model`` has soft modes, in the
    phonon check's supercell (lattice vectors >= ``min_length_A``, at most ``max_atoms``). The model is recorded with
    its weights' md5, so a retrained model's modes are new configurations. Cells of a fine-tuned model's held-out
    groups are left out: labelled, they would put its test prototypes into the next training."""
    from hts.potential.split import label_group
    from hts.relax.mlip import finetuned_meta, get_calculator, is_finetuned, weights_md5
    from hts.stability.phonons import supercell_matrix

    calc = get_calculator(model)
    md5 = weights_md5(model)
    tag = f"{model}@{md5}" if md5 else model
    held_out = set(finetuned_meta(model).get("val_groups", [])) if is_finetuned(model) else set()
    out = []
    for b in bases:
        if label_group({"origin": b.origin}) in held_out:
            continue
        sc = supercell_matrix(b.structure, min_length_A, max_atoms)
        if int(np.prod(sc)) * len(b.structure) > max_atoms:
            continue
        out += soft_mode_configurations(b.structure, b.origin, calc, sc, amplitudes_A, threshold_THz, tag)
    return out
