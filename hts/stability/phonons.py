"""Harmonic phonon check with phonopy and the same ML potential as the relaxation.

Classification of the lowest frequency on a q mesh plus Gamma (imaginary modes are
negative numbers, THz):

- ``stable``: no mode below -imaginary_tol
- ``acoustic_noise``: the only modes below -imaginary_tol are the three acoustic
  branches at q within one mesh step of Gamma, and above -gamma_acoustic_tol
- ``unstable``: anything else

``min_commensurate_frequency_THz`` is the lowest frequency at the supercell's own q points, where the supercell's
force constants give the dynamical matrix exactly; elsewhere it is Fourier-interpolated, and a supercell too small
for the force constants' range can put imaginary modes there that are not the structure's (pw.x forces on Im-3m
CaH6, docs/potential.md, session 24). Recorded beside the classification, which it does not change.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.phonopy import get_phonopy_structure

from hts.relax.mlip import get_calculator

__all__ = ["PhononResult", "mode_species_weight", "model_force_constants", "phonon_check", "supercell_matrix"]


@dataclass
class PhononResult:
    classification: str  # stable | acoustic_noise | unstable | failed
    min_frequency_THz: float | None
    min_q: list[float] | None
    max_frequency_THz: float | None
    supercell: list[int]
    n_displacements: int
    mesh: list[int]
    reason: str | None = None
    h_mean_frequency_THz: float | None = None  # mean of real modes weighted by their H share (None without H)
    min_commensurate_frequency_THz: float | None = None  # lowest at the supercell's own q points (no interpolation)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    # arrays for the additional store
    frequencies_THz: list | None = None
    qpoints: list | None = None
    dos_frequencies_THz: list | None = None
    dos: list | None = None
    h_weights: list | None = None  # per q point and mode: share of the mode's eigenvector on H atoms (0-1)

    ARRAYS: ClassVar[tuple[str, ...]] = ("frequencies_THz", "qpoints", "dos_frequencies_THz", "dos", "h_weights")

    def summary(self) -> dict:
        """The document's phonon block: every field but the ARRAYS."""
        d = asdict(self)
        for k in self.ARRAYS:
            d.pop(k)
        return d

    def arrays(self) -> dict:
        """The ARRAYS, for the additional store."""
        return {k: getattr(self, k) for k in self.ARRAYS}


def supercell_matrix(structure: Structure, min_length: float, max_atoms: int) -> list[int]:
    """Diagonal supercell with every lattice vector >= min_length (Angstrom) if it fits max_atoms."""
    abc = np.array(structure.lattice.abc)
    mult = np.maximum(1, np.ceil(min_length / abc)).astype(int)
    while np.prod(mult) * len(structure) > max_atoms and mult.max() > 1:
        mult[np.argmax(mult)] -= 1
    return [int(m) for m in mult]


def mode_species_weight(eigenvectors: np.ndarray, mask) -> np.ndarray:
    """Share (0-1) of each mode's unit eigenvector on the atoms where ``mask`` is true.

    ``eigenvectors``: phonopy's (n_q, 3n, 3n) array, modes in columns, rows atom-major (x, y, z per atom).
    Returns (n_q, 3n); summed over the modes of one q point it gives 3 x (number of masked atoms).
    """
    e2 = np.abs(eigenvectors) ** 2
    per_atom = e2.reshape(e2.shape[0], -1, 3, e2.shape[2]).sum(axis=2)  # (n_q, n_atoms, n_modes)
    return per_atom[:, np.asarray(mask, bool), :].sum(axis=1)


def _weighted_mean_frequency(freqs: np.ndarray, q_weights: np.ndarray, mode_weights: np.ndarray) -> float | None:
    """Mean of the real (positive) frequencies, THz, weighted by q-point multiplicity x mode weight."""
    w = q_weights[:, None] * mode_weights * (freqs > 0)
    return float((w * freqs).sum() / w.sum()) if w.sum() > 1e-9 else None


def _forces(symbols, cell, cartesian, calculator) -> np.ndarray:
    from ase import Atoms

    atoms = Atoms(symbols, cell=cell, positions=cartesian, pbc=True)
    atoms.calc = calculator
    f = atoms.get_forces()
    return f - f.mean(axis=0)  # remove drift


