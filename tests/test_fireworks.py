"""A campaign through FireWorks on mongomock: submit (twice), rlaunch, status."""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

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


def test_fizzled_firework_is_reported_and_retried_up_to_the_limit(tmp_path):
    bad_store = tmp_path / "not_a_dir"
    bad_store.write_text("a file where the store directory should be")
    cfg = {"name": "fw-broken", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False}, "random": {"n_structures": 1, "stoichiometries": ["MgH2"]}},
           "relax": {"model": "chgnet"}, "store": {"path": str(bad_store)}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    lp = ROOT / "configs" / "queue" / "launchpad_mongomock.yaml"
    (tmp_path / "lp.json").write_text("{}")
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(tmp_path / "lp.json")}
    hts = [str(BIN / "hts")]
    assert _run([str(BIN / "lpad"), "-l", str(lp), "reset", "--password", datetime.date.today().isoformat()], tmp_path, env).returncode == 0
    assert _run(hts + ["submit", "c.yaml", "--launchpad", str(lp)], tmp_path, env).returncode == 0
    status = hts + ["status", "fw-broken", "--launchpad", str(lp), "--store", str(tmp_path / "ok_store"), "--json"]
    for attempt in range(2):
        _run([str(BIN / "rlaunch"), "-l", str(lp), "rapidfire"], tmp_path, env)
        st = json.loads(_run(status, tmp_path, env).stdout)
        assert st["fireworks"] == {"FIZZLED": 1}, st
        assert any("Error" in msg for msg in st["errors"]), st  # the stored exception, grouped
        r = _run(hts + ["resume", "fw-broken", "--launchpad", str(lp), "--max-retries", "1"], tmp_path, env)
        assert r.returncode == 0
        if attempt == 0:
            assert "FIZZLED rerun: [" in r.stdout and "retry limit reached: []" in r.stdout, r.stdout
        else:
            assert "FIZZLED rerun: []" in r.stdout and "retry limit reached: [" in r.stdout, r.stdout
