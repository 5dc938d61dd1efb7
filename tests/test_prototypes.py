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
    "LiH_Fm-3m_rocksalt": ("Fm-3m", "LiH"),
    "AlH3_Pm-3n": ("Pm-3n", "AlH3"),
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


def test_light_hydride_structure_types_have_their_literature_coordination():
    """Rocksalt LiH: Li octahedral, six H at a/2. Pm-3n AlH3 (Goncharenko 2008): Al twelve-fold, 12 H at
    a*sqrt(5)/4, the H on chains a/2 apart (A15 type)."""
    import numpy as np

    lih = prototype_structure("LiH_Fm-3m_rocksalt")
    a = lih.lattice.a
    li = lih.indices_from_symbol("Li")[0]
    assert sorted(round(n.nn_distance / a, 4) for n in lih.get_neighbors(lih[li], 0.6 * a)) == [0.5] * 6
    alh3 = prototype_structure("AlH3_Pm-3n")
    a = alh3.lattice.a
    for i in alh3.indices_from_symbol("Al"):
        nn = alh3.get_neighbors(alh3[i], 0.6 * a)
        assert {n.specie.symbol for n in nn} == {"H"} and len(nn) == 12
        assert np.allclose([n.nn_distance for n in nn], a * np.sqrt(5) / 4)
    h = alh3.indices_from_symbol("H")[0]
    assert min(n.nn_distance for n in alh3.get_neighbors(alh3[h], 0.6 * a) if n.specie.symbol == "H") == pytest.approx(a / 2)


def test_light_hydride_types_are_labelled_but_drawn_by_campaigns_only_when_named():
    from hts.generate.prototypes import DEFAULT_PROTOTYPES
    from hts.generate.substitution import substitution_candidates
    from hts.label.configurations import label_configurations

    assert "AlH3_Pm-3n" in PROTOTYPES and "AlH3_Pm-3n" not in DEFAULT_PROTOTYPES
    _, default = substitution_candidates("Al-H", max_atoms=8)
    assert "AlH3_Pm-3n" not in {g.origin["prototype"] for g in default}
    _, named = substitution_candidates("Al-H", prototypes=["AlH3_Pm-3n"], max_atoms=8)
    assert [g.formula for g in named] == ["AlH3"]
    labels = label_configurations(["Al", "Li"], [150.0], strains=(0.0,), sources=("prototype",), max_atoms=8)
    made = {(c.origin["prototype"], c.origin["formula"]) for c in labels}
    assert {("AlH3_Pm-3n", "AlH3"), ("LiH_Fm-3m_rocksalt", "LiH")} <= made
