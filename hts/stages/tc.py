"""Stage ``tc``: DFPT alpha2F, lambda, omega_log and Tc of tc_pending candidates, learning selections
first, then lowest e_above_hull, then small cells. Each candidate ends tc_done, dyn_unstable (DFPT
imaginary modes) or failed (the QE step and message); one candidate never stops the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from pymatgen.core import Structure

from hts.config import CampaignConfig
from hts.label.frames import stage_labels
from hts.stages.base import StageContext, Verdicts, add_attempt, add_cpu, add_warning
from hts.store.documents import Status

__all__ = ["decide", "elph_maker", "job_options", "query", "queue"]

log = logging.getLogger("hts")


def elph_maker(cfg: CampaignConfig):
    """The DFPT Maker configured by ``tc`` (protocol, pseudopotentials, QE launcher)."""
    from hts.tc.dfpt import ElphMaker

    return ElphMaker.from_settings(cfg.tc)


def query(ctx: StageContext) -> dict:
    return ctx.restrict({"campaign": ctx.cfg.name, "role": "candidate", "status": Status.TC_PENDING.value})


def queue(cfg: CampaignConfig, docs: list[dict]) -> list[dict]:
    """tc_pending candidates in DFPT order, within ``tc.max_atoms`` and ``tc.max_candidates``."""
    t = cfg.tc
    todo = [d for d in docs if not t.max_atoms or len(d["structure"]["sites"]) <= t.max_atoms]
    todo.sort(key=lambda d: (d.get("selection") is None, d.get("e_above_hull_meV") or 0.0, len(d["structure"]["sites"])))
    return todo if t.max_candidates is None else todo[: t.max_candidates]


def _verdict(d: dict, r, converged: bool) -> None:
    d["tc"] = r.tc
    for a in r.attempts:
        add_attempt(d, stage="dfpt", **a)
    add_cpu(d, "dfpt", sum(v["cpu_s"] for v in r.timings.values()))
    if r.structure is not None:
        d["structure_dft"] = r.structure.as_dict()
    if not r.ok:
        f = r.failure
        d.update(status=Status.FAILED.value, stage="dfpt", reason=f"{f['step']}: {f['kind']}: {f['message']}")
    elif not r.tc["dyn_stable"] and converged:
        d.update(status=Status.DYN_UNSTABLE.value, stage="dfpt",
                 reason=f"DFPT imaginary mode {r.tc['min_frequency_cm1']:.0f} cm^-1 on the q grid")
    else:  # an unconverged (smoke) run gives no stability verdict: tc_done, labelled, never a training label
        d.update(status=Status.TC_DONE.value, stage=None, reason=None)
        for w in r.tc.get("warnings", []):
            add_warning(d, w)


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    """``ctx.options['second_mesh_ids']``: candidates that also run the second q mesh (default: the first
    ``tc.second_mesh_top`` of this queue)."""
    t = ctx.cfg.tc
    todo = queue(ctx.cfg, docs)
    second = ctx.options.get("second_mesh_ids")
    second = [d["id"] for d in todo[: t.second_mesh_top]] if second is None else second
    maker = elph_maker(ctx.cfg)
    tick = ctx.ticker("dfpt", len(todo))
    for d in todo:
        maker.second_mesh = d["id"] in second
        wd = Path(t.workdir) / d["id"]
        if d.get("structure_dft"):  # relaxed by the DFT re-screen: phonons at that geometry
            mk = replace(maker, protocol=maker.protocol.with_overrides(relax=False))
            r = mk.run(Structure.from_dict(d["structure_dft"]), d["pressure_GPa"], wd)
            r.tc["dft_enthalpy_eV_per_atom"] = d["dft"]["enthalpy_eV_per_atom"]
        else:
            r = maker.run(Structure.from_dict(d["structure"]), d["pressure_GPa"], wd)
        _verdict(d, r, maker.protocol.converged)
        if r.ok and not t.keep_wavefunctions:
            maker.clean(wd)
        label = "" if maker.protocol.converged else " [unconverged: smoke protocol]"
        log.info("DFPT %s %s: %s%s", d["id"], d["formula"], d["status"], label)
        tick(1)
        yield Verdicts([d], [(d["id"], "a2f", r.arrays)] if r.arrays else [],
                       stage_labels(d, r.frames, "tc", r.tc, t.pseudo_family, t.protocol))


def job_options(cfg: CampaignConfig, rank: int, candidate_id: str) -> dict:
    """Options of the queue job of the ``rank``-th candidate: the top ones also run the second q mesh."""
    return {"second_mesh_ids": [candidate_id] if rank < cfg.tc.second_mesh_top else []}
