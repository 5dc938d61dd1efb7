"""One writer per campaign and store: a second ``hts run`` is refused while the first runs, ``hts query`` reads
the store meanwhile, and a killed run leaves the lock free (the kernel drops a dead process's flock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

HTS = [str(Path(sys.executable).parent / "hts")]


def test_second_run_refused_query_reads_while_run_writes(tmp_path):
    cfg = {"name": "lock-MgH", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False},
                          "random": {"n_structures": 2, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 1}},
           "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 10}, "references": {"element_phases": 1, "max_steps": 10},
           "phonons": {"enabled": False}, "store": {"path": str(tmp_path / "store")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    first = subprocess.Popen(HTS + ["run", "c.yaml", "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    lock = tmp_path / "store" / "locks" / "lock-MgH.lock"
    t0 = time.time()
    while not (lock.exists() and lock.read_text()):
        assert first.poll() is None and time.time() - t0 < 120, first.communicate()
        time.sleep(0.1)
    second = subprocess.run(HTS + ["run", "c.yaml", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert second.returncode == 2, second.stderr
    assert f"campaign 'lock-MgH' is already running on this store (pid {first.pid}" in second.stderr
    seen = []
    while first.poll() is None:  # hts query while hts run writes: every read is a consistent answer
        q = subprocess.run(HTS + ["query", "--store", "store", "--campaign", "lock-MgH", "--format", "json"],
                           cwd=tmp_path, capture_output=True, text=True)
        assert q.returncode == 0, q.stderr
        seen.append(len(json.loads(q.stdout)))
    assert first.returncode == 0, first.communicate()[1][-2000:]
    assert seen and max(seen) <= 2
    final = json.loads(subprocess.run(HTS + ["query", "--store", "store", "--format", "json"], cwd=tmp_path,
                                      capture_output=True, text=True).stdout)
    assert len(final) == 2


def test_a_killed_run_leaves_the_lock_free(tmp_path):
    from hts.store.lock import StoreBusy, campaign_lock
    from hts.store.store import open_store

    code = ("import sys, time; from hts.store.store import open_store; from hts.store.lock import campaign_lock\n"
            "s = open_store(sys.argv[1]).connect()\n"
            "with campaign_lock(s, 'c'):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "st")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    store = open_store(tmp_path / "st").connect()
    try:
        try:
            with campaign_lock(store, "c"):
                raise AssertionError("the lock was taken twice")
        except StoreBusy as exc:
            assert f"pid {holder.pid}" in str(exc)
        with campaign_lock(store, "other"):  # another campaign on the same store is not blocked
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        with campaign_lock(store, "c"):  # free again after kill -9
            pass
    finally:
        store.close()


def test_mongodb_lock_is_taken_over_after_its_holder_stops_renewing(mongo_uri):
    import uuid

    import pymongo

    from hts.store.lock import StoreBusy, _mongo_lock

    coll = pymongo.MongoClient(mongo_uri)[f"lock_{uuid.uuid4().hex[:6]}"]["hts_locks"]
    with _mongo_lock(coll, "c", ttl_s=30):
        try:
            with _mongo_lock(coll, "c", ttl_s=30):
                raise AssertionError("the lock was taken twice")
        except StoreBusy as exc:
            assert "already running" in str(exc)
    assert coll.count_documents({}) == 0  # released on exit
    import datetime as dt

    coll.insert_one({"_id": "c", "pid": -1, "host": "dead", "expires": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
    with _mongo_lock(coll, "c", ttl_s=30):  # a holder that stopped renewing is taken over
        assert coll.find_one({"_id": "c"})["pid"] == os.getpid()
