"""The screening campaign as a jobflow Flow (for FireWorks/SLURM via flow_to_workflow).

generate --(Response.replace)--> [relax batch x N] -> dedup -> hull -> phonons [-> select]
    [-> dft_hull -> tc --(Response.replace)--> one DFPT job per tc_pending candidate]

Each job runs one stage of :class:`hts.campaign.Campaign` against the candidate store
named in the configuration; candidates are batched so that one queue job relaxes
``batch_size`` structures with the model loaded once.
"""

from __future__ import annotations

from jobflow import Flow, OnMissing, Response, job

from hts.campaign import Campaign
from hts.config import CampaignConfig
from hts.store.store import open_store

__all__ = ["campaign_flow"]


def _campaign(cfg_dict: dict) -> tuple[Campaign, object]:
    cfg = CampaignConfig.model_validate(cfg_dict)
    store = open_store(cfg.store.path, cfg.store.uri, cfg.store.database).connect()
    return Campaign(cfg, store), store


@job
def generate_job(cfg_dict: dict, batch_size: int = 20, only_new: bool = False):
    """Write 'generated' documents; replace itself by the relax batches and later stages.

    ``only_new``: relax only the ids this job created (an addition to a running campaign), not
    'generated' documents that another workflow of the campaign is about to relax."""
    camp, store = _campaign(cfg_dict)
    try:
        new = camp.stage_generate()
        if only_new:
            todo = [d["id"] for d in new]
        else:
            todo = [d["id"] for d in store.find({"campaign": camp.cfg.name, "status": "generated"}, properties=["id"])]
    finally:
        store.close()
    batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
    relax = [_stage(relax_job(cfg_dict, b), "relax", b) for b in batches]
    for j, b in zip(relax, batches):
        j.name = f"relax {len(b)} structures"
    dedup = _stage(stage_job(cfg_dict, "dedup", [j.output for j in relax]), "dedup")
    dedup.config.on_missing_references = OnMissing.NONE  # runs after a batch that failed for good (FIZZLED parents)
    hull = _stage(stage_job(cfg_dict, "hull", dedup.output), "hull")
    phon = _stage(stage_job(cfg_dict, "phonons", hull.output), "phonons")
    jobs = [*relax, dedup, hull, phon]
    if camp.cfg.learning.enabled:
        jobs.append(_stage(stage_job(cfg_dict, "select", phon.output), "select"))
    if camp.cfg.tc.enabled:
        jobs.append(_stage(stage_job(cfg_dict, "dft_hull", jobs[-1].output), "dft_hull"))
        jobs.append(_stage(tc_job(cfg_dict, jobs[-1].output), "tc"))
    return Response(output=todo, replace=_tagged(Flow(jobs, output=jobs[-1].output, name="screening"), camp.cfg.name))


@job
def relax_job(cfg_dict: dict, ids: list[str]):
    camp, store = _campaign(cfg_dict)
    try:
        camp.stage_relax(ids)
        return {d["id"]: d["status"] for d in store.find({"id": {"$in": ids}}, properties=["id", "status"])}
    finally:
        store.close()


@job
def stage_job(cfg_dict: dict, stage: str, _after=None):
    """dedup | hull | phonons | select | dft_hull; ``_after`` only orders the job after its inputs."""
    camp, store = _campaign(cfg_dict)
    try:
        getattr(camp, f"stage_{stage}")()
        return store.status_counts(camp.cfg.name)
    finally:
        store.close()


@job
def tc_job(cfg_dict: dict, _after=None):
    """Replace itself by one DFPT job per candidate that is tc_pending now (in stage_tc order)."""
    camp, store = _campaign(cfg_dict)
    try:
        ids = [d["id"] for d in camp.tc_queue()]
    finally:
        store.close()
    if not ids:
        return Response(output={})
    top = camp.cfg.tc.second_mesh_top
    jobs = [_stage(dfpt_job(cfg_dict, i, second_mesh=n < top), "tc", [i]) for n, i in enumerate(ids)]
    for j, i in zip(jobs, ids):
        j.name = f"dfpt {i}"
        j.update_metadata({"candidate": i})
    return Response(replace=_tagged(Flow(jobs, name="dfpt"), camp.cfg.name))


@job
def dfpt_job(cfg_dict: dict, candidate_id: str, second_mesh: bool = False):
    """alpha2F, lambda and Tc of one candidate (hts.tc.dfpt); returns its final status."""
    camp, store = _campaign(cfg_dict)
    try:
        camp.stage_tc([candidate_id], second_mesh_ids=[candidate_id] if second_mesh else [])
        d = store.find({"id": candidate_id}, properties=["status"])
        return d[0]["status"] if d else None
    finally:
        store.close()


def campaign_flow(cfg: CampaignConfig, batch_size: int = 20, only_new: bool = False) -> Flow:
    """The whole campaign as one Flow; every job is tagged with the campaign name."""
    gen = _stage(generate_job(cfg.model_dump(mode="json"), batch_size, only_new), "generate")
    gen.name = f"generate {cfg.name}"
    return _tagged(Flow([gen], output=gen.output, name=f"hts campaign {cfg.name}"), cfg.name)


def _stage(j, stage: str, candidates: list[str] | None = None):
    """Stage name and (for per-candidate jobs) candidate ids into the job's Firework spec:
    ``hts_stage``, ``hts_candidates`` (queryable on the LaunchPad; `hts resume` uses them). Jobs that
    replace themselves tag their replacements (``_tagged``), so jobflow must not copy theirs over."""
    j.config.pass_manager_config = False
    j.config.manager_config = {**j.config.manager_config, "hts_stage": stage,
                               **({"hts_candidates": list(candidates)} if candidates is not None else {})}
    return j


def _tagged(flow: Flow, campaign: str) -> Flow:
    """Campaign name in every job's metadata and, through jobflow's manager_config, in every Firework
    spec (``hts_campaign``), including the Fireworks that jobs create at run time."""
    flow.update_metadata({"campaign": campaign})
    for j, _ in flow.iterflow():
        j.config.manager_config = {**j.config.manager_config, "hts_campaign": campaign}
    return flow
