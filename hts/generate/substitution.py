"""Substitutional hydrides from prototypes.

A prototype metal A may be replaced by B when a rule allows it:

- ``identity``: A == B
- ``z_neighbour``: |Z_A - Z_B| = 1 (Ishikawa et al., Phys. Rev. Materials 3, 104001 (2019))
- ``same_group``: same column of the periodic table
- ``ionic_radius``: Shannon radii of the common oxidation states within a tolerance
- ``probability``: pymatgen's ion-pair substitution correlation (Hautier et al., Inorg.
  Chem. 50, 656 (2011)) above a threshold

Ordered ternaries come from decorating the symmetry-distinct metal sites of the primitive
cell, the conventional cell and small supercells with two metals, every decoration up to
StructureMatcher equivalence.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Element, Species, Structure

from hts.generate.candidate import GeneratedStructure
from hts.generate.prototypes import DEFAULT_PROTOTYPES, PROTOTYPES, prototype_structure

__all__ = ["substitution_rule", "substitution_candidates"]


def _common_ion(symbol: str) -> Species | None:
    el = Element(symbol)
    states = el.common_oxidation_states
    return Species(symbol, states[0]) if states else None


@lru_cache(maxsize=1)
def _sub_prob():
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


def substitution_rule(
    a: str, b: str, rules: list[str], radius_tol: float = 0.15, prob_threshold: float = 1.0
) -> str | None:
    """Name of the first rule (in ``rules`` order) that allows A -> B, else None."""
    ea, eb = Element(a), Element(b)
    for rule in rules:
        if rule == "identity" and a == b:
            return rule
        if rule == "z_neighbour" and abs(ea.Z - eb.Z) == 1:
            return rule
        if rule == "same_group" and a != b and ea.group == eb.group:
            return rule
        if rule == "ionic_radius" and a != b:
            ia, ib = _common_ion(a), _common_ion(b)
            if ia and ib and ia.oxi_state * ib.oxi_state > 0:
                ra, rb = ia.ionic_radius, ib.ionic_radius
                if ra and rb and abs(ra - rb) / ra <= radius_tol:
                    return rule
        if rule == "probability" and a != b:
            ia, ib = _common_ion(a), _common_ion(b)
            if ia and ib:
                try:
                    if _sub_prob().pair_corr(ia, ib) >= prob_threshold:
                        return rule
                except KeyError:  # ion not in the substitution table
                    pass
    return None


def _host_cells(proto: Structure, max_atoms: int) -> list[Structure]:
    prim = proto.get_primitive_structure()
    cells = [prim, proto]
    for scale in ((2, 1, 1), (1, 1, 2)):
        cells.append(prim * scale)
    out = []
    for c in cells:
        if len(c) <= max_atoms and all(len(c) != len(o) or c.lattice != o.lattice for o in out):
            out.append(c)
    return out


def _decorate(host: Structure, site_species: str, metals: tuple[str, str]) -> list[Structure]:
    """Every two-metal decoration of the ``site_species`` sites with both metals present."""
    idx = [i for i, s in enumerate(host) if s.specie.symbol == site_species]
    out = []
    for mask in itertools.product((0, 1), repeat=len(idx)):
        if 0 < sum(mask) < len(idx):
            s = host.copy()
            for i, m in zip(idx, mask):
                s.replace(i, metals[m])
            out.append(s)
    return out


def substitution_candidates(
    system: str,
    prototypes: list[str] | None = None,
    rules: list[str] | tuple[str, ...] = ("identity", "z_neighbour", "same_group", "ionic_radius", "probability"),
    max_atoms: int = 24,
    radius_tol: float = 0.15,
    prob_threshold: float = 1.0,
) -> tuple[list[GeneratedStructure], list[GeneratedStructure]]:
    """(ternary-or-higher candidates, binary hydrides) for a system such as "La-Y-H", from ``prototypes``
    (default: the library's ``DEFAULT_PROTOTYPES``).

    Binary hydrides (every allowed full substitution of a one-metal prototype) are
    returned separately: they are the sub-binary hull references.
    """
    metals = [e for e in system.split("-") if e != "H"]
    names = prototypes or list(DEFAULT_PROTOTYPES)
    matcher = StructureMatcher()
    ternaries: list[GeneratedStructure] = []
    binaries: list[GeneratedStructure] = []

    def _add(bucket, gen):
        for other in bucket:
            if other.structure.composition.reduced_composition == gen.structure.composition.reduced_composition and matcher.fit(other.structure, gen.structure):
                return
        bucket.append(gen)

    for name in names:
        proto = PROTOTYPES[name]
        conv = prototype_structure(name)
        roles = proto.metal_sites
        allowed = {a: {b: substitution_rule(a, b, list(rules), radius_tol, prob_threshold) for b in metals} for a in roles}
        if len(roles) == 1:
            (a,) = roles
            ok = [b for b in metals if allowed[a][b]]
            prim = conv.get_primitive_structure()
            for b in ok if len(prim) <= max_atoms else []:
                s = prim.copy()
                s.replace_species({a: b})
                _add(binaries, GeneratedStructure(s, {"generator": "substitution", "prototype": name, "rule": {a: allowed[a][b]}, "map": {a: b}}, role="reference"))
            for b1, b2 in itertools.combinations(ok, 2):
                for host in _host_cells(conv, max_atoms):
                    for k, s in enumerate(_decorate(host, a, (b1, b2))):
                        origin = {"generator": "substitution", "prototype": name, "rule": {b1: allowed[a][b1], b2: allowed[a][b2]},
                                  "map": {a: [b1, b2]}, "cell_atoms": len(host), "decoration": k}
                        _add(ternaries, GeneratedStructure(s, origin))
        else:
            # multi-metal prototype (e.g. LaBeH8): map each metal role to a distinct metal
            for perm in itertools.permutations(metals, len(roles)):
                if all(allowed[a][b] for a, b in zip(roles, perm)):
                    s = prototype_structure(name).get_primitive_structure()
                    s.replace_species(dict(zip(roles, perm)))
                    origin = {"generator": "substitution", "prototype": name,
                              "rule": {b: allowed[a][b] for a, b in zip(roles, perm)}, "map": dict(zip(roles, perm))}
                    if len(s) <= max_atoms:
                        _add(ternaries, GeneratedStructure(s, origin))
    return ternaries, binaries
