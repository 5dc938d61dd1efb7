"""AIRSS-style random symmetric cells with pyxtal.

Each structure is fully determined by (composition, formula units, space group, seed):
the seed is stored in the origin so that :func:`regenerate` rebuilds it exactly.
The cell is scaled to the volume expected at pressure (:mod:`hts.generate.volume`) and
rejected unless every pair is farther apart than its minimum separation (H-H, H-X, X-X).
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
from pymatgen.core import Composition, Structure

from hts.generate.candidate import GeneratedStructure
from hts.generate.volume import atomic_volume, target_volume

__all__ = ["random_cell", "random_candidates", "regenerate", "min_separations"]

# Space groups tried when none are configured: common among high-pressure hydrides.
DEFAULT_SPACE_GROUPS = (229, 225, 221, 223, 227, 194, 191, 187, 166, 164, 139, 123, 71, 65, 63, 12, 2)


def min_separations(pressure_GPa: float, hh: float, hx: float, xx: float) -> dict[str, float]:
    """Minimum separations (Angstrom) scaled from 100 GPa to P by (v_H(P)/v_H(100))^(1/3)."""
    scale = (atomic_volume("H", pressure_GPa) / atomic_volume("H", 100.0)) ** (1.0 / 3.0)
    return {"HH": hh * scale, "HX": hx * scale, "XX": xx * scale}


def _seed(*parts) -> int:
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _too_close(s: Structure, seps: dict[str, float]) -> bool:
    d = s.distance_matrix
    np.fill_diagonal(d, np.inf)
    is_h = np.array([sp.symbol == "H" for sp in s.species])
    pair_min = np.where(
        is_h[:, None] & is_h[None, :], seps["HH"], np.where(is_h[:, None] ^ is_h[None, :], seps["HX"], seps["XX"])
    )
    return bool((d < pair_min).any())


def random_cell(
    composition: Composition, formula_units: int, space_group: int, seed: int,
    pressure_GPa: float, seps: dict[str, float], volume_factor: float = 1.0,
) -> Structure | None:
    """One random cell, or None if pyxtal cannot place it or separations are violated."""
    from pyxtal import pyxtal

    species = [str(e) for e in composition.elements]
    num = [int(round(composition[e] * formula_units)) for e in species]
    xtal = pyxtal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            xtal.from_random(3, space_group, species, num, random_state=seed, max_count=20)
        except Exception:  # pyxtal raises several types for incompatible Wyckoff sets
            return None
    if not xtal.valid:
        return None
    s = xtal.to_pymatgen()
    s.scale_lattice(volume_factor * target_volume(s.composition, pressure_GPa))
    return None if _too_close(s, seps) else s


def regenerate(origin: dict, pressure_GPa: float) -> Structure | None:
    """Rebuild a random cell from its stored origin."""
    return random_cell(
        Composition(origin["composition"]), origin["formula_units"], origin["space_group"], origin["seed"],
        pressure_GPa, origin["min_separations_A"], origin.get("volume_factor", 1.0),
    )


def random_candidates(
    stoichiometries: list[str], n_structures: int, pressure_GPa: float, seed: int = 0,
    formula_units: list[int] = (1,), space_groups: list[int] | None = None, max_atoms: int = 16,
    min_sep: tuple[float, float, float] = (0.8, 1.1, 1.8), volume_factor: float = 1.0,
    max_attempts_per_structure: int = 40,
) -> list[GeneratedStructure]:
    """``n_structures`` random cells cycling over stoichiometries, formula units and space groups."""
    seps = min_separations(pressure_GPa, *min_sep)
    groups = list(space_groups or DEFAULT_SPACE_GROUPS)
    combos = [(Composition(f), z) for f in stoichiometries for z in formula_units
              if Composition(f).num_atoms * z <= max_atoms]
    if not combos or n_structures == 0:
        return []
    rng = np.random.default_rng(_seed(seed, float(pressure_GPa), *stoichiometries))  # 150 and 150.0: the same cells
    out: list[GeneratedStructure] = []
    attempts = 0
    while len(out) < n_structures and attempts < n_structures * max_attempts_per_structure:
        comp, z = combos[len(out) % len(combos)]
        sg = int(rng.choice(groups))
        s_seed = int(rng.integers(0, 2**31 - 1))
        attempts += 1
        s = random_cell(comp, z, sg, s_seed, pressure_GPa, seps, volume_factor)
        if s is None:
            continue
        origin = {"generator": "random", "composition": comp.formula.replace(" ", ""), "formula_units": z,
                  "space_group": sg, "seed": s_seed, "min_separations_A": {k: round(v, 4) for k, v in seps.items()},
                  "volume_factor": volume_factor, "target_volume_A3": round(s.volume, 4)}
        out.append(GeneratedStructure(s, origin))
    return out
