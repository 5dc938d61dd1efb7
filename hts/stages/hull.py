"""Stage ``hull``: e_above_hull of every relaxed structure against the enthalpy hull of its system at
its pressure (references relaxed the same way, from any campaign in the store); candidates above the
threshold become off_hull. A system lacking a relaxed element reference fails its candidates with
that reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from pymatgen.core import Composition, Structure

from hts.stability.hull import enthalpy_hull
from hts.stability.references import MPUnavailable, mp_references
from hts.stages.base import StageContext, Verdicts, add_cpu
from hts.store.documents import PAST_RELAX, Status

__all__ = ["decide", "query"]

log = logging.getLogger("hts")


def query(ctx: StageContext) -> dict:
    return {"status": {"$in": list(PAST_RELAX)}, "pressure_GPa": {"$in": list(ctx.cfg.pressures_GPa)},
            "engine.model": ctx.cfg.relax.model}


def _mark(d: dict, h, p: float, thr: float) -> None:
    d["e_above_hull_meV"] = round(h.e_above_hull_meV, 3)
    d["hull"] = {"e_above_hull_meV": d["e_above_hull_meV"], "decomposition": h.decomposition, "threshold_meV": thr}
    if d["role"] != "candidate":
        return
    if h.e_above_hull_meV > thr:
        if d["status"] in (Status.RELAXED.value, Status.TC_PENDING.value):
            parts = " + ".join(f"{f:.2f} {k}" for k, f in h.decomposition.items())
            d.update(status=Status.OFF_HULL.value, stage="hull",
                     reason=f"{h.e_above_hull_meV:.1f} meV/atom above the {p:g} GPa hull (threshold {thr:g}); decomposes to {parts}")
    elif d["status"] == Status.OFF_HULL.value and d.get("stage") == "hull":
        d.update(status=Status.RELAXED.value, stage=None, reason=None)  # a later MLIP hull can readmit it


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    cfg, thr = ctx.cfg, ctx.cfg.stability.hull_threshold_meV
    for system in cfg.systems:
        els = set(system.split("-"))
        if cfg.references.mp_api:
            try:
                mp_references(system)
            except MPUnavailable as exc:
                log.warning("%s", exc)
        for p in cfg.pressures_GPa:
            t0 = time.process_time()
            pool = [d for d in docs if d["pressure_GPa"] == p and set(d["chemsys"].split("-")) <= els]
            mine = [d for d in pool if d["campaign"] == cfg.name]
            missing = els - {str(e) for d in pool if d["nelements"] == 1 for e in Composition(d["formula"]).elements}
            if missing:
                reason = f"no relaxed reference for element(s) {sorted(missing)} at {p} GPa"
                lost = [d for d in mine if d["role"] == "candidate" and d["status"] == Status.RELAXED.value]
                for d in lost:
                    d.update(status=Status.FAILED.value, stage="hull", reason=reason)
                yield Verdicts(lost)
                continue
            entries = {}
            for d in pool:
                comp = Structure.from_dict(d["structure"]).composition
                entries[d["id"]] = (comp, d["enthalpy_eV_per_atom"] * comp.num_atoms)
            _, res = enthalpy_hull(entries)
            dt = (time.process_time() - t0) / max(len(mine), 1)
            for d in mine:
                _mark(d, res[d["id"]], p, thr)
                add_cpu(d, "hull", dt)
            yield Verdicts(mine)
