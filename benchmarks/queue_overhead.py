"""Queue overhead: the same MLIP campaign run locally and as a FireWorks workflow.

Both runs use one configuration (N random Mg-H cells of <= 4 atoms at 100 GPa plus references, CHGNet,
fmax 0.1 eV/A, 30 steps, phonons off) on their own embedded store. The FireWorks run converts the
campaign Flow with flow_to_workflow (hts submit), adds it to an in-process LaunchPad on mongomock and
runs every Firework with rapidfire in this process, so the ratio holds the cost of FireWorks/jobflow
bookkeeping, job outputs in the JobStore, and the per-job model loading that batching pays for.

Last line: `queue_overhead_ratio=R` (FireWorks wall time / local wall time; target <= 1.15).
Usage: python benchmarks/queue_overhead.py [--n 200] [--batch-size 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def config(n: int, workers: int, store: Path):
    from hts.config import CampaignConfig

    return CampaignConfig.model_validate({
        "name": "overhead-MgH", "systems": ["Mg-H"], "pressures_GPa": [100],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": n, "stoichiometries": ["MgH2", "MgH4"], "max_atoms": 5, "seed": 5}},
        "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 30, "workers": workers, "torch_threads": 1},
        "references": {"element_phases": 1}, "phonons": {"enabled": False},
        "store": {"path": str(store)}})


def run_local(cfg) -> tuple[float, dict]:
    from hts.campaign import Campaign
    from hts.store.store import open_store

    store = open_store(cfg.store.path).connect()
    t = time.perf_counter()
    Campaign(cfg, store).run()
    wall = time.perf_counter() - t
    counts = store.status_counts(cfg.name)
    store.close()
    return wall, counts


def run_fireworks(cfg, batch_size: int, tmp: Path) -> tuple[float, dict]:
    (tmp / "lp.json").write_text("{}")
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(tmp / "lp.json")  # read by fireworks at import
    from fireworks import FWorker, LaunchPad
    from fireworks.core.rocket_launcher import rapidfire

    from hts.cluster.fireworks import submit
    from hts.store.store import open_store

    lp = LaunchPad(name="hts_overhead")
    lp.reset("", require_password=False)
    cwd = os.getcwd()
    os.chdir(tmp)
    t = time.perf_counter()
    submit(cfg, lp, batch_size)
    rapidfire(lp, FWorker(), strm_lvl="CRITICAL")
    wall = time.perf_counter() - t
    os.chdir(cwd)
    states = {}
    for f in lp.fireworks.find({}, {"state": 1}):
        states[f["state"]] = states.get(f["state"], 0) + 1
    store = open_store(cfg.store.path).connect()
    counts = store.status_counts(cfg.name)
    store.close()
    return wall, {"fireworks": states, "candidates": counts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hts_overhead_"))
    local_wall, local_counts = run_local(config(args.n, args.workers, tmp / "local_store"))
    print(f"local:     {local_wall:8.1f} s  {local_counts}", flush=True)
    fw_wall, fw_counts = run_fireworks(config(args.n, args.workers, tmp / "fw_store"), args.batch_size, tmp)
    print(f"fireworks: {fw_wall:8.1f} s  {fw_counts}", flush=True)
    print(f"queue_overhead_ratio={fw_wall / local_wall:.3f}")


if __name__ == "__main__":
    main()
