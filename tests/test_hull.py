import pytest

from hts.stability.hull import enthalpy_hull


def test_hand_computed_e_above_hull():
    """A-B binary, enthalpies per atom: A 0, B 0, AB -1.0, A3B -0.5 (eV).

    The hull between A and AB at x_B = 0.25 is -0.5 * 1.0 = -0.5 -> A3B is exactly on it;
    AB3 at -0.2 sits 0.3 eV/atom above the AB-B tie line (-0.5 there).
    """
    entries = {
        "A": ("Li", 0.0), "B": ("Mg", 0.0),
        "AB": ("LiMg", -2.0),          # 2 atoms x -1.0
        "A3B": ("Li3Mg", -2.0),        # 4 atoms x -0.5
        "AB3": ("LiMg3", -0.8),        # 4 atoms x -0.2
        "A2B2_off": ("Li2Mg2", -3.6),  # -0.9/atom: 100 meV above AB
    }
    _, res = enthalpy_hull(entries)
    assert res["AB"].e_above_hull_meV == pytest.approx(0.0, abs=1e-9)
    assert res["A3B"].e_above_hull_meV == pytest.approx(0.0, abs=1e-9)
    assert res["AB3"].e_above_hull_meV == pytest.approx(300.0, abs=1e-9)
    assert res["A2B2_off"].e_above_hull_meV == pytest.approx(100.0, abs=1e-9)
    assert res["AB3"].decomposition == pytest.approx({"LiMg": 0.5, "Mg": 0.5})


def test_hull_needs_every_element():
    with pytest.raises(ValueError):
        enthalpy_hull({"AB": ("LiMg", -2.0), "A": ("Li", 0.0)})
