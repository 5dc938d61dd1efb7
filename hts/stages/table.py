"""The one stage table: order, input statuses, switches and funnel rows of a campaign.

``hts run`` runs the enabled stages in this order; :mod:`flows.campaign` builds its jobs from it
(per-candidate stages get one queue job per batch or candidate); ``hts report`` draws its funnel from
the ``funnel`` names; ``hts resume`` uses ``inputs`` to tell which candidates of a failed Firework
were still unfinished.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from hts.config import CampaignConfig
from hts.store.documents import Status

__all__ = ["STAGES", "Stage", "enabled_stages", "stage"]


def _always(cfg: CampaignConfig) -> bool:
    return True


def _learning(cfg: CampaignConfig) -> bool:
    return cfg.learning.enabled


def _dft_rescreen(cfg: CampaignConfig) -> bool:
    t = cfg.tc
    return t.enabled and (t.dft_rescreen if t.dft_rescreen is not None else t.protocol != "smoke")


def _tc(cfg: CampaignConfig) -> bool:
    return cfg.tc.enabled


@dataclass(frozen=True)
class Stage:
    name: str
    module: str  # decides the fates: query(ctx), decide(ctx, docs)
    inputs: tuple[str, ...]  # statuses of the campaign's candidates the stage still has to finish
    per_candidate: bool  # the Flow gives each batch (relax) or candidate (tc) its own job
    funnel: str | None  # row of the report's funnel for the candidates that pass it
    enabled: Callable[[CampaignConfig], bool] = _always

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


_R, _P = (Status.RELAXED.value,), (Status.TC_PENDING.value,)
STAGES: tuple[Stage, ...] = (
    Stage("generate", "hts.stages.generate", (), False, "generated"),
    Stage("relax", "hts.stages.relax", (Status.GENERATED.value,), True, "relaxed"),
    Stage("dedup", "hts.stages.dedup", _R, False, "unique"),
    Stage("hull", "hts.stages.hull", _R, False, "on/near hull"),
    Stage("phonons", "hts.stages.phonons", _R, False, "dynamically stable"),
    Stage("select", "hts.stages.select", _P, False, None, _learning),
    Stage("dft_hull", "hts.stages.dft_hull", _P, False, "on the DFT hull", _dft_rescreen),
    Stage("tc", "hts.stages.tc", _P, True, "Tc computed", _tc),
)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"unknown stage {name!r}; stages are {[s.name for s in STAGES]}")


def enabled_stages(cfg: CampaignConfig) -> list[Stage]:
    return [s for s in STAGES if s.enabled(cfg)]
