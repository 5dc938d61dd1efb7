"""Stage ``phonons``: harmonic phonons with the prescreen potential for candidates on or near the hull
(lowest e_above_hull first, up to ``phonons.max_candidates``); unstable ones become dyn_unstable when
the filter is on, the rest go on to Tc (tc_pending)."""

from __future__ import annotations

from collections.abc import Iterator

from pymatgen.core import Structure

from hts.relax.mlip import get_calculator
from hts.stability.phonons import phonon_check
from hts.stages.base import StageContext, Verdicts, add_cpu, add_warning
from hts.store.documents import Status

__all__ = ["decide", "query"]


def query(ctx: StageContext) -> dict:
    return {"campaign": ctx.cfg.name, "role": "candidate", "status": Status.RELAXED.value,
            "e_above_hull_meV": {"$lte": ctx.cfg.stability.hull_threshold_meV}}


def _verdict(d: dict, r, filter_on: bool) -> None:
    d["phonon"] = r.summary()
    add_cpu(d, "phonons", r.cpu_s)
    if r.classification == "failed":
        d.update(status=Status.FAILED.value, stage="phonons", reason=r.reason)
    elif r.classification == "unstable" and filter_on:
        d.update(status=Status.DYN_UNSTABLE.value, stage="phonons", reason=f"MLIP phonons: {r.reason}")
    else:
        if r.classification == "unstable":
            add_warning(d, f"MLIP phonons unstable ({r.reason}); filter off")
        d["status"] = Status.TC_PENDING.value


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    ph = ctx.cfg.phonons
    todo = sorted(docs, key=lambda d: (d["e_above_hull_meV"], d["id"]))
    if not ph.enabled:
        for d in todo:
            d["status"] = Status.TC_PENDING.value
        yield Verdicts(todo)
        return
    if ph.max_candidates is not None:
        skipped, todo = todo[ph.max_candidates:], todo[: ph.max_candidates]
        for d in skipped:  # on the hull but beyond the phonon budget: go on to Tc, flagged
            add_warning(d, f"phonon check skipped: beyond phonons.max_candidates = {ph.max_candidates} (lowest e_above_hull first)")
            d["status"] = Status.TC_PENDING.value
        yield Verdicts(skipped)
    tick = ctx.ticker("phonons", len(todo))
    calc = get_calculator(ctx.cfg.relax.model, ctx.cfg.relax.device) if todo else None
    for d in todo:
        r = phonon_check(Structure.from_dict(d["structure"]), ctx.cfg.relax.model, ph.supercell_min_length_A,
                         ph.max_supercell_atoms, ph.displacement_A, ph.mesh, ph.imaginary_tol_THz, ph.gamma_acoustic_tol_THz,
                         calculator=calc)
        _verdict(d, r, ph.filter)
        tick(1)
        yield Verdicts([d], [(d["id"], "phonon_mlip", r.arrays())])
