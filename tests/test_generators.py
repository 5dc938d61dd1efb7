import numpy as np
import pytest
from pymatgen.core import Composition

from hts.generate.random_cells import min_separations, random_candidates, regenerate
from hts.generate.substitution import substitution_candidates, substitution_rule
from hts.generate.volume import target_volume


@pytest.mark.parametrize("a,b,rule", [("La", "La", "identity"), ("S", "Cl", "z_neighbour"), ("La", "Y", "same_group"),
                                      ("Ca", "Y", "ionic_radius")])
def test_substitution_rules(a, b, rule):
    assert substitution_rule(a, b, ["identity", "z_neighbour", "same_group", "ionic_radius"]) == rule


def test_no_rule_for_unrelated_elements():
    assert substitution_rule("S", "La", ["identity", "z_neighbour", "same_group", "ionic_radius"]) is None


def test_substitution_makes_ordered_ternaries_and_binaries():
    ternaries, binaries = substitution_candidates("La-Y-H", max_atoms=14)
    forms = {g.formula for g in ternaries}
    assert "LaYH12" in forms  # CsCl-ordered sodalite from Im-3m CaH6/YH6
    assert all(set(map(str, g.structure.composition.elements)) == {"La", "Y", "H"} for g in ternaries)
    assert {"LaH6", "YH6", "LaH10", "YH10"} <= {g.formula for g in binaries}
    assert all(g.role == "reference" for g in binaries)
    assert all(len(g.structure) <= 14 for g in ternaries + binaries)


def test_random_cells_are_reproducible_and_respect_separations():
    cands = random_candidates(["LaYH6"], 4, 150.0, seed=3, max_atoms=8)
    assert len(cands) == 4
    seps = min_separations(150.0, 0.8, 1.1, 1.8)
    for g in cands:
        s = g.structure
        assert s.composition.reduced_formula == "LaYH6"
        assert s.volume == pytest.approx(target_volume(s.composition, 150.0), rel=1e-6)
        d = s.distance_matrix + 100 * np.eye(len(s))
        is_h = np.array([sp.symbol == "H" for sp in s.species])
        assert d[np.ix_(is_h, is_h)].min() >= seps["HH"] - 1e-6
        again = regenerate(g.origin, 150.0)
        assert again is not None and np.allclose(again.frac_coords, s.frac_coords) and np.allclose(again.lattice.matrix, s.lattice.matrix)
    # the pressure enters the seed as a number: 150 (an int from Python) and 150.0 (from YAML) give the same cells
    same = random_candidates(["LaYH6"], 4, 150, seed=3, max_atoms=8)
    assert [g.origin["seed"] for g in same] == [g.origin["seed"] for g in cands]


def test_volume_estimate_matches_known_hydrides():
    # H3S Im-3m at 150 GPa: a = 3.09 A, 2 f.u. per cell; LaH10 Fm-3m at 200 GPa: a = 5.10 A, 4 f.u.
    assert target_volume(Composition("H3S"), 150) == pytest.approx(3.09**3 / 2, rel=0.1)
    assert target_volume(Composition("LaH10"), 200) == pytest.approx(5.10**3 / 4, rel=0.1)
