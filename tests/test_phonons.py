"""Phonon check mechanics with a fast classical potential (ASE EMT)."""

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from hts.stability.phonons import phonon_check, supercell_matrix


def test_fcc_cu_is_stable_with_physical_max_frequency():
    s = Structure.from_spacegroup(225, Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).get_primitive_structure()
    r = phonon_check(s, "emt", min_length=7.0, max_atoms=64, mesh=6, calculator=EMT())
    assert r.classification == "stable"
    assert r.min_frequency_THz > -0.5
    assert r.max_frequency_THz == pytest.approx(7.2, rel=0.15)  # Cu: ~7.2 THz (neutron data)
    # the supercell's own q points include Gamma, whose acoustic modes are zero: the lowest is 0, not imaginary
    assert abs(r.min_commensurate_frequency_THz) < 0.05


def test_strongly_compressed_bcc_cu_reported_unstable_or_classified():
    # bcc Cu is dynamically unstable (Bain path); the check must say so and where
    s = Structure(Lattice.cubic(2.87), ["Cu", "Cu"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    r = phonon_check(s, "emt", min_length=6.0, max_atoms=64, mesh=6, calculator=EMT())
    assert r.classification == "unstable"
    assert r.min_frequency_THz < -0.5 and r.min_q is not None
    assert "imaginary mode" in r.reason
    # a real instability (the Bain path's soft shear) shows at the supercell's own q points too, not only in between
    assert r.min_commensurate_frequency_THz < -0.5


def test_supercell_matrix_respects_atom_budget():
    s = Structure(Lattice.cubic(2.0), ["H"], [[0, 0, 0]])
    assert supercell_matrix(s, 6.0, 1000) == [3, 3, 3]
    assert supercell_matrix(s, 6.0, 8) == [2, 2, 2]


def test_h_share_of_modes_follows_the_mass_ratio_in_rocksalt_pdh():
    # Two atoms per cell: at Gamma the optical eigenvector puts m_Pd / (m_Pd + m_H) of its weight on H
    # (u_Pd / u_H = -m_H / m_Pd and e = sqrt(m) u), the acoustic ones m_H / (m_Pd + m_H).
    s = Structure.from_spacegroup(225, Lattice.cubic(4.09), ["Pd", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    r = phonon_check(s, "emt", min_length=7.0, max_atoms=64, mesh=6, calculator=EMT())
    hw, f = np.array(r.h_weights), np.array(r.frequencies_THz)
    assert hw.sum(axis=1) == pytest.approx(np.full(len(hw), 3.0), abs=1e-3)  # 3 x (one H atom) per q point
    m_pd, m_h = 106.42, 1.008
    gamma = int(np.argmin(np.linalg.norm(np.array(r.qpoints), axis=1)))
    order = np.argsort(f[gamma])
    assert hw[gamma][order[3:]] == pytest.approx([m_pd / (m_pd + m_h)] * 3, abs=2e-4)
    assert hw[gamma][order[:3]] == pytest.approx([m_h / (m_pd + m_h)] * 3, abs=2e-4)
    # the H-weighted mean sits near the optical branch, far above the Pd-dominated acoustic modes
    assert r.h_mean_frequency_THz > 0.9 * f[gamma].max()
    assert "h_weights" not in r.summary() and r.summary()["h_mean_frequency_THz"] == pytest.approx(r.h_mean_frequency_THz)


def test_no_h_mean_frequency_without_hydrogen():
    s = Structure.from_spacegroup(225, Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).get_primitive_structure()
    r = phonon_check(s, "emt", min_length=7.0, max_atoms=64, mesh=4, calculator=EMT())
    assert r.h_mean_frequency_THz is None


class _ConeEMT(EMT):
    """EMT plus a * |u| for every atom's distance u from its fcc lattice site: a cone (cusp) at the perfect crystal,
    the shape CHGNet's angle features give where two bonds are collinear."""

    def __init__(self, a_eV_A: float, lattice: np.ndarray):
        super().__init__()
        self.a, self.lattice = a_eV_A, lattice

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        super().calculate(atoms, properties, system_changes or [])
        frac = self.atoms.positions @ np.linalg.inv(self.lattice)
        u = (frac - np.rint(frac)) @ self.lattice
        norm = np.linalg.norm(u, axis=1)
        unit = np.divide(u, norm[:, None], out=np.zeros_like(u), where=norm[:, None] > 1e-12)
        self.results["energy"] += self.a * norm.sum()
        self.results["forces"] = self.results["forces"] - self.a * unit


@pytest.mark.parametrize("a_eV_A", [0.05, -0.05])
def test_two_amplitudes_cancel_a_cusp_that_one_amplitude_reads_as_curvature(a_eV_A):
    # a cone a*|u| has a force of constant size along a displacement: one amplitude u reads it as a force constant
    # a/u (0.05/0.01 = 5 eV/A^2, stiffer or imaginary), while F(2u) - F(u) cancels it and leaves fcc Cu's own modes
    s = Structure.from_spacegroup(225, Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).get_primitive_structure()
    kw = dict(min_length=7.0, max_atoms=64, mesh=4)
    ref = phonon_check(s, "emt", calculator=EMT(), **kw)
    cone = _ConeEMT(a_eV_A, s.lattice.matrix)
    one = phonon_check(s, "emt", calculator=cone, **kw)
    two = phonon_check(s, "emt", calculator=cone, two_amplitudes=True, **kw)
    assert np.array(two.frequencies_THz) == pytest.approx(np.array(ref.frequencies_THz), abs=0.05)
    assert two.classification == ref.classification == "stable"
    assert one.classification == ("stable" if a_eV_A > 0 else "unstable")
    assert np.abs(np.array(one.frequencies_THz) - np.array(ref.frequencies_THz)).max() > 1.0
