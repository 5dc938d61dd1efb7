"""Stage ``relax``: 'generated' documents relaxed at their pressure by the prescreen potential;
relaxed (structure, energy, enthalpy, volume) or failed (the relaxer's typed reason). Each relaxation
is a verdict of its own, so the campaign commits it as it finishes.

Random cells get the random-search shortcuts: a cell that already matches a relaxed cell of the
campaign (same formula and pressure) is a duplicate before any relaxation, and a relaxation whose
enthalpy after ``abandon_after_steps`` is far above the best of its formula so far is abandoned
(failed, ``failure_type: abandoned``; the document stays, as every negative does)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from pymatgen.core import Structure

from hts.config import CampaignConfig
from hts.relax.relaxer import MLIPRelaxMaker
from hts.stages.base import StageContext, Verdicts, add_attempt, add_cpu
from hts.store.documents import PAST_RELAX, Status

__all__ = ["committee_block", "decide", "engine", "query", "relax_maker", "verdict"]


def relax_maker(cfg: CampaignConfig) -> MLIPRelaxMaker:
    r = cfg.relax
    return MLIPRelaxMaker(
        model=r.model, fmax=r.fmax_eV_A, max_steps=r.max_steps, optimizer=r.optimizer,
        keep_symmetry=r.keep_symmetry, symprec=r.symprec, max_volume_ratio=r.max_volume_ratio,
        min_distance_A=r.min_distance_A, workers=r.workers, device=r.device, torch_threads=r.torch_threads, max_wall_s=r.max_wall_s,
    )


def engine(cfg: CampaignConfig, maker: MLIPRelaxMaker | None = None) -> dict:
    return {"name": "mlip", "model": cfg.relax.model, "version": (maker or relax_maker(cfg)).engine_version}


def query(ctx: StageContext) -> list[dict]:
    """The generated documents to relax, and the campaign's relaxed ones (best enthalpies, known cells)."""
    return [ctx.restrict({"campaign": ctx.cfg.name, "status": Status.GENERATED.value}),
            {"campaign": ctx.cfg.name, "status": {"$in": list(PAST_RELAX)}, "engine.model": ctx.cfg.relax.model}]


def _random(d: dict) -> bool:
    return d["role"] == "candidate" and d["origin"].get("generator") == "random"


def _known_match(d: dict, known: list[dict]) -> str | None:
    """Id of a relaxed cell of the same formula and pressure that the unrelaxed cell already matches."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    same = [k for k in known if k["formula"] == d["formula"] and k["pressure_GPa"] == d["pressure_GPa"]]
    if not same:
        return None
    s = Structure.from_dict(d["structure_initial"])
    sm = StructureMatcher(scale=True, attempt_supercell=True)
    return next((k["id"] for k in same if sm.fit(s, Structure.from_dict(k["structure"]))), None)


def committee_block(cfg: CampaignConfig, structure: Structure, pressure_GPa: float) -> dict:
    """The committee's spread on a relaxed cell, as fields of the relax block (empty without a committee)."""
    from hts.potential.committee import disagreement

    r = cfg.relax
    if not r.committee:
        return {}
    d = disagreement(structure, pressure_GPa, [r.model, *r.committee])
    return {"committee_size": d.n_members, "committee_enthalpy_std_meV_per_atom": round(d.enthalpy_std_meV_per_atom, 3),
            "committee_force_std_eV_A": round(d.force_std_eV_A, 4),
            "uncertain": d.uncertain(r.uncertain_enthalpy_meV_per_atom, r.uncertain_force_eV_A)}


def verdict(d: dict, r, eng: dict, committee: dict | None = None) -> Verdicts:
    """The document after relaxation result ``r`` (:class:`hts.relax.relaxer.RelaxResult`) and, for a relaxed
    cell, the committee's spread on it (:func:`committee_block`)."""
    d["engine"] = eng
    add_cpu(d, "relax", r.cpu_s)
    d["relax"] = {"n_steps": r.n_steps, "converged": r.converged, "wall_s": r.wall_s, "failure_type": r.failure_type,
                  **(committee or {})}
    add_attempt(d, stage="relax", ok=r.ok, reason=r.reason)
    if r.ok:
        n = r.n_atoms
        d.update(status=Status.RELAXED.value, structure=r.structure.as_dict(), energy_eV_per_atom=r.energy_eV / n,
                 enthalpy_eV_per_atom=r.enthalpy_eV / n, volume_A3_per_atom=r.volume_A3 / n)
    else:
        d.update(status=Status.FAILED.value, stage="relax", reason=r.reason)
    return Verdicts([d], [(d["id"], "relax_trajectory", r.trajectory)])


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    """Pressure by pressure; hull references get the larger step budget (they set the hull)."""
    rnd = ctx.cfg.generators.random
    todo = [d for d in docs if d["status"] == Status.GENERATED.value]
    known = [d for d in docs if d["status"] != Status.GENERATED.value and d.get("structure")]
    best: dict[tuple[str, float], float] = {}
    for k in known:
        key = (k["formula"], k["pressure_GPa"])
        best[key] = min(best.get(key, float("inf")), k["enthalpy_eV_per_atom"])
    maker = relax_maker(ctx.cfg)
    if rnd.abandon_above_meV_per_atom is not None:
        maker = replace(maker, abandon_after_steps=rnd.abandon_after_steps)
    eng = engine(ctx.cfg, maker)
    tick = ctx.ticker("relax", len(todo))
    ref_steps = max(maker.max_steps, ctx.cfg.references.max_steps)
    for p in sorted({d["pressure_GPa"] for d in todo}):
        batch = []
        for d in (d for d in todo if d["pressure_GPa"] == p):
            match = _known_match(d, known) if _random(d) else None
            if match:  # the fingerprint of a relaxed cell: not relaxed again
                d.update(status=Status.DUPLICATE.value, duplicate_of=match, stage="relax",
                         reason=f"unrelaxed cell already matches relaxed {match} (StructureMatcher); not relaxed")
                tick(1)
                yield Verdicts([d])
            else:
                batch.append(d)
        steps = [ref_steps if d["role"] == "reference" else maker.max_steps for d in batch]

        def limit(i: int, batch=batch) -> float | None:
            d = batch[i]
            b = best.get((d["formula"], d["pressure_GPa"]))
            if not _random(d) or b is None or rnd.abandon_above_meV_per_atom is None:
                return None
            return b + rnd.abandon_above_meV_per_atom / 1000

        for i, r in maker.relax_iter([Structure.from_dict(d["structure_initial"]) for d in batch], p, steps, limit):
            tick(1)
            v = verdict(batch[i], r, eng, committee_block(ctx.cfg, r.structure, p) if r.ok else None)
            d = batch[i]
            if d["status"] == Status.RELAXED.value:
                key = (d["formula"], p)
                best[key] = min(best.get(key, float("inf")), d["enthalpy_eV_per_atom"])
                if _random(d):
                    known.append(d)
            yield v
