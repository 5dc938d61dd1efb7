"""Stage ``dedup``: a relaxed structure that matches an earlier one (same pressure and engine, any
campaign) becomes a duplicate of it; structures already past dedup are the originals, fresh ones are
checked in id order."""

from __future__ import annotations

from collections.abc import Iterator

from pymatgen.core import Structure

from hts.stability.dedup import Deduplicator
from hts.stages.base import StageContext, Verdicts
from hts.store.documents import PAST_RELAX, Status

__all__ = ["decide", "query"]


def query(ctx: StageContext) -> dict:
    return {"status": {"$in": list(PAST_RELAX)}, "engine.model": ctx.cfg.relax.model,
            "pressure_GPa": {"$in": list(ctx.cfg.pressures_GPa)}, "duplicate_of": None}


def _fresh(d: dict, campaign: str) -> bool:
    return d["status"] == Status.RELAXED.value and d["campaign"] == campaign and not d.get("dedup")


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    for p in ctx.cfg.pressures_GPa:
        known = sorted((d for d in docs if d["pressure_GPa"] == p), key=lambda d: d["id"])
        dd = Deduplicator()
        fresh = []
        for d in known:
            if _fresh(d, ctx.cfg.name):
                fresh.append(d)
            else:
                dd.add(d["id"], Structure.from_dict(d["structure"]))
        for d in fresh:
            s = Structure.from_dict(d["structure"])
            d["dedup"] = {"checked": True}
            match = dd.find(s)
            if match:
                d.update(status=Status.DUPLICATE.value, duplicate_of=match, stage="dedup",
                         reason=f"same structure as {match} after relaxation (StructureMatcher)")
            else:
                dd.add(d["id"], s)
        yield Verdicts(fresh)
