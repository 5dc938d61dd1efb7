"""The MongoDB path end to end on a real wire-protocol server (SecantusDB, started by conftest's ``mongo_uri``):
``hts run --uri``, and ``hts submit`` / ``hts worker`` / ``hts status`` / ``hts resume`` with a MongoDB LaunchPad
and JobStore, two workers at once on one campaign, one of them killed with SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pymongo
import yaml

from hts.store.documents import FINAL_STATUSES

BIN = Path(sys.executable).parent
HTS = [str(BIN / "hts")]


def _run(args, cwd, env, timeout=600):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _campaign(name: str, n: int) -> dict:
    return {"name": name, "systems": ["Mg-H"], "pressures_GPa": [50],
            "generators": {"substitution": {"enabled": False},
                           "random": {"n_structures": n, "stoichiometries": ["MgH2"], "max_atoms": 6, "seed": 2}},
            "relax": {"model": "chgnet", "fmax_eV_A": 0.02, "max_steps": 25}, "references": {"element_phases": 1},
            "phonons": {"enabled": False}}


def test_hts_run_and_query_on_mongodb(tmp_path, mongo_uri):
    db = f"hts_run_{uuid.uuid4().hex[:6]}"
    cfg = _campaign("mongo-run", 2)
    cfg["generators"]["random"]["max_atoms"] = 3
    cfg["relax"].update(fmax_eV_A=0.1, max_steps=20)
    cfg["store"] = {"database": db}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "HTS_MONGO_URI": mongo_uri}
    r = _run(HTS + ["run", "c.yaml", "--quiet", "--uri", mongo_uri], tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"store: MongoDB {db} at {mongo_uri.rstrip('/')}" in r.stderr
    r = _run(HTS + ["query", "--config", "c.yaml", "--format", "json"], tmp_path, env)
    docs = json.loads(r.stdout)
    assert len(docs) == 2 and all(d["status"] in FINAL_STATUSES for d in docs), r.stdout[-500:]
    coll = pymongo.MongoClient(mongo_uri)[db]["candidates"]
    assert coll.count_documents({"campaign": "mongo-run", "role": "candidate"}) == 2
    assert not (tmp_path / "hts_store").exists()  # nothing went to an embedded store


def _fireworks(lp_db) -> dict:
    """fw_id -> (state, stage, candidate ids, launches so far incl. archived, fworker names of its launches)."""
    out = {}
    for f in lp_db.fireworks.find({}, {"fw_id": 1, "state": 1, "spec": 1, "launches": 1, "archived_launches": 1}):
        ids = f.get("launches", []) + f.get("archived_launches", [])
        names = [x["fworker"]["name"] for x in lp_db.launches.find({"launch_id": {"$in": ids}}, {"fworker": 1})]
        out[f["fw_id"]] = (f["state"], f["spec"].get("hts_stage"), f["spec"].get("hts_candidates"), len(ids), names)
    return out


def test_two_workers_on_mongodb_one_killed_then_resumed(tmp_path, mongo_uri):
    """Two workers share a campaign on one MongoDB; worker A is SIGKILLed inside a relax batch; worker B goes on;
    hts resume finds A's lost run, a worker finishes it; every candidate ends with exactly one final record and
    the batches finished before the kill are not recomputed."""
    tag = uuid.uuid4().hex[:6]
    db, fw_db = f"hts_fw_{tag}", f"fw_{tag}"
    cfg = {**_campaign("mongo-fw", 6), "store": {"database": db}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    lp = tmp_path / "launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": mongo_uri + fw_db, "uri_mode": True, "name": fw_db}))
    for w in "AB":
        (tmp_path / f"fworker_{w}.yaml").write_text(yaml.safe_dump({"name": f"worker-{w}", "category": "", "query": "{}"}))
    env = {**os.environ, "HTS_MONGO_URI": mongo_uri}
    lp_db = pymongo.MongoClient(mongo_uri)[fw_db]

    r = _run([str(BIN / "lpad"), "-l", str(lp), "reset", "--password", time.strftime("%Y-%m-%d")], tmp_path, env)
    assert r.returncode == 0, r.stderr
    r = _run(HTS + ["submit", "c.yaml", "--launchpad", str(lp), "--batch-size", "2"], tmp_path, env)
    assert r.returncode == 0 and "submitted" in r.stdout, r.stdout + r.stderr
    spec = json.dumps(lp_db.fireworks.find_one({})["spec"], default=str)
    assert "CampaignMongoStore" in spec and "MongoURIStore" not in spec  # a JobStore workers can rebuild

    def worker(w, *extra):
        return subprocess.Popen(HTS + ["worker", "--launchpad", str(lp), "--fworker", f"fworker_{w}.yaml", *extra],
                                cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=open(tmp_path / f"worker_{w}.log", "w"))

    a, t0, since = worker("A"), time.time(), {}
    try:
        while not any(f[1] == "relax" for f in _fireworks(lp_db).values()):  # A runs generate, which adds the batches
            assert a.poll() is None and time.time() - t0 < 300, (tmp_path / "worker_A.log").read_text()[-3000:]
            time.sleep(0.2)
        b = worker("B", "--sleep-s", "2", "--max-loops", "3")  # B stops once only A's lost batch is left
        while True:  # kill A inside a relaxation, once some relax batch has finished
            fws = _fireworks(lp_db)
            relax = {i: f for i, f in fws.items() if f[1] == "relax"}
            mine = [i for i, f in relax.items() if f[0] == "RUNNING" and f[4][-1:] == ["worker-A"]]
            since = {i: since.get(i, time.time()) for i in mine}
            if any(f[0] == "COMPLETED" for f in relax.values()) and any(time.time() - t > 1.0 for t in since.values()):
                break
            assert a.poll() is None, "worker A stopped early: " + (tmp_path / "worker_A.log").read_text()[-3000:]
            assert time.time() - t0 < 400, f"no relax batch of worker A running after a finished one: {fws}"
            time.sleep(0.2)
    finally:
        if a.poll() is None:
            os.killpg(a.pid, signal.SIGKILL)
        a.wait()
    assert b.wait(timeout=600) == 0  # B finishes everything that does not wait on A's batch
    fws = _fireworks(lp_db)
    killed = [i for i, f in fws.items() if f[0] == "RUNNING"]
    assert len(killed) == 1 and fws[killed[0]][4] == ["worker-A"], fws
    assert {f[4][0] for f in fws.values() if f[1] == "relax" and f[0] == "COMPLETED"} >= {"worker-B"}
    done_before = [i for i, f in fws.items() if f[1] == "relax" and f[0] == "COMPLETED"]

    st = json.loads(_run(HTS + ["status", "mongo-fw", "--launchpad", str(lp), "--config", "c.yaml", "--json"],
                         tmp_path, env).stdout)
    assert st["fireworks"].get("RUNNING") == 1, st
    r = _run(HTS + ["resume", "mongo-fw", "--launchpad", str(lp), "--expiration-s", "0", "--lock-wait-s", "1"], tmp_path, env)
    assert r.returncode == 0 and f"lost runs rerun: [{killed[0]}]" in r.stdout, r.stdout + r.stderr
    assert _run(HTS + ["worker", "--launchpad", str(lp), "--fworker", "fworker_B.yaml"], tmp_path, env).returncode == 0

    fws = _fireworks(lp_db)
    assert {f[0] for f in fws.values()} == {"COMPLETED"}, fws
    assert all(fws[i][3] == 1 for i in done_before)  # launched once
    docs = list(pymongo.MongoClient(mongo_uri)[db]["candidates"].find({"campaign": "mongo-fw"}))
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)) == sum(len(f[2]) for f in fws.values() if f[1] == "relax")  # one record each
    assert all(d["status"] in FINAL_STATUSES for d in docs if d["role"] == "candidate"), [d["status"] for d in docs]
    lost = 0
    for cid in fws[killed[0]][2]:  # each relaxation was committed as it finished: only the one in flight is redone
        relax = [x for x in next(d for d in docs if d["id"] == cid)["attempts"] if x["stage"] == "relax"]
        assert len([x for x in relax if "lost run" not in (x.get("reason") or "")]) == 1, relax
        lost += any("lost run" in (x.get("reason") or "") for x in relax)
    assert lost >= 1