def model_force_constants(structure: Structure, calculator, supercell: list[int], displacement: float = 0.01,
                          primitive_matrix="P", symprec: float = 1e-5, two_amplitudes: bool = False):
    """A Phonopy object with the force constants of ``calculator`` (finite displacements in the diagonal
    ``supercell``; the drift of each force set removed; symmetrized). ``primitive_matrix`` "P" keeps ``structure``'s
    own cell and basis (phonopy 4 would otherwise reduce it and read q points in another basis).

    ``two_amplitudes``: each displacement u is also made at 2u and the force constants come from F(2u) - F(u). A
    term of the energy that grows as |u| (a cusp: CHGNet's angle features are not differentiable where two bonds
    are collinear, at every inversion centre) gives a force that does not change along the displacement, so it
    cancels; with one amplitude it enters the force constants divided by u."""
    from phonopy import Phonopy

    ph = Phonopy(get_phonopy_structure(structure), supercell_matrix=np.diag(supercell),
                 primitive_matrix=primitive_matrix, symprec=symprec)
    ph.generate_displacements(distance=displacement)
    sc = ph.supercell
    forces = []
    for d in ph.dataset["first_atoms"]:
        pos = sc.positions.copy()
        pos[d["number"]] += d["displacement"]
        f = _forces(sc.symbols, sc.cell, pos, calculator)
        if two_amplitudes:
            pos[d["number"]] += d["displacement"]
            f = _forces(sc.symbols, sc.cell, pos, calculator) - f
        forces.append(f)
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    return ph


def _min_commensurate_frequency(ph) -> float:
    """Lowest frequency (THz) at the q points of the primitive cell that the supercell contains."""
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    smat = np.rint(np.linalg.inv(ph.primitive.primitive_matrix)).astype("int64")  # supercell in primitive vectors
    ph.run_qpoints(get_commensurate_points(smat))
    return float(np.asarray(ph.get_qpoints_dict()["frequencies"]).min())


def phonon_check(
    structure: Structure,
    model: str,
    min_length: float = 6.0,
    max_atoms: int = 64,
    displacement: float = 0.01,
    mesh: int = 8,
    imaginary_tol: float = 0.5,
    gamma_acoustic_tol: float = 1.0,
    calculator=None,
    symprec: float = 1e-3,
    two_amplitudes: bool = False,
) -> PhononResult:
    """Finite-displacement phonons with the MLIP; never raises for physics failures."""
    t0, c0 = time.time(), time.process_time()
    sc = supercell_matrix(structure, min_length, max_atoms)
    mesh_l = [mesh] * 3
    try:
        ph = model_force_constants(structure, calculator or get_calculator(model), sc, displacement,
                                   primitive_matrix="auto", symprec=symprec, two_amplitudes=two_amplitudes)
        ph.run_mesh(mesh_l, with_eigenvectors=True, is_gamma_center=True)
        m = ph.get_mesh_dict()
        freqs, qpts, qw = np.asarray(m["frequencies"]), np.asarray(m["qpoints"]), np.asarray(m["weights"], float)
        h_w = mode_species_weight(np.asarray(m["eigenvectors"]), [x == "H" for x in ph.primitive.symbols])
        ph.run_total_dos()
        dos = ph.get_total_dos_dict()
        fmin_comm = _min_commensurate_frequency(ph)
    except Exception as exc:
        return PhononResult("failed", None, None, None, sc, 0, mesh_l, reason=f"phonon calculation failed: {type(exc).__name__}: {exc}",
                            cpu_s=time.process_time() - c0, wall_s=time.time() - t0)
    fmin = float(freqs.min())
    iq, _ = np.unravel_index(np.argmin(freqs), freqs.shape)
    qmin = [float(x) for x in qpts[iq]]
    bad = freqs < -imaginary_tol
    if not bad.any():
        cls = "stable"
    else:
        near_gamma = np.linalg.norm(qpts, axis=1) <= 1.0 / mesh + 1e-8
        acoustic = np.zeros_like(bad)
        acoustic[:, :3] = True
        only_acoustic_gamma = not (bad & ~(near_gamma[:, None] & acoustic)).any()
        cls = "acoustic_noise" if only_acoustic_gamma and fmin > -gamma_acoustic_tol else "unstable"
    return PhononResult(
        cls, fmin, qmin, float(freqs.max()), sc, len(ph.supercells_with_displacements), mesh_l,
        reason=None if cls != "unstable" else f"imaginary mode {fmin:.2f} THz at q={np.round(qmin, 3).tolist()}",
        cpu_s=time.process_time() - c0, wall_s=time.time() - t0,
        h_mean_frequency_THz=_weighted_mean_frequency(freqs, qw, h_w), min_commensurate_frequency_THz=fmin_comm,
        frequencies_THz=freqs.tolist(), qpoints=qpts.tolist(), h_weights=h_w.round(4).tolist(),
        dos_frequencies_THz=np.asarray(dos["frequency_points"]).tolist(), dos=np.asarray(dos["total_dos"]).tolist(),
    )
