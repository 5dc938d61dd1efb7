"""Stage ``select`` (``learning.enabled``): one surrogate round (:func:`hts.learn.loop.plan_round`) on
every candidate in the store marks the campaign's next DFPT targets (``selection``) and stores a
``prediction`` on every ranked candidate. With too few labels the round is skipped and DFPT takes
candidates in hull order."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from hts.stages.base import StageContext, Verdicts

__all__ = ["decide", "query"]

log = logging.getLogger("hts")


def query(ctx: StageContext) -> dict:
    return {"role": "candidate"}  # the training data: every campaign, every status


def decide(ctx: StageContext, docs: list[dict]) -> Iterator[Verdicts]:
    from hts.learn.loop import plan_round

    try:
        res, updates, record = plan_round(docs, ctx.data, ctx.cfg.name, ctx.cfg.learning)
    except ValueError as exc:
        log.warning("learning round skipped: %s", exc)
        return
    log.info("learning round %d selected %d of %d", res.round, len(res.selected), res.ranked)
    yield Verdicts(updates, [record])
