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
