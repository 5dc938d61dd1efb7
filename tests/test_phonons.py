"""Phonon check mechanics with a fast classical potential (ASE EMT)."""

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


def test_strongly_compressed_bcc_cu_reported_unstable_or_classified():
    # bcc Cu is dynamically unstable (Bain path); the check must say so and where
    s = Structure(Lattice.cubic(2.87), ["Cu", "Cu"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    r = phonon_check(s, "emt", min_length=6.0, max_atoms=64, mesh=6, calculator=EMT())
    assert r.classification == "unstable"
    assert r.min_frequency_THz < -0.5 and r.min_q is not None
    assert "imaginary mode" in r.reason


def test_supercell_matrix_respects_atom_budget():
    s = Structure(Lattice.cubic(2.0), ["H"], [[0, 0, 0]])
    assert supercell_matrix(s, 6.0, 1000) == [3, 3, 3]
    assert supercell_matrix(s, 6.0, 8) == [2, 2, 2]
