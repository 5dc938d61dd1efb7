"""A screening campaign on a CandidateStore: for each stage of :data:`hts.stages.table.STAGES`, query
its documents, let the stage module decide, write the verdicts in bulk.

generate -> relax -> dedup -> hull -> phonons -> [select] -> [dft_hull -> tc]

Documents are keyed by deterministic candidate ids, so a run can be repeated or resumed: finished
documents are never recomputed, and a second run of the same configuration adds nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from hts.config import CampaignConfig
from hts.stages.base import ArrayReader, StageContext
from hts.stages.table import STAGES, stage
from hts.store.store import CandidateStore

__all__ = ["Campaign", "RunSummary"]


@dataclass
class RunSummary:
    """What one run wrote: statuses written per stage, the campaign's statuses at the end, wall time."""

    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def line(self) -> str:
        parts = [f"{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())) for name, c in self.stages.items() if c]
        return "; ".join(parts) or "nothing to do"


class Campaign:
    """Runs one configuration against a store. ``progress`` is a callable(stage, n_total) -> tick(n)."""

    def __init__(self, cfg: CampaignConfig, store: CandidateStore, progress=None):
        self.cfg = cfg
        self.store = store
        self.progress = progress

    def context(self, ids: list[str] | None = None, **options) -> StageContext:
        return StageContext(self.cfg, ids, self.progress, options, ArrayReader(self.store))

    def read(self, name: str, ids: list[str] | None = None) -> list[dict]:
        """The documents stage ``name`` reads (one query, or the union of a few)."""
        mod = stage(name).load()
        crit = mod.query(self.context(ids))
        props = getattr(mod, "PROPERTIES", None)
        if isinstance(crit, dict):
            return self.store.find(crit, properties=props)
        docs = {}
        for c in crit:
            docs.update((d["id"], d) for d in self.store.find(c, properties=props))
        return list(docs.values())

    def run_stage(self, name: str, ids: list[str] | None = None, **options) -> Counter:
        """Run one stage if the config enables it; statuses written for this campaign's documents."""
        st = stage(name)
        written: Counter = Counter()
        if not st.enabled(self.cfg):
            return written
        mod = st.load()
        for v in mod.decide(self.context(ids, **options), self.read(name, ids)):
            self.store.upsert(v.docs)
            self.store.put_data_many(v.data)
            if v.labels and self.store.labels is not None:
                self.store.labels.update(v.labels)
            written.update(d["status"] for d in v.docs if d["campaign"] == self.cfg.name)
        return written

    def run(self) -> RunSummary:
        t0 = time.time()
        summary = RunSummary()
        for st in STAGES:
            summary.stages[st.name] = dict(self.run_stage(st.name))
        summary.statuses = self.store.status_counts(self.cfg.name)
        summary.wall_s = time.time() - t0
        return summary
