"""Stage ``generate``: every structure of the campaign (substitution, references, random cells) as a
'generated' document; ids already in the store are left as they are."""

from __future__ import annotations

from collections.abc import Iterator

from pymatgen.core import Structure

from hts.config import CampaignConfig
from hts.generate.candidate import GeneratedStructure, candidate_id
from hts.generate.random_cells import random_candidates
from hts.generate.substitution import substitution_candidates
from hts.stability.references import element_references
from hts.stages.base import StageContext, Verdicts
from hts.store.documents import Status

__all__ = ["PROPERTIES", "decide", "documents", "generate", "query"]

PROPERTIES = ["id"]


def _chemsys(s: Structure) -> str:
    return "-".join(sorted(str(e) for e in s.composition.elements))


def _default_stoichiometries(system: str, ternaries: list[GeneratedStructure]) -> list[str]:
    forms = sorted({g.structure.composition.reduced_formula for g in ternaries if g.structure.num_sites <= 16})
    if forms:
        return forms
    metals = [e for e in system.split("-") if e != "H"]
    return ["".join(metals) + "H6"]


def generate(cfg: CampaignConfig) -> list[tuple[float, str, GeneratedStructure]]:
    """Every structure of the campaign as (pressure, system, generated structure)."""
    out = []
    g = cfg.generators
    for system in cfg.systems:
        ternaries, binaries = ([], [])
        if g.substitution.enabled or cfg.references.sub_binaries:
            ternaries, binaries = substitution_candidates(
                system, g.substitution.prototypes, g.substitution.rules, g.substitution.max_atoms,
                g.substitution.ionic_radius_tolerance, g.substitution.probability_threshold,
            )
        if not g.substitution.enabled:
            ternaries = []
        if g.substitution.max_candidates:
            ternaries = ternaries[: g.substitution.max_candidates]
        for p in cfg.pressures_GPa:
            items = list(ternaries)
            if len(system.split("-")) == 2:  # a binary system: its prototype hydrides are the candidates
                items += [GeneratedStructure(b.structure, b.origin, role="candidate") for b in binaries] if g.substitution.enabled else []
            elif cfg.references.sub_binaries:
                items += binaries
            if cfg.references.elements:
                items += element_references(system.split("-"), p, cfg.references.element_phases)
            if g.random.enabled and g.random.n_structures:
                stoich = g.random.stoichiometries or _default_stoichiometries(system, ternaries)
                r = g.random
                items += random_candidates(system, stoich, r.n_structures, p, r.seed, r.formula_units, r.space_groups,
                                           r.max_atoms, (r.min_sep_HH, r.min_sep_HX, r.min_sep_XX), r.volume_factor,
                                           r.h2_units, weight_cap=r.group_weight_cap)
            out.extend((p, system, it) for it in items)
    return out


def documents(cfg: CampaignConfig) -> list[dict]:
    """The campaign's 'generated' documents, one per distinct id."""
    docs, seen = [], set()
    for p, system, g in generate(cfg):
        cid = candidate_id(cfg.name, p, {**g.origin, "formula": g.formula, "system": system})
        if cid in seen:
            continue
        seen.add(cid)
        docs.append({
            "id": cid, "campaign": cfg.name, "role": g.role, "chemsys": _chemsys(g.structure), "system": system,
            "formula": g.formula, "nelements": len(g.structure.composition.elements), "pressure_GPa": p,
            "origin": g.origin, "status": Status.GENERATED.value, "structure_initial": g.structure.as_dict(),
        })
    return docs


def query(ctx: StageContext) -> dict:
    return {"campaign": ctx.cfg.name}  # ids only (PROPERTIES): what is already there


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    existing = {d["id"] for d in docs}
    yield Verdicts([d for d in documents(ctx.cfg) if d["id"] not in existing])
