"""Stage ``dft_hull``: the DFT re-screen before DFPT (:mod:`hts.stability.dft_hull`) of the candidates
next in line for DFPT, with the hull phases they depend on re-relaxed by pw.x at the same pressure."""

from __future__ import annotations

from collections.abc import Iterator

from hts.stability.dft_hull import dft_rescreen
from hts.stages import tc
from hts.stages.base import StageContext, Verdicts
from hts.store.documents import Status

__all__ = ["decide", "query"]


def query(ctx: StageContext) -> list[dict]:
    refs = {"status": Status.RELAXED.value, "role": "reference", "pressure_GPa": {"$in": list(ctx.cfg.pressures_GPa)},
            "engine.model": ctx.cfg.relax.model}
    return [tc.query(ctx), refs]


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    mine = [d for d in docs if d["campaign"] == ctx.cfg.name and d["role"] == "candidate"
            and d["status"] == Status.TC_PENDING.value]
    cands = tc.queue(ctx.cfg, mine)
    if not cands:
        return
    refs = [d for d in docs if d["role"] == "reference"]
    for changed, labels in dft_rescreen(ctx.cfg, tc.elph_maker(ctx.cfg), cands, refs):
        yield Verdicts(changed, labels=labels)
