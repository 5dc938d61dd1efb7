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
    cands = random_candidates("H-La-Y", ["LaYH6"], 4, 150.0, seed=3, max_atoms=8)
    assert len(cands) == 4
    seps = min_separations(150.0, 0.8, 1.1, 1.8)
    for g in cands:
        s = g.structure
        assert s.composition.reduced_formula == "LaYH6"
        assert s.volume == pytest.approx(target_volume(s.composition, 150.0), rel=1e-6)
        d = s.distance_matrix + 100 * np.eye(len(s))
        is_h = np.array([sp.symbol == "H" for sp in s.species])
        assert d[np.ix_(is_h, is_h)].min() >= seps["HH"] - 1e-4
        assert d[np.ix_(~is_h, ~is_h)].min() >= seps["XX"] - 1e-4
        again = regenerate(g.origin, 150.0)
        assert again is not None and np.allclose(again.frac_coords, s.frac_coords) and np.allclose(again.lattice.matrix, s.lattice.matrix)
    # the pressure enters the seed as a number: 150 (an int from Python) and 150.0 (from YAML) give the same cells
    same = random_candidates("H-La-Y", ["LaYH6"], 4, 150, seed=3, max_atoms=8)
    assert [g.origin["seed"] for g in same] == [g.origin["seed"] for g in cands]


def test_random_search_bookkeeping_per_system():
    """Each system gets its own n distinct cells of its own elements only, with seeds of its own; every
    cell is rebuilt exactly from its stored origin."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    stoich = ["H3S", "CaH6", "YH6", "LaH10"]
    per = {sys: random_candidates(sys, stoich, 4, 200.0, seed=5, formula_units=[1, 2], max_atoms=14)
           for sys in ("H-S", "Ca-H", "H-Y")}
    seeds = {}
    for sys, cells in per.items():
        assert len(cells) == 4, sys
        assert all({str(e) for e in g.structure.composition.elements} == set(sys.split("-")) for g in cells)
        sm = StructureMatcher(scale=True, attempt_supercell=True)
        assert not any(sm.fit(a.structure, b.structure) for i, a in enumerate(cells) for b in cells[i + 1:]), sys
        for g in cells:
            assert g.origin["system"] == sys and regenerate(g.origin, 200.0) == g.structure
        seeds[sys] = {g.origin["seed"] for g in cells}
    assert not (seeds["H-S"] & seeds["Ca-H"]) and not (seeds["Ca-H"] & seeds["H-Y"])
    assert random_candidates("H-S", ["CaH6", "LaH10"], 4, 200.0) == []  # no stoichiometry of the system: nothing


@pytest.mark.parametrize("formula,group,symbol", [("LaH10", 225, "Fm-3m"), ("CaH6", 229, "Im-3m")])
def test_centred_cells_with_one_formula_unit_in_the_primitive_cell(formula, group, symbol):
    """Fm-3m LaH10 (Z = 4 conventional) and Im-3m CaH6 (Z = 2) drawn with Z = 1 primitive."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from hts.generate.random_cells import random_cell, space_group_weights

    comp = Composition(formula)
    counts = [int(comp[e]) for e in comp.elements]
    assert space_group_weights(counts, [group, 221])[0] > 0  # a centred group holds Z = 1 primitive
    seps = {k: round(v, 4) for k, v in min_separations(200.0, 0.8, 1.1, 1.8).items()}
    s = next(c for c in (random_cell(comp, 1, group, seed, 200.0, seps) for seed in range(20)) if c is not None)
    assert len(s) == comp.num_atoms and s.composition.reduced_formula == formula
    assert SpacegroupAnalyzer(s, symprec=0.1).get_space_group_symbol() == symbol


def test_h2_units_and_space_group_weights():
    from hts.generate.random_cells import space_group_weights

    cells = random_candidates("H-S", ["H3S"], 3, 200.0, seed=2, formula_units=[2], h2_units=True, max_atoms=8)
    assert cells and all(g.origin["h2_units"] for g in cells)
    for g in cells:  # every H has a partner at the H2 bond length
        s = g.structure
        h = [i for i, sp in enumerate(s.species) if sp.symbol == "H"]
        d = s.distance_matrix[np.ix_(h, h)] + 100 * np.eye(len(h))
        assert np.allclose(d.min(axis=1), 0.74, atol=0.05)
    w = space_group_weights([1, 6], [229, 225, 2])  # CaH6, Z = 1 primitive: all three hold it, P-1 in the most ways
    assert w.sum() == pytest.approx(1.0) and w[2] >= w[0] > 0


def test_weight_cap_gives_the_cubic_groups_their_share():
    """Fm-3m holds La1H10 in 2 Wyckoff combinations (La 4a or 4b, H 32f + 8c), P-1 in 512: capped at 32 the
    known LaH10 structure was 0.8 % of the draws over the default groups, capped at 4 (the default) 4.8 %."""
    from pyxtal.symmetry import Group

    from hts.generate.random_cells import DEFAULT_SPACE_GROUPS, space_group_weights

    combos = Group(225).list_wyckoff_combinations([4, 40])[0]
    assert sorted((tuple(a), tuple(b)) for a, b in combos) == [(("4a",), ("32f", "8c")), (("4b",), ("32f", "8c"))]
    groups = list(DEFAULT_SPACE_GROUPS)
    share = {cap: space_group_weights([1, 10], groups, cap)[groups.index(225)] for cap in (32, 4)}
    assert share[32] == pytest.approx(2 / 262, rel=1e-6) and share[4] == pytest.approx(2 / 42, rel=1e-6)
    # the origin (and so a candidate's id) holds the drawn group, not the cap: cells drawn in the same group with the
    # same seed are the same candidates whatever the cap, and campaigns made before the cap was a setting resume
    first = random_candidates("H-La", ["LaH10"], 8, 200.0, seed=1, max_atoms=11, weight_cap=32)
    again = random_candidates("H-La", ["LaH10"], 8, 200.0, seed=1, max_atoms=11, weight_cap=32)
    assert [g.origin for g in first] == [g.origin for g in again] and "group_weight_cap" not in first[0].origin


def test_volume_estimate_matches_known_hydrides():
    # H3S Im-3m at 150 GPa: a = 3.09 A, 2 f.u. per cell; LaH10 Fm-3m at 200 GPa: a = 5.10 A, 4 f.u.
    assert target_volume(Composition("H3S"), 150) == pytest.approx(3.09**3 / 2, rel=0.1)
    assert target_volume(Composition("LaH10"), 200) == pytest.approx(5.10**3 / 4, rel=0.1)
