"""A campaign through FireWorks on mongomock: submit (twice), rlaunch, status."""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hts.store.documents import FINAL_STATUSES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_submit_rlaunch_status(tmp_path):
    cfg = {
        "name": "fw-MgH", "systems": ["Mg-H"], "pressures_GPa": [50],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": 2, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 1}},
        "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 20},
        "references": {"element_phases": 1}, "phonons": {"enabled": False},
        "store": {"path": str(tmp_path / "store")},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    lp = ROOT / "configs" / "queue" / "launchpad_mongomock.yaml"
    (tmp_path / "lp.json").write_text("{}")  # mongomock_persistence needs the file to exist
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(tmp_path / "lp.json")}
    hts = [str(BIN / "hts")]

    today = datetime.date.today().isoformat()
    r = _run([str(BIN / "lpad"), "-l", str(lp), "reset", "--password", today], tmp_path, env)  # a fresh LaunchPad
    assert r.returncode == 0, r.stderr
    r = _run(hts + ["submit", "c.yaml", "--launchpad", str(lp), "--batch-size", "2"], tmp_path, env)
    assert r.returncode == 0 and "submitted" in r.stdout, r.stderr
    r = _run(hts + ["submit", "c.yaml", "--launchpad", str(lp)], tmp_path, env)
    assert r.returncode == 0 and "already on the LaunchPad" in r.stdout and "nothing added" in r.stdout

    r = _run([str(BIN / "rlaunch"), "-l", str(lp), "rapidfire"], tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]

    r = _run(hts + ["status", "fw-MgH", "--launchpad", str(lp), "--store", str(tmp_path / "store"), "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["fireworks"] and set(st["fireworks"]) == {"COMPLETED"}, st
    assert sum(st["candidates"].values()) == 2 and "generated" not in st["candidates"], st

    # adding candidates to the running campaign: two more random cells; the first two are not redone
    from hts.store.store import open_store

    store = open_store(tmp_path / "store").connect()
    before = {d["id"]: d["attempts"] for d in store.find({"campaign": "fw-MgH"})}
    store.close()
    cfg["generators"]["random"]["n_structures"] = 4
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = _run(hts + ["submit", "c.yaml", "--launchpad", str(lp), "--add", "--batch-size", "2"], tmp_path, env)
    assert r.returncode == 0 and "addition 1 to campaign 'fw-MgH' submitted" in r.stdout, r.stdout + r.stderr
    r = _run([str(BIN / "rlaunch"), "-l", str(lp), "rapidfire"], tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    st = json.loads(_run(hts + ["status", "fw-MgH", "--launchpad", str(lp), "--store", str(tmp_path / "store"), "--json"],
                         tmp_path, env).stdout)
    assert set(st["fireworks"]) == {"COMPLETED"} and sum(st["candidates"].values()) == 4, st
    store = open_store(tmp_path / "store").connect()
    after = {d["id"]: d["attempts"] for d in store.find({"campaign": "fw-MgH"})}
    store.close()
    assert all(after[i] == before[i] for i in before)  # finished candidates were not relaxed again
    assert all(len([a for a in after[i] if a["stage"] == "relax"]) == 1 for i in set(after) - set(before))


def test_queue_adapters_render_submit_scripts(tmp_path):
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    slurm = CommonAdapter.from_file(str(ROOT / "configs" / "queue" / "qadapter_slurm.yaml")).get_script_str(str(tmp_path))
    assert "#SBATCH --cpus-per-task=4" in slurm and "#SBATCH --time=04:00:00" in slurm
    assert "rlaunch -l launchpad.yaml -w fworker.yaml singleshot" in slurm
    pbs = CommonAdapter.from_file(str(ROOT / "configs" / "queue" / "qadapter_pbs.yaml")).get_script_str(str(tmp_path))
    assert "#PBS -l nodes=1:ppn=4" in pbs and "#PBS -l walltime=04:00:00" in pbs


def _fresh_launchpad(tmp_path, cfg):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "lp.json").write_text("{}")  # mongomock_persistence needs the file to exist
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(tmp_path / "lp.json")}
    lp = ROOT / "configs" / "queue" / "launchpad_mongomock.yaml"
    assert _run([str(BIN / "lpad"), "-l", str(lp), "reset", "--password", datetime.date.today().isoformat()],
                tmp_path, env).returncode == 0
    return env, str(lp)


def _candidates(store_path, campaign):
    from hts.store.store import open_store

    store = open_store(store_path).connect()
    try:
        return store.find({"campaign": campaign})
    finally:
        store.close()


def test_fizzled_firework_is_reported_retried_and_ends_as_failure_records(tmp_path):
    """A batch whose model cannot load (config asks for a GPU this machine lacks) FIZZLEs; status shows the
    error, resume retries it up to the limit, then its candidates become typed failure records."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the relax batches would not fail")
    cfg = {"name": "fw-gpu", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False},
                          "random": {"n_structures": 2, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 1}},
           "relax": {"model": "chgnet", "device": "cuda", "max_steps": 20}, "references": {"element_phases": 1},
           "phonons": {"enabled": False}, "store": {"path": str(tmp_path / "store")}}
    env, lp = _fresh_launchpad(tmp_path, cfg)
    hts = [str(BIN / "hts")]
    assert _run(hts + ["submit", "c.yaml", "--launchpad", lp, "--batch-size", "2"], tmp_path, env).returncode == 0
    status = hts + ["status", "fw-gpu", "--launchpad", lp, "--store", str(tmp_path / "store"), "--json"]
    for attempt in range(2):
        assert _run(hts + ["worker", "--launchpad", lp], tmp_path, env).returncode == 0
        st = json.loads(_run(status, tmp_path, env).stdout)
        assert st["fireworks"].get("FIZZLED") == 2, st  # both relax batches; dedup/hull/phonons still ran
        assert st["errors"] == {"AssertionError: Torch not compiled with CUDA enabled": 2}, st
        r = _run(hts + ["resume", "fw-gpu", "--launchpad", lp, "--max-retries", "1"], tmp_path, env)
        assert r.returncode == 0, r.stderr
        if attempt == 0:
            assert "FIZZLED rerun: [" in r.stdout and "retry limit reached: []" in r.stdout, r.stdout
            assert st["candidates"] == {"generated": 2}, st
        else:
            assert "FIZZLED rerun: []" in r.stdout and "retry limit reached: [" in r.stdout, r.stdout
    docs = _candidates(tmp_path / "store", "fw-gpu")
    assert len(docs) == 4  # 2 candidates + 2 element references, none lost
    for d in docs:
        assert d["status"] == "failed" and d["stage"] == "relax" and d["failure_type"] == "workflow", d["status"]
        assert "failed 2 times" in d["reason"] and "CUDA" in d["reason"]
        assert [a["ok"] for a in d["attempts"]] == [False, False]  # both attempts kept, with their error
        assert all("CUDA" in a["reason"] for a in d["attempts"])


def _lock_workflow_of(path: Path, fw_id: int) -> None:
    """Set FireWorks' WFLock flag on the workflow holding ``fw_id`` in a mongomock LaunchPad file."""
    import bson.json_util

    dbs = bson.json_util.loads(path.read_text())
    wfs = [doc for _, doc in dbs["hts_fireworks"]["workflows"]["documents"] if fw_id in doc["nodes"]]
    assert len(wfs) == 1
    wfs[0]["locked"] = True
    path.write_text(bson.json_util.dumps(dbs))


def test_resume_releases_orphaned_workflow_locks_but_not_live_ones():
    """A lock held through the whole wait is released; one that a live worker drops and retakes within
    the wait, and locks of other campaigns, are left alone."""
    import threading
    import time
    from types import SimpleNamespace

    import mongomock

    from hts.cluster.fireworks import release_stale_locks

    db = mongomock.MongoClient().db
    lp = SimpleNamespace(fireworks=db.fireworks, workflows=db.workflows)
    db.workflows.insert_many([{"nodes": [i], "metadata": {"hts_campaign": c}, "locked": True}
                              for i, c in ((1, "c"), (2, "c"), (3, "d"))])

    def live_worker():  # finishes its update, then takes the lock again for the next one
        time.sleep(0.4)
        db.workflows.update_one({"nodes": 2}, {"$unset": {"locked": True}})
        time.sleep(0.4)
        db.workflows.update_one({"nodes": 2}, {"$set": {"locked": True}})

    t = threading.Thread(target=live_worker)
    t.start()
    assert release_stale_locks(lp, "c", wait_s=1.5, poll_s=0.05) == [1]
    t.join()
    locked = {w["nodes"][0] for w in db.workflows.find({"locked": {"$exists": True}})}
    assert locked == {2, 3}  # the live worker's new lock and the other campaign's lock are untouched
    assert release_stale_locks(lp, "c", wait_s=0.3, poll_s=0.05) == [2]  # now held through a whole wait


_FINISHED_BUT_RUNNING = """
from fireworks import Firework, FWorker, LaunchPad, ScriptTask, Workflow
from fireworks.core.firework import FWAction
from hts.cluster.fireworks import resume

lp = LaunchPad(name="t")
lp.reset("", require_password=False)
a = Firework(ScriptTask.from_str("true"), spec={"hts_campaign": "c"}, fw_id=1)
b = Firework(ScriptTask.from_str("true"), spec={"hts_campaign": "c"}, fw_id=2, parents=[a])
lp.add_wf(Workflow([a, b], metadata={"hts_campaign": "c"}))
fw, launch_id = lp.checkout_fw(FWorker(), ".")
launch = lp.get_launch_by_id(launch_id)  # the worker records its finished launch, then dies before the refresh
launch.action, launch.state = FWAction(), "COMPLETED"
lp.launches.find_one_and_replace({"launch_id": launch_id}, launch.to_db_dict())
before = (lp.get_fw_by_id(1).state, lp.get_fw_by_id(2).state)
res = resume(lp, "c", expiration_s=3600, lock_wait_s=0.5)
print(before, res["refreshed"], res["lost"], (lp.get_fw_by_id(1).state, lp.get_fw_by_id(2).state))
"""


def test_resume_refreshes_a_firework_whose_launch_finished_but_is_still_running(tmp_path):
    """A worker killed between recording its COMPLETED launch and the workflow refresh leaves the Firework
    RUNNING and its children WAITING for ever; resume refreshes it, and the children become READY."""
    (tmp_path / "lp.json").write_text("{}")
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(tmp_path / "lp.json")}
    r = _run([sys.executable, "-c", _FINISHED_BUT_RUNNING], tmp_path, env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "('RUNNING', 'WAITING') [1] [] ('COMPLETED', 'READY')", r.stdout


def _launchpad_file(path: Path) -> dict:
    """Fireworks of a mongomock LaunchPad file: fw_id -> (state, stage, candidate ids, launches so far
    (a rerun archives the earlier ones))."""
    import bson.json_util

    dbs = bson.json_util.loads(path.read_text() or "{}")
    fws = dict((dbs.get("hts_fireworks") or {}).get("fireworks", {}).get("documents", []))
    return {f["fw_id"]: (f["state"], f["spec"].get("hts_stage"), f["spec"].get("hts_candidates"),
                        len(f.get("launches", [])) + len(f.get("archived_launches", [])))
            for f in fws.values()}


def test_killed_worker_is_found_by_resume_and_finished_batches_are_not_recomputed(tmp_path):
    """SIGKILL a worker in the middle of a relax batch; resume finds the lost run, a new worker finishes
    the campaign; one final record per candidate; the batches done before the kill ran once."""
    import signal
    import time

    cfg = {"name": "fw-kill", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False},
                          "random": {"n_structures": 6, "stoichiometries": ["MgH2"], "max_atoms": 6, "seed": 2}},
           "relax": {"model": "chgnet", "fmax_eV_A": 0.02, "max_steps": 60}, "references": {"element_phases": 1},
           "phonons": {"enabled": False}, "store": {"path": str(tmp_path / "store")}}
    env, lp = _fresh_launchpad(tmp_path, cfg)
    hts = [str(BIN / "hts")]
    assert _run(hts + ["submit", "c.yaml", "--launchpad", lp, "--batch-size", "2"], tmp_path, env).returncode == 0

    worker = subprocess.Popen(hts + ["worker", "--launchpad", lp], cwd=tmp_path, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0, fws, running_since = time.time(), {}, {}
    try:
        while time.time() - t0 < 300:
            fws = _launchpad_file(tmp_path / "lp.json")
            relax = {i: f for i, f in fws.items() if f[1] == "relax"}
            running_since = {i: running_since.get(i, time.time()) for i, f in relax.items() if f[0] == "RUNNING"}
            # kill inside the relaxation itself, not in the checkout that marks it RUNNING (a lock the
            # worker holds then is the separate case set up below)
            if any(f[0] == "COMPLETED" for f in relax.values()) and any(time.time() - t > 1.0
                                                                         for t in running_since.values()):
                break
            assert worker.poll() is None, "the worker finished before it could be killed mid-batch"
            time.sleep(0.2)
        else:
            raise AssertionError(f"no relax batch running after a finished one: {fws}")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the node dies: no cleanup, no exit handlers
        worker.wait()
    fws = _launchpad_file(tmp_path / "lp.json")
    done_before = {i: f for i, f in fws.items() if f[1] == "relax" and f[0] == "COMPLETED"}
    killed = [i for i, f in fws.items() if f[0] == "RUNNING"]
    assert len(killed) == 1 and done_before

    st = json.loads(_run(hts + ["status", "fw-kill", "--launchpad", lp, "--store", str(tmp_path / "store"), "--json"],
                         tmp_path, env).stdout)
    assert st["fireworks"].get("RUNNING") == 1, st  # the LaunchPad still believes it runs
    # a node that dies inside a FireWorks state update leaves its workflow locked (WFLock): every later
    # update of that workflow would wait 300 s and give up ("locked. Can't refresh!") and resume would hang
    _lock_workflow_of(tmp_path / "lp.json", killed[0])
    r = _run(hts + ["resume", "fw-kill", "--launchpad", lp, "--expiration-s", "0", "--lock-wait-s", "2"], tmp_path, env)
    assert r.returncode == 0 and f"lost runs rerun: [{killed[0]}]" in r.stdout, r.stdout + r.stderr
    assert "released workflow locks left by a stopped worker (held > 2 s), workflows of Fireworks [" in r.stdout
    assert _run(hts + ["worker", "--launchpad", lp], tmp_path, env).returncode == 0

    fws = _launchpad_file(tmp_path / "lp.json")
    assert {f[0] for f in fws.values()} == {"COMPLETED"}, fws
    assert all(fws[i][3] == 1 for i in done_before)  # launched once: not recomputed
    assert fws[killed[0]][3] == 2  # the lost launch and the rerun
    docs = _candidates(tmp_path / "store", "fw-kill")
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)) == sum(len(f[2]) for f in fws.values() if f[1] == "relax")  # one record each
    assert all(d["status"] in FINAL_STATUSES for d in docs if d["role"] == "candidate"), [d["status"] for d in docs]
    relax_attempts = {d["id"]: [a for a in d["attempts"] if a["stage"] == "relax"] for d in docs}
    for i in done_before:
        for cid in fws[i][2]:
            # relaxed exactly once, never rerun; the outcome may be a physics failure (e.g. a collapsed cell)
            assert len(relax_attempts[cid]) == 1, relax_attempts[cid]
            assert "lost run" not in (relax_attempts[cid][0].get("reason") or ""), relax_attempts[cid]
    assert any(relax_attempts[cid][0]["ok"] for i in done_before for cid in fws[i][2])
    lost = 0
    for cid in fws[killed[0]][2]:  # committed per relaxation: what finished before the kill is not redone,
        tries = relax_attempts[cid]  # the one in flight has its lost attempt on record, then the one that finished
        assert len([a for a in tries if "lost run" not in (a.get("reason") or "")]) == 1, tries
        lost += any("lost run" in (a.get("reason") or "") for a in tries)
    assert lost >= 1


def test_submitted_campaigns_point_every_worker_at_one_store(tmp_path, monkeypatch):
    from hts.cluster.fireworks import absolute_store
    from hts.config import CampaignConfig

    monkeypatch.chdir(tmp_path)
    cfg = CampaignConfig.model_validate({"name": "x", "systems": ["Mg-H"], "pressures_GPa": [50]})
    assert cfg.store.path == "hts_store" and absolute_store(cfg).store.path == str(tmp_path / "hts_store")
    remote = CampaignConfig.model_validate({"name": "x", "systems": ["Mg-H"], "pressures_GPa": [50],
                                            "store": {"uri": "mongodb://db.example.org/"}})
    assert absolute_store(remote) == remote
