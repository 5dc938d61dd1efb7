"""A campaign as a FireWorks workflow on a LaunchPad.

``submit`` converts the jobflow Flow (hts.workflow) with ``flow_to_workflow`` and tags
every Firework spec with ``hts_campaign``; the workflow metadata carries the campaign name,
so submitting the same campaign twice adds nothing. ``status`` counts Fireworks per state
and candidates per status and groups the last errors; ``resume`` finds lost runs
(``detect_lostruns``), releases workflow locks a killed worker left behind, and reruns
FIZZLED Fireworks up to a retry limit. Candidate documents are idempotent by id, so a rerun
never recomputes a finished candidate.

Tests use ``fireworks[mongomock]`` (env MONGOMOCK_SERVERSTORE_FILE, one writer at a time);
that mode is for tests only: use a MongoDB URI for real campaigns.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

from hts.config import CampaignConfig

__all__ = ["absolute_store", "job_store", "launchpad_from_file", "release_stale_locks", "resume", "status", "submit"]


def launchpad_from_file(path: str | Path | None = None):
    from fireworks import LaunchPad

    return LaunchPad.from_file(str(path)) if path else LaunchPad()


def job_store(cfg: CampaignConfig):
    """jobflow JobStore beside the candidate store (same backend) for job outputs across Fireworks."""
    from jobflow import JobStore
    from maggma.stores import MontyStore

    from hts.store.mongo import CampaignMongoStore
    from hts.store.uri import mongo_uri

    uri = mongo_uri(cfg.store.uri)  # the same database as the candidates; serialized without credentials
    if uri:
        return JobStore(CampaignMongoStore(cfg.store.database, "jobflow_outputs", uri=uri, key="uuid"))
    path = str(Path(cfg.store.path).resolve() / "jobflow")  # a few small documents per Firework
    return JobStore(MontyStore("jobflow_outputs", database_path=path, database_name="jobflow", storage="sqlite"))


def absolute_store(cfg: CampaignConfig) -> CampaignConfig:
    """The config with its embedded-store path made absolute (relative to where ``hts submit`` runs):
    workers run each Firework in a launcher directory of their own and must all reach the same store."""
    if cfg.store.uri:
        return cfg
    return cfg.model_copy(update={"store": cfg.store.model_copy(update={"path": str(Path(cfg.store.path).resolve())})})


def _existing(lp, campaign: str):
    return lp.workflows.find_one({"metadata.hts_campaign": campaign}, {"nodes": 1, "state": 1})


def submit(cfg: CampaignConfig, lp, batch_size: int = 20, add: bool = False) -> tuple[int | None, str]:
    """Add the campaign workflow; (first fw_id, message). A second submission adds nothing.

    ``add=True`` puts candidates into a campaign that is already on the LaunchPad (e.g. after adding
    stoichiometries or random cells to its config): a further workflow whose generate job relaxes only
    the candidate ids it creates, then reruns dedup, hull and the later stages over the whole campaign.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from hts.workflow import campaign_flow

    cfg = absolute_store(cfg)
    old = _existing(lp, cfg.name)
    if old and not add:
        return None, (f"campaign {cfg.name!r} is already on the LaunchPad (workflow of fw {old['nodes'][0]}, state "
                      f"{old.get('state')}); nothing added. Use `hts resume {cfg.name}` to rerun what failed, "
                      f"or `hts submit --add` for new candidates.")
    n_add = lp.workflows.count_documents({"metadata.hts_campaign": cfg.name}) if old else 0
    flow = campaign_flow(cfg, batch_size, only_new=bool(old))
    wf = flow_to_workflow(flow, store=job_store(cfg))
    wf.metadata.update({"hts_campaign": cfg.name, "hts_addition": n_add})  # Firework specs: hts.workflow._tagged
    ids = lp.add_wf(wf)
    first = min(ids.values())
    what = f"addition {n_add} to campaign {cfg.name!r} submitted" if old else f"campaign {cfg.name!r} submitted"
    return first, f"{what}: {len(wf.fws)} Firework(s), first fw_id {first}"


def _error_line(launches: list[dict]) -> str:
    """Last line of the newest stored exception among a Firework's launches."""
    for launch in reversed(launches):
        data = (launch.get("action") or {}).get("stored_data") or {}
        exc = data.get("_exception") or {}
        trace = exc.get("_stacktrace") or ""
        if trace:
            return trace.strip().splitlines()[-1][:160]
    return "(no stored exception)"


def status(lp, store, campaign: str) -> dict:
    """Fireworks per state, candidates per status, and FIZZLED errors grouped by message."""
    fws = list(lp.fireworks.find({"spec.hts_campaign": campaign}, {"fw_id": 1, "state": 1, "launches": 1, "name": 1}))
    states = Counter(f["state"] for f in fws)
    errors: Counter = Counter()
    for f in fws:
        if f["state"] == "FIZZLED":
            launches = list(lp.launches.find({"launch_id": {"$in": f.get("launches", [])}}, {"action": 1}))
            errors[re.sub(r"\d+", "#", _error_line(launches))] += 1
    return {"fireworks": dict(states), "candidates": store.status_counts(campaign), "errors": dict(errors.most_common(10))}


