"""AIRSS-style random symmetric cells with pyxtal.

Formula units are counted in the primitive cell: pyxtal draws the conventional cell of the space
group with ``Z x`` its centring multiplicity (I, A/B/C: 2, R: 3, F: 4) and the cell is reduced to its
primitive one, so that body- and face-centred structures (Im-3m CaH6, Fm-3m LaH10) can be drawn with
one formula unit. Space groups are sampled in proportion to the number of Wyckoff-position
combinations that hold the composition, capped (default 4: every group that holds it in 4 ways or more is
equally likely), so that high-symmetry groups, where low-enthalpy hydrides are found, keep a fair share, as
AIRSS's symmetry choices do; a group that cannot hold the composition is never drawn.
Hydrogen can be placed as atoms or as H2 units. Atoms closer than the minimum separations are pushed
apart (a few cheap pair-repulsion sweeps; an H2 unit moves rigidly) before the cell is accepted.

Each cell is fully determined by its origin (composition, formula units, space group, seed, H2 units,
separations, volume factor), which is stored; :func:`regenerate` rebuilds it exactly. The seed of a cell
derives from (campaign seed, system, pressure, composition, formula units, index).
"""

from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Lattice, Structure

from hts.generate.candidate import GeneratedStructure
from hts.generate.volume import atomic_volume, target_volume

__all__ = ["CENTRING", "min_separations", "random_candidates", "random_cell", "regenerate", "space_group_weights"]

# Space groups tried when none are configured: common among high-pressure hydrides, centred ones included.
DEFAULT_SPACE_GROUPS = (229, 225, 227, 221, 223, 217, 139, 141, 123, 166, 194, 191, 187, 164, 71, 65, 63, 74, 12, 2)
CENTRING = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "R": 3, "F": 4}  # lattice points of pyxtal's conventional cell
H2_BOND_A = 0.74
MAX_COMBINATIONS = 4  # default weight cap: low-symmetry groups have thousands of combinations (32 until session 17
# starved Fm-3m La1H10 and Im-3m Ca1H6 to under 1 % of the draws; docs/random_search.md)


def min_separations(pressure_GPa: float, hh: float, hx: float, xx: float) -> dict[str, float]:
    """Minimum separations (Angstrom) scaled from 100 GPa to P by (v_H(P)/v_H(100))^(1/3)."""
    scale = (atomic_volume("H", pressure_GPa) / atomic_volume("H", 100.0)) ** (1.0 / 3.0)
    return {"HH": hh * scale, "HX": hx * scale, "XX": xx * scale}


def cell_seed(*parts) -> int:
    """A 31-bit seed from any parts (stable across processes and Python versions)."""
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def _pair_min(species: list[str], seps: dict[str, float]) -> np.ndarray:
    is_h = np.array([sp == "H" for sp in species])
    return np.where(is_h[:, None] & is_h[None, :], seps["HH"], np.where(is_h[:, None] ^ is_h[None, :], seps["HX"], seps["XX"]))


def push_apart(s: Structure, seps: dict[str, float], sweeps: int = 30) -> Structure:
    """Move atoms closer than their minimum separation apart along the shortest periodic vector, half
    the deficit each, for a few sweeps: a cheap pre-relaxation before the potential sees the cell. For
    H2 units the H-H bond inside a unit is left alone and the unit moves rigidly (the molecule is one unit)."""
    props = dict(s.properties or {})
    want = _pair_min([sp.symbol for sp in s.species], seps)
    bonded = {tuple(sorted(p)) for p in props.get("h2_pairs", [])}
    for _ in range(sweeps):
        frac = s.frac_coords
        diff = frac[None, :, :] - frac[:, None, :]
        diff -= np.round(diff)
        cart = diff @ s.lattice.matrix
        dist = np.linalg.norm(cart, axis=-1)
        np.fill_diagonal(dist, np.inf)
        deficit = np.clip(want - dist, 0.0, None)
        for i, j in bonded:
            deficit[i, j] = deficit[j, i] = 0.0
        if not (deficit > 1e-6).any():
            break
        unit = cart / np.where(dist > 1e-9, dist, 1.0)[..., None]
        shift = -0.5 * (deficit[..., None] * unit).sum(axis=1)  # away from every too-close neighbour
        for i, j in bonded:  # an H2 unit moves as one: its bond keeps its length and direction
            shift[i] = shift[j] = 0.5 * (shift[i] + shift[j])
        s = Structure(s.lattice, s.species, frac + s.lattice.get_fractional_coords(shift))
    s.properties = props
    return s


