import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from hts.generate.prototypes import PROTOTYPES, prototype_structure

EXPECTED = {  # name: (space group symbol, reduced formula)
    "H3S_Im-3m": ("Im-3m", "H3S"),
    "CaH6_Im-3m": ("Im-3m", "CaH6"),
    "YH6_Im-3m": ("Im-3m", "YH6"),
    "MgH6_Im-3m": ("Im-3m", "MgH6"),
    "LaH10_Fm-3m": ("Fm-3m", "LaH10"),
    "YH9_P6_3/mmc": ("P6_3/mmc", "YH9"),
    "LaBeH8_Fm-3m": ("Fm-3m", "LaBeH8"),
    "YH2_Fm-3m_fluorite": ("Fm-3m", "YH2"),
    "La4H23_Pm-3n_A15": ("Pm-3n", "La4H23"),
}


def test_library_covers_required_prototypes():
    assert set(EXPECTED) <= set(PROTOTYPES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prototype_symmetry_and_composition(name):
    s = prototype_structure(name)
    sg, formula = EXPECTED[name]
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_symbol() == sg
    assert s.composition.reduced_formula == formula
    assert PROTOTYPES[name].doi and PROTOTYPES[name].reference
    # no overlapping atoms in the representative cell
    d = s.distance_matrix + 10 * __import__("numpy").eye(len(s))
    assert d.min() > 0.9


def test_unknown_prototype_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown prototype"):
        prototype_structure("NoSuch")