def _note_attempt(spec: dict, fw_id: int, reason: str, final: bool) -> int:
    """Append a failed attempt (``reason``) to the candidates a Firework (its ``spec``) was still to finish
    (its stage's input statuses in the stage table); with ``final`` (retry limit reached) they become typed
    failure records. Returns how many were touched."""
    from hts.config import StoreSettings
    from hts.stages.table import stage as stage_of
    from hts.store.documents import Status, now
    from hts.store.store import open_store

    try:
        pending = stage_of(spec.get("hts_stage", "")).inputs
        where = StoreSettings.model_validate(spec["hts_store"])
    except KeyError:  # not an hts Firework
        return 0
    if not pending:
        return 0
    crit = {"campaign": spec["hts_campaign"], "status": {"$in": list(pending)}}
    if "hts_candidates" in spec:
        crit["id"] = {"$in": spec["hts_candidates"]}
    store = open_store(where.path, where.uri, where.database).connect()
    try:
        docs = store.find(crit)
        for d in docs:
            d["attempts"] = d.get("attempts", []) + [{"stage": spec["hts_stage"], "ok": False, "reason": reason,
                                                      "fw_id": fw_id, "at": now()}]
            if final:
                d.update(status=Status.FAILED.value, stage=spec["hts_stage"], reason=reason, failure_type="workflow")
        store.upsert(docs)
    finally:
        store.close()
    return len(docs)


def release_stale_locks(lp, campaign: str, wait_s: float = 60.0, poll_s: float = 0.2) -> list[int]:
    """Unlock the campaign's workflows that stay locked for ``wait_s`` seconds; returns a Firework id of each.

    FireWorks locks a workflow (``WFLock``) for the few milliseconds of a state update (checkout,
    completion, rerun). A worker killed inside one (node lost, SIGKILL) leaves the lock set for good,
    and every later update of that workflow waits 300 s and gives up ("locked. Can't refresh!"): the
    campaign hangs. A lock seen set at every poll for ``wait_s`` is taken to be such an orphan and is
    removed, as ``lpad admin unlock`` would. (A live worker that released and retook the lock between
    two polls for all of ``wait_s`` would look the same; FireWorks' updates are far shorter.)"""
    crit = {"metadata.hts_campaign": campaign, "locked": {"$exists": True}}  # every workflow submit adds
    held = {w["_id"]: w["nodes"][0] for w in lp.workflows.find(crit, {"nodes": 1})}
    t0 = time.monotonic()
    while held and time.monotonic() - t0 < wait_s:
        time.sleep(poll_s)
        still = {w["_id"] for w in lp.workflows.find(crit, {"_id": 1})}
        held = {k: v for k, v in held.items() if k in still}
    for wf_id in held:
        lp.workflows.update_one({"_id": wf_id, "locked": {"$exists": True}}, {"$unset": {"locked": True}})
    return sorted(held.values())


def resume(lp, campaign: str, max_retries: int = 2, expiration_s: int = 4 * 3600, lock_wait_s: float = 60.0) -> dict:
    """Rerun lost (worker killed) and FIZZLED Fireworks of a campaign, each at most ``max_retries`` times.

    First releases workflow locks orphaned by a killed worker (:func:`release_stale_locks`) and
    refreshes Fireworks left RUNNING although their launch finished (the worker died while recording
    it). Each lost or failed attempt is appended to the documents of the candidates its Firework had not
    finished; when the limit is reached they become ``failed`` records with the Firework's error, so a
    campaign has no silent gaps. Finished candidates are never touched (a rerun skips them too)."""
    unlocked = release_stale_locks(lp, campaign, lock_wait_s)
    _, lost_fws, inconsistent = lp.detect_lostruns(expiration_secs=expiration_s, rerun=True, refresh=True,
                                                   query={"spec.hts_campaign": campaign})
    for fw_id in lost_fws:
        spec = lp.fireworks.find_one({"fw_id": fw_id}, {"spec": 1})["spec"]
        _note_attempt(spec, fw_id, f"lost run: the worker of Firework {fw_id} stopped (no ping for {expiration_s} s); "
                                 "rerun", final=False)
    rerun, gave_up = [], []
    for f in lp.fireworks.find({"spec.hts_campaign": campaign, "state": "FIZZLED"}, {"fw_id": 1, "spec": 1, "launches": 1}):
        tries = f["spec"].get("_hts_retries", 0)
        launches = list(lp.launches.find({"launch_id": {"$in": f.get("launches", [])}}, {"action": 1}))
        error = _error_line(launches)
        if tries >= max_retries:
            if not f["spec"].get("_hts_gave_up"):
                _note_attempt(f["spec"], f["fw_id"], f"Firework {f['fw_id']} failed {tries + 1} times; last error: {error}", final=True)
                lp.update_spec([f["fw_id"]], {"_hts_gave_up": True})
            gave_up.append(f["fw_id"])
            continue
        _note_attempt(f["spec"], f["fw_id"], f"Firework {f['fw_id']} failed: {error}; rerun {tries + 1}/{max_retries}", final=False)
        lp.update_spec([f["fw_id"]], {"_hts_retries": tries + 1, "_hts_last_error": error})
        try:  # the failed launch's _recovery (its exception, its directory) goes into the new attempt's spec
            lp.rerun_fw(f["fw_id"], recover_launch="last")
        except ValueError:  # "No recovery info found": it failed before a task wrote any
            lp.rerun_fw(f["fw_id"])
        rerun.append(f["fw_id"])
    return {"lost": list(lost_fws), "rerun": rerun, "gave_up": gave_up, "unlocked": unlocked,
            "refreshed": list(inconsistent)}