@lru_cache(maxsize=4096)
def _n_combinations(space_group: int, counts: tuple[int, ...]) -> int:
    from pyxtal.symmetry import Group

    g = Group(space_group)
    conv = [c * CENTRING[g.symbol[0]] for c in counts]
    try:
        combos = g.list_wyckoff_combinations(conv, Nmax=2000)[0]
    except Exception:  # pyxtal raises several types where nothing fits
        return 0
    return len(combos or [])


def space_group_weights(counts: list[int], groups: list[int], cap: int = MAX_COMBINATIONS) -> np.ndarray:
    """Probability of each group: its number of Wyckoff combinations holding ``counts`` atoms per species
    (primitive cell), capped at ``cap``; zero where none fits."""
    w = np.array([min(_n_combinations(g, tuple(counts)), cap) for g in groups], dtype=float)
    return w / w.sum() if w.sum() > 0 else w


def _species_counts(composition: Composition, formula_units: int, h2_units: bool) -> tuple[list[str], list[int]]:
    species = [str(e) for e in composition.elements]
    counts = [int(round(composition[e] * formula_units)) for e in species]
    if h2_units and "H" in species:
        i = species.index("H")
        if counts[i] % 2:
            raise ValueError(f"{composition.reduced_formula} x {formula_units}: odd H count cannot be H2 units")
        species[i], counts[i] = "He", counts[i] // 2  # a placeholder site per H2 unit
    return species, counts


def _h2_units(s: Structure, seed: int) -> Structure:
    """Each placeholder (He) site becomes an H2 molecule of bond H2_BOND_A in a random orientation."""
    rng = np.random.default_rng(seed)
    species, coords, pairs = [], [], []
    for site in s:
        if site.specie.symbol != "He":
            species.append(site.specie.symbol)
            coords.append(site.coords)
            continue
        u = rng.normal(size=3)
        u *= H2_BOND_A / 2 / np.linalg.norm(u)
        pairs.append((len(species), len(species) + 1))
        species += ["H", "H"]
        coords += [site.coords - u, site.coords + u]
    out = Structure(s.lattice, species, coords, coords_are_cartesian=True)
    out.properties = {"h2_pairs": pairs}
    return out


def random_cell(composition: Composition, formula_units: int, space_group: int, seed: int, pressure_GPa: float,
                seps: dict[str, float], volume_factor: float = 1.0, h2_units: bool = False) -> Structure | None:
    """One random cell with ``formula_units`` in its primitive cell, or None if pyxtal cannot place it or
    the separations cannot be met."""
    from pyxtal import pyxtal
    from pyxtal.symmetry import Group

    species, counts = _species_counts(composition, formula_units, h2_units)
    mult = CENTRING[Group(space_group).symbol[0]]
    xtal = pyxtal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            xtal.from_random(3, space_group, species, [c * mult for c in counts], random_state=seed, max_count=20)
        except Exception:  # pyxtal raises several types for incompatible Wyckoff sets
            return None
    if not xtal.valid:
        return None
    s = xtal.to_pymatgen().get_primitive_structure(tolerance=0.01)
    s = Structure(Lattice(s.lattice.matrix), s.species, s.frac_coords)
    real = Composition({("H" if k == "He" else k): (2 * v if k == "He" else v) for k, v in s.composition.as_dict().items()})
    s.scale_lattice(volume_factor * target_volume(real, pressure_GPa))
    if h2_units:
        s = _h2_units(s, seed)
    s = push_apart(s, seps)
    return None if _violates(s, seps) else s


