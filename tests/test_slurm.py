"""Acceptance (issue 4): a campaign through a real one-node SLURM: hts submit -> qlaunch -> sbatch -> rlaunch.

The LaunchPad is mongomock (one writer at a time), so Fireworks are launched one queue job at a time:
qlaunch singleshot, wait for the queue to empty, repeat. Every candidate must end in a final status.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from slurm_cluster import OneNodeSlurm, available
from hts.store.documents import FINAL_STATUSES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slurm, pytest.mark.skipif(available() is not None, reason=str(available()))]


@pytest.fixture
def slurm(tmp_path):
    cl = OneNodeSlurm(tmp_path / "slurm")
    cl.start()
    try:
        yield cl
    finally:
        cl.stop()


def test_campaign_through_slurm(tmp_path, slurm):
    cfg = {"name": "slurm-MgH", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False},
                          "random": {"n_structures": 2, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 3}},
           "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 20},
           "references": {"element_phases": 1}, "phonons": {"enabled": False},
           "store": {"path": str(tmp_path / "store")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    lp = ROOT / "configs" / "queue" / "launchpad_mongomock.yaml"
    fworker = ROOT / "configs" / "queue" / "fworker.yaml"
    (tmp_path / "lp.json").write_text("{}")
    env = {"MONGOMOCK_SERVERSTORE_FILE": str(tmp_path / "lp.json"), "PATH": f"{BIN}:{os.environ['PATH']}"}
    qa = yaml.safe_load((ROOT / "configs" / "queue" / "qadapter_slurm.yaml").read_text())
    qa.update(cpus_per_task=1, mem_per_cpu="1500", walltime="00:10:00", logdir=str(tmp_path / "qlogs"),
              rocket_launch=f"rlaunch -l {lp} -w {fworker} singleshot",
              pre_rocket=f"export PATH={BIN}:$PATH\nexport OMP_NUM_THREADS=1")
    (tmp_path / "qadapter.yaml").write_text(yaml.safe_dump(qa))
    (tmp_path / "qlogs").mkdir()  # the CommonAdapter logs there and fails (exit 0) without it

    r = slurm.run([str(BIN / "lpad"), "-l", str(lp), "reset", "--password", datetime.date.today().isoformat()], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    r = slurm.run([str(BIN / "hts"), "submit", "c.yaml", "--launchpad", str(lp), "--batch-size", "3"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "submitted" in r.stdout, r.stderr

    def fw_states():
        out = slurm.run([str(BIN / "hts"), "status", "slurm-MgH", "--launchpad", str(lp), "--store", str(tmp_path / "store"), "--json"],
                        cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    jobs, t0 = 0, time.time()
    while fw_states()["fireworks"].get("READY") and time.time() - t0 < 600:
        r = slurm.run([str(BIN / "qlaunch"), "-l", str(lp), "-w", str(fworker), "-q", str(tmp_path / "qadapter.yaml"),
                       "singleshot"], cwd=tmp_path, env=env)
        assert r.returncode == 0 and "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr
        jobs += 1
        time.sleep(1)
        while not slurm.queue_empty():  # one rlaunch (one mongomock writer) at a time
            time.sleep(1)
    st = fw_states()
    logs = " ".join(p.read_text()[-800:] for p in (tmp_path / "qlogs").glob("*.error")) if (tmp_path / "qlogs").exists() else ""
    assert set(st["fireworks"]) == {"COMPLETED"}, (st, logs)
    assert jobs >= 4  # generate, relax batches, dedup, hull, phonons: each its own sbatch job
    from hts.store.store import open_store

    store = open_store(tmp_path / "store").connect()
    cands = store.find({"campaign": "slurm-MgH", "role": "candidate"})
    store.close()
    assert len(cands) == 2 and all(d["status"] in FINAL_STATUSES for d in cands), [d["status"] for d in cands]
