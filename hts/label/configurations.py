"""Configurations to label with DFT at pressure: element and hydrogen phases, hydride prototypes of the
chemical space, each squeezed to the volume expected at 50-300 GPa, strained and rattled.

With ``supercell_min_length_A`` each cell is replaced by the supercell the MLIP phonon check would use
(:func:`hts.stability.phonons.supercell_matrix`): a rattled primitive cell moves every periodic image of an atom
alike, so it only probes zone-centre force constants, while a rattled supercell probes the zone-boundary modes
where the phonon check finds the potential's spurious instabilities.

Every configuration is fully determined by its origin (source, phase or prototype, pressure, volume strain,
rattle seed, supercell), which is stored; its id is a hash of that origin, so a rerun finds what is already labelled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

__all__ = ["LabelConfig", "candidate_configurations", "label_configurations", "relabel_configurations"]

PROTOTYPE_RULES = ("identity", "z_neighbour", "same_group")  # substitutions that make label prototypes


@dataclass
class LabelConfig:
    structure: Structure
    origin: dict
    id: str = field(init=False)

    def __post_init__(self):
        key = json.dumps(self.origin, sort_keys=True, default=str)
        self.id = "lbl-" + hashlib.sha1(key.encode()).hexdigest()[:14]


def _variants(base: Structure, origin: dict, pressure: float, strains, rattle_A: float, n_rattle: int) -> list[LabelConfig]:
    """``base`` (already at its expected volume at ``pressure``) strained in volume and rattled."""
    out = []
    v0 = base.volume
    for eps in strains:
        for r in range(n_rattle):
            s = base.copy()
            s.scale_lattice(v0 * (1 + eps))
            seed = int(hashlib.sha1(f"{sorted(origin.items())}|{pressure}|{eps}|{r}".encode()).hexdigest()[:8], 16)
            if rattle_A > 0:
                disp = np.random.default_rng(seed).normal(0.0, rattle_A, (len(s), 3))
                s = Structure(s.lattice, s.species, s.cart_coords + disp, coords_are_cartesian=True)
            out.append(LabelConfig(s, {**origin, "pressure_GPa": float(pressure), "volume_strain": float(eps),
                                       "rattle_A": float(rattle_A), "rattle_seed": seed}))
    return out


def label_configurations(elements: list[str], pressures: list[float], strains=(-0.1, 0.0, 0.1), rattle_A: float = 0.05,
                         n_rattle: int = 1, max_atoms: int = 8, prototypes: bool = True,
                         volumes=None, sources=("element", "prototype"),
                         supercell_min_length_A: float | None = None) -> list[LabelConfig]:
    """Element phases (H's molecular and atomic phases included) and, with ``prototypes``, the binary hydride
    prototypes of every non-H element in ``elements``, at each pressure, per volume strain and rattle. Volumes
    at pressure are hts's a-priori estimates (the hull references' for elements, :mod:`hts.generate.volume` for
    hydrides), or with ``volumes`` (:class:`hts.label.volumes.CalibratedVolumes`) the volumes its earlier labels
    give (recorded as ``volume_recipe`` in the origin, so those are new configurations); the label's own DFT
    pressure is what counts. ``sources`` picks element phases, binary prototypes and ternary ones (two metals of
    ``elements`` on a prototype's metal sites, as the substitution generator decorates them). Every prototype of
    the library is used, the light-hydride ones a campaign does not draw by default included."""
    from hts.generate.prototypes import PROTOTYPES
    from hts.generate.substitution import substitution_candidates
    from hts.generate.volume import target_volume
    from hts.stability.references import element_references

    binaries, names = [], sorted(PROTOTYPES)
    if prototypes and "prototype" in sources:
        for el in sorted(set(elements) - {"H"}):
            _, found = substitution_candidates(f"{el}-H", names, PROTOTYPE_RULES, max_atoms)
            binaries += found
    if "ternary" in sources:
        metals = sorted(set(elements) - {"H"})
        for i, a in enumerate(metals):
            for b in metals[i + 1:]:
                found, _ = substitution_candidates(f"{a}-{b}-H", names, PROTOTYPE_RULES, max_atoms)
                binaries += found
    out, seen = [], set()
    for p in pressures:
        bases: list[tuple[Structure, dict]] = []
        recipe = {"volume_recipe": "labels-vinet"} if volumes is not None else {}
        # compounds take H's volume from the robust fit since session 17: other volumes, so other configurations
        compound_recipe = {"volume_recipe": "labels-vinet-robust-h"} if volumes is not None else {}
        for g in element_references(sorted(set(elements) | {"H"}), p) if "element" in sources else []:
            s = g.structure.get_primitive_structure()
            if volumes is not None:
                s.scale_lattice(volumes.volume(s.composition, p))
            bases.append((s, {"source": "element", "element": g.origin["element"], "phase": g.origin["phase"],
                              **recipe}))
        for b in binaries:
            s = b.structure.get_primitive_structure()
            s.scale_lattice(volumes.volume(s.composition, p) if volumes is not None else target_volume(s.composition, p))
            extra = {"source": "ternary", "decoration": b.origin.get("decoration", 0),
                     "cell_atoms": b.origin.get("cell_atoms")} if b.role != "reference" else {"source": "prototype"}
            bases.append((s, {**extra, "formula": s.composition.reduced_formula,
                              "prototype": b.origin.get("prototype"), "map": b.origin.get("map"), **compound_recipe}))
        for s, origin in bases:
            cell = _supercell(s, origin, supercell_min_length_A, max_atoms) if len(s) <= max_atoms else None
            if cell is None:
                continue
            for c in _variants(*cell, p, strains, rattle_A, n_rattle):
                if c.id not in seen:
                    seen.add(c.id)
                    out.append(c)
    return out


def _supercell(s: Structure, origin: dict, min_length: float | None, max_atoms: int) -> tuple[Structure, dict] | None:
    """The phonon check's supercell of ``s`` (lattice vectors >= ``min_length`` A, at most ``max_atoms``) and its
    origin; None when no such supercell is larger than ``s``. Without ``min_length``: ``s`` itself."""
    if min_length is None:
        return s, origin
    from hts.stability.phonons import supercell_matrix

    mult = supercell_matrix(s, min_length, max_atoms)  # shrunk to max_atoms, down to [1, 1, 1]
    if mult == [1, 1, 1]:
        return None
    return s * mult, {**origin, "supercell": mult}


def candidate_configurations(docs: list[dict], strains=(0.0,), rattle_A: float = 0.05, n_rattle: int = 1,
                             max_atoms: int = 16, supercell_min_length_A: float | None = None) -> list[LabelConfig]:
    """Configurations from a campaign's relaxed candidates (documents with ``structure``): each relaxed cell (or its
    phonon supercell) at its pressure, strained and rattled as element and prototype cells are. Cells over
    ``max_atoms`` are left out."""
    out = []
    for d in docs:
        if not d.get("structure"):
            continue
        s = Structure.from_dict(d["structure"])
        if len(s) > max_atoms:
            continue
        o = d.get("origin") or {}
        origin = {"source": "candidate", "campaign": d["campaign"], "candidate_id": d["id"], "formula": d["formula"],
                  "prototype": o.get("prototype") or o.get("generator"), "model": (d.get("engine") or {}).get("model")}
        cell = _supercell(s, origin, supercell_min_length_A, max_atoms)
        if cell is not None:
            out += _variants(*cell, d["pressure_GPa"], strains, rattle_A, n_rattle)
    return out


def relabel_configurations(rows: list[dict], elements=None, pressures=None, sources=None) -> list[LabelConfig]:
    """The configurations of exported label rows (their own cells and origins, so their own ids), to be labelled
    again at finer settings. ``elements``: only labels made of these elements alone or together; ``pressures``: only
    these target pressures (GPa); ``sources``: only these origins (element, prototype, ternary, candidate, ...)."""
    out = []
    for r in rows:
        if elements is not None and not set(r["elements"]) <= set(elements):
            continue
        if pressures is not None and not any(abs((r.get("target_pressure_GPa") or -1.0) - p) < 1e-6 for p in pressures):
            continue
        if sources is not None and r["origin"].get("source") not in sources:
            continue
        c = LabelConfig(Structure(r["lattice_A"], r["species"], r["positions_A"], coords_are_cartesian=True), r["origin"])
        if c.id != r["id"]:
            raise ValueError(f"label {r['id']}: its origin hashes to {c.id}; not a label hts made")
        out.append(c)
    return out