def _violates(s: Structure, seps: dict[str, float]) -> bool:
    """Separations broken by any pair but the bonds of H2 units."""
    d = s.distance_matrix
    np.fill_diagonal(d, np.inf)
    for i, j in (s.properties or {}).get("h2_pairs", []):
        d[i, j] = d[j, i] = np.inf
    return bool((d < _pair_min([sp.symbol for sp in s.species], seps) - 1e-6).any())


def regenerate(origin: dict, pressure_GPa: float) -> Structure | None:
    """Rebuild a random cell from its stored origin."""
    return random_cell(Composition(origin["composition"]), origin["formula_units"], origin["space_group"], origin["seed"],
                       pressure_GPa, origin["min_separations_A"], origin.get("volume_factor", 1.0),
                       origin.get("h2_units", False))


def _distinct(s: Structure, sg: int, kept: list[GeneratedStructure]) -> bool:
    """No earlier cell of the same space group, size and formula matches (StructureMatcher)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    same = [k.structure for k in kept if k.origin["space_group"] == sg and len(k.structure) == len(s)
            and k.structure.composition.reduced_formula == s.composition.reduced_formula]
    sm = StructureMatcher(scale=True, attempt_supercell=True)
    return not any(sm.fit(k, s) for k in same)


def random_candidates(system: str, stoichiometries: list[str], n_structures: int, pressure_GPa: float, seed: int = 0,
                      formula_units: list[int] = (1,), space_groups: list[int] | None = None, max_atoms: int = 16,
                      min_sep: tuple[float, float, float] = (0.8, 1.1, 1.8), volume_factor: float = 1.0,
                      h2_units: bool = False, max_attempts_per_structure: int = 40,
                      weight_cap: int = MAX_COMBINATIONS) -> list[GeneratedStructure]:
    """``n_structures`` distinct random cells of ``system`` at one pressure, cycling over its stoichiometries
    (those whose elements are exactly the system's) and formula units (primitive cell)."""
    els = set(system.split("-"))
    seps = {k: round(v, 4) for k, v in min_separations(pressure_GPa, *min_sep).items()}  # as stored: regenerate matches
    groups = list(space_groups or DEFAULT_SPACE_GROUPS)
    combos = []
    for f in stoichiometries:
        comp = Composition(f)
        if {str(e) for e in comp.elements} != els:
            continue
        for z in formula_units:
            if comp.num_atoms * z > max_atoms or (h2_units and int(round(comp["H"] * z)) % 2):
                continue
            w = space_group_weights(_species_counts(comp, z, h2_units)[1], groups, weight_cap)
            if w.sum() > 0:
                combos.append((comp, z, w))
    out: list[GeneratedStructure] = []
    if not combos or n_structures == 0:
        return out
    index = {i: 0 for i in range(len(combos))}
    attempts = 0
    while len(out) < n_structures and attempts < n_structures * max_attempts_per_structure:
        k = attempts % len(combos)
        comp, z, w = combos[k]
        formula = comp.formula.replace(" ", "")
        s_seed = cell_seed(seed, system, float(pressure_GPa), formula, z, index[k])  # 150 and 150.0: the same cells
        index[k] += 1
        attempts += 1
        sg = int(np.random.default_rng(s_seed).choice(groups, p=w))
        s = random_cell(comp, z, sg, s_seed, pressure_GPa, seps, volume_factor, h2_units)
        if s is None or not _distinct(s, sg, out):
            continue
        origin = {"generator": "random", "system": system, "composition": formula, "formula_units": z, "draw": len(out),
                  "space_group": sg, "seed": s_seed, "index": index[k] - 1, "h2_units": h2_units,
                  "min_separations_A": seps, "volume_factor": volume_factor,
                  "target_volume_A3": round(s.volume, 4)}
        out.append(GeneratedStructure(s, origin))
    return out
