"""The screening campaign as a jobflow Flow (for FireWorks/SLURM via flow_to_workflow; re-exported by
``flows.campaign``), built from the stage table :data:`hts.stages.table.STAGES`:

generate --(Response.replace)--> [relax batch x N] -> dedup -> hull -> phonons [-> select]
    [-> dft_hull -> tc --(Response.replace)--> one DFPT job per tc_pending candidate]

A stage whose input is 'generated' documents gets one job per ``batch_size`` candidates (the model
loaded once per job); any other per-candidate stage gets a job that replaces itself by one job per
candidate it finds pending; campaign-wide stages get one job. Every Firework spec carries the campaign
(``hts_campaign``), the stage (``hts_stage``), the store settings without credentials (``hts_store``)
and, for per-candidate jobs, the candidate ids (``hts_candidates``); ``hts resume`` uses them.
"""

from __future__ import annotations

from jobflow import Flow, OnMissing, Response, job

from hts.campaign import Campaign
from hts.config import CampaignConfig
from hts.stages.table import enabled_stages, stage
from hts.store.documents import Status
from hts.store.store import open_store

__all__ = ["campaign_flow"]


def _campaign(cfg_dict: dict) -> tuple[Campaign, object]:
    cfg = CampaignConfig.model_validate(cfg_dict)
    store = open_store(cfg.store.path, cfg.store.uri, cfg.store.database).connect()
    return Campaign(cfg, store), store


@job
def generate_job(cfg_dict: dict, batch_size: int = 20, only_new: bool = False):
    """Write 'generated' documents; replace itself by the later stages' jobs.

    ``only_new``: the batched stage gets only the ids this job created (an addition to a running
    campaign), not 'generated' documents that another workflow of the campaign is about to relax."""
    camp, store = _campaign(cfg_dict)
    try:
        before = {d["id"] for d in camp.read("generate")}
        camp.run_stage("generate")
        crit = {"campaign": camp.cfg.name, "status": Status.GENERATED.value}
        todo = [d["id"] for d in store.find(crit, properties=["id"]) if not (only_new and d["id"] in before)]
    finally:
        store.close()
    jobs: list = []
    for st in enabled_stages(camp.cfg)[1:]:
        after = [j.output for j in jobs[-_last_group(jobs):]] if jobs else None
        if st.inputs == (Status.GENERATED.value,):
            for b in (todo[i:i + batch_size] for i in range(0, len(todo), batch_size)):
                j = _stage(stage_job(cfg_dict, st.name, b), st.name, b)
                j.name = f"{st.name} {len(b)} structures"
                j.update_metadata({"group": st.name})
                jobs.append(j)
            continue
        j = _stage((expand_job if st.per_candidate else stage_job)(cfg_dict, st.name, None, after), st.name)
        j.config.on_missing_references = OnMissing.NONE  # runs after a batch that failed for good (FIZZLED parents)
        j.update_metadata({"group": st.name})
        jobs.append(j)
    flow = Flow(jobs, output=jobs[-1].output if jobs else None, name="screening")
    return Response(output=todo, replace=_tagged(flow, camp.cfg))


def _last_group(jobs: list) -> int:
    """How many jobs at the end of ``jobs`` belong to the same stage (the batches of one stage)."""
    g = jobs[-1].metadata.get("group")
    n = 0
    for j in reversed(jobs):
        if j.metadata.get("group") != g:
            break
        n += 1
    return n


@job
def stage_job(cfg_dict: dict, name: str, ids: list[str] | None = None, _after=None, options: dict | None = None):
    """Run stage ``name`` (on ``ids`` only, if given); returns the statuses it wrote. ``_after`` only
    orders the job after its inputs."""
    camp, store = _campaign(cfg_dict)
    try:
        return dict(camp.run_stage(name, ids, **(options or {})))
    finally:
        store.close()


@job
def expand_job(cfg_dict: dict, name: str, ids=None, _after=None):
    """Replace itself by one job per candidate that stage ``name`` finds pending now (in its order)."""
    camp, store = _campaign(cfg_dict)
    mod = stage(name).load()
    try:
        docs = camp.read(name)
    finally:
        store.close()
    order = getattr(mod, "queue", None)
    pending = [d["id"] for d in (order(camp.cfg, docs) if order else docs)]
    if not pending:
        return Response(output={})
    options = getattr(mod, "job_options", lambda cfg, rank, cid: {})
    jobs = [_stage(stage_job(cfg_dict, name, [c], None, options(camp.cfg, n, c)), name, [c]) for n, c in enumerate(pending)]
    for j, c in zip(jobs, pending):
        j.name = f"{name} {c}"
        j.update_metadata({"candidate": c})
    return Response(replace=_tagged(Flow(jobs, name=name), camp.cfg))


def campaign_flow(cfg: CampaignConfig, batch_size: int = 20, only_new: bool = False) -> Flow:
    """The whole campaign as one Flow; every job is tagged with the campaign and its store."""
    gen = _stage(generate_job(cfg.model_dump(mode="json"), batch_size, only_new), "generate")
    gen.name = f"generate {cfg.name}"
    return _tagged(Flow([gen], output=gen.output, name=f"hts campaign {cfg.name}"), cfg)


def _stage(j, name: str, candidates: list[str] | None = None):
    """Stage name and (for per-candidate jobs) candidate ids into the job's Firework spec:
    ``hts_stage``, ``hts_candidates``. Jobs that replace themselves tag their replacements
    (``_tagged``), so jobflow must not copy theirs over."""
    j.config.pass_manager_config = False
    j.config.manager_config = {**j.config.manager_config, "hts_stage": name,
                               **({"hts_candidates": list(candidates)} if candidates is not None else {})}
    return j


def _tagged(flow: Flow, cfg: CampaignConfig) -> Flow:
    """Campaign name in every job's metadata and, through jobflow's manager_config, the campaign and its
    store settings in every Firework spec (``hts_campaign``, ``hts_store``), including the Fireworks
    that jobs create at run time."""
    flow.update_metadata({"campaign": cfg.name})
    where = cfg.store.model_dump(mode="json")  # a config's URI holds no credentials (hts.config refuses them)
    for j, _ in flow.iterflow():
        j.config.manager_config = {**j.config.manager_config, "hts_campaign": cfg.name, "hts_store": where}
    return flow
