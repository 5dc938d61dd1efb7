"""Relaxation at pressure with the shipped MLIP weights (CHGNet, the default model), and failure handling."""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from hts.generate.prototypes import prototype_structure
from hts.relax import relaxer as relaxer_mod
from hts.relax.relaxer import MLIPRelaxMaker
from hts.units import GPA_TO_EV_PER_A3


@pytest.mark.parametrize("name,a_ref", [("H3S_Im-3m", 3.09), ("CaH6_Im-3m", 3.5)])
def test_hydride_lattice_at_150_GPa(name, a_ref):
    r = MLIPRelaxMaker(model="chgnet", fmax=0.02, max_steps=150).relax(prototype_structure(name).get_primitive_structure(), 150.0)
    assert r.ok and r.converged
    sga = SpacegroupAnalyzer(r.structure, symprec=0.01)
    assert sga.get_space_group_symbol() == "Im-3m"
    a = sga.get_conventional_standard_structure().lattice.a
    assert a == pytest.approx(a_ref, rel=0.05)
    # enthalpy bookkeeping: H = E + PV
    assert r.enthalpy_eV == pytest.approx(r.energy_eV + 150.0 * GPA_TO_EV_PER_A3 * r.volume_A3, rel=1e-12)


class _NaNCalc(Calculator):
    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {"energy": float("nan"), "forces": np.full((n, 3), np.nan), "stress": np.zeros(6)}


def test_diverging_relaxation_is_a_failure_record(monkeypatch):
    monkeypatch.setattr(relaxer_mod, "get_calculator", lambda model, device="cpu": _NaNCalc())
    s = Structure(Lattice.cubic(3.0), ["H", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    r = MLIPRelaxMaker(keep_symmetry=False).relax(s, 100.0)
    assert not r.ok and r.failure_type == "diverged"
    assert "non-finite" in r.reason
    assert r.structure is None


def test_overlapping_atoms_rejected_before_relaxation():
    s = Structure(Lattice.cubic(3.0), ["La", "H"], [[0, 0, 0], [0.05, 0, 0]])
    r = MLIPRelaxMaker(model="chgnet").relax(s, 100.0)
    assert not r.ok and r.failure_type == "invalid_structure"
    assert "0.15 A apart" in r.reason


def test_chgnet_inference_path_matches_stock_chgnet():
    """hts's one-backward-pass CHGNet gives the stock model's energy, forces and stress."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.relax.mlip import get_calculator

    s = prototype_structure("H3S_Im-3m").get_primitive_structure()
    s.apply_strain([0.02, -0.01, 0.03])
    s.perturb(0.05, min_distance=0.02)  # off the symmetric point: forces and shear stress are not zero
    results = []
    for calc in (get_calculator("chgnet"), CHGNetCalculator(CHGNet.load(verbose=False))):
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        results.append((atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()))
    (e_hts, f_hts, s_hts), (e_ref, f_ref, s_ref) = results
    assert np.abs(f_ref).max() > 0.05 and np.abs(s_ref).max() > 1e-3  # a non-trivial comparison
    assert e_hts == pytest.approx(e_ref, abs=1e-5)
    np.testing.assert_allclose(f_hts, f_ref, atol=1e-4)
    np.testing.assert_allclose(s_hts, s_ref, atol=1e-5)  # eV/A^3 (1e-5 eV/A^3 = 1.6 MPa)
