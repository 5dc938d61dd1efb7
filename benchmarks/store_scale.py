"""The candidate store at high-throughput scale, side by side in one run.

1. Fills a fresh embedded store (SQLite, hts's default) with ``--docs`` candidate documents of realistic size
   (two 7-atom structures, relax/phonon/hull blocks, attempts; a relaxation trajectory per candidate in the data
   collection) over 10 campaigns, then times: a bulk upsert of 1,000 new and of 1,000 existing documents, get by
   id, the filtered ``hts query`` (campaign + status + pressure + e_above_hull), counts per status, and
   ``hts dataset export`` of a 1,000-candidate campaign inside the full store.
2. Does the same with the montydb store of earlier hts versions, filling it until ``--monty-budget-s`` runs out,
   and times the same operations on the SQLite store at that same size (ratios at equal size).
3. ``--campaign N``: a campaign of N generated candidates run with a stand-in relaxer that costs nothing (this
   benchmark's test double; the random cells are perturbed copies of one MgH2 cell, since pyxtal's draws are
   not the engine's bookkeeping), to show the engine's own overhead per candidate (store reads, validation,
   writes, orchestration), and the share of a real CHGNet relaxation of the same cells that it represents.

Last line exactly ``docs=N query_s=X get_ms=Y upsert_1000_s=Z`` for the full SQLite store.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def template() -> tuple[dict, dict]:
    """One candidate document as a campaign writes it, and its relaxation trajectory."""
    from pymatgen.core import Lattice, Structure

    rng = np.random.default_rng(0)
    s = Structure(Lattice.from_parameters(3.1, 3.2, 5.3, 88, 91, 119), ["Mg", "Al", "H", "H", "H", "H", "H"],
                  rng.random((7, 3)))
    r = s.copy()
    r.perturb(0.05)
    doc = {
        "id": "", "campaign": "", "role": "candidate", "chemsys": "Al-H-Mg", "system": "Al-H-Mg", "formula": "MgAlH5",
        "nelements": 3, "pressure_GPa": 150.0, "status": "off_hull", "stage": "hull",
        "reason": "87.3 meV/atom above the 150 GPa hull (threshold 50); decomposes to 0.43 MgH2 + 0.57 AlH3",
        "origin": {"generator": "random", "stoichiometry": "MgAlH5", "formula_units": 1, "space_group": 12,
                   "seed": 123456789, "volume_factor": 1.0, "system": "Al-H-Mg"},
        "structure_initial": s.as_dict(), "structure": r.as_dict(),
        "engine": {"name": "mlip", "model": "chgnet", "version": "0.3.0"},
        "energy_eV_per_atom": -3.1234, "enthalpy_eV_per_atom": -1.2345, "volume_A3_per_atom": 4.567,
        "relax": {"n_steps": 37, "converged": True, "wall_s": 12.3, "failure_type": None},
        "e_above_hull_meV": 87.3, "dedup": {"checked": True},
        "hull": {"e_above_hull_meV": 87.3, "decomposition": {"MgH2": 0.43, "AlH3": 0.57}, "threshold_meV": 50.0},
        "phonon": {"classification": "unstable", "min_frequency_THz": -3.2, "min_q": [0.5, 0.0, 0.0],
                   "max_frequency_THz": 61.0, "supercell": [2, 2, 1], "n_displacements": 12, "mesh": [8, 8, 8],
                   "reason": "imaginary mode -3.2 THz at q=(0.5,0,0)", "h_mean_frequency_THz": 41.2,
                   "cpu_s": 31.0, "wall_s": 31.5},
        "warnings": ["MLIP phonons unstable (min -3.2 THz at q=(0.5,0,0)); filter off"],
        "cpu_seconds": {"relax": 11.8, "hull": 0.0021, "phonons": 31.0},
        "attempts": [{"stage": "relax", "ok": True, "reason": None}, {"stage": "phonons", "ok": True, "reason": None}],
    }
    traj = {"energies_eV": rng.normal(size=38).round(6).tolist(), "fmax_eV_A": rng.random(38).round(5).tolist(),
            "volumes_A3": rng.random(38).round(4).tolist(), "cells": rng.random((38, 9)).round(5).tolist()}
    return doc, traj


STATUSES = ["off_hull", "duplicate", "failed", "tc_pending", "relaxed", "dyn_unstable", "tc_done"]


def make_docs(start: int, n: int, base: dict) -> list[dict]:
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, start + n):
        d = copy.deepcopy(base)
        d["id"] = f"hts-{i:012x}"
        d["campaign"] = "small" if i < 1000 else f"bench-{i % 10}"
        d["status"] = STATUSES[int(rng.integers(len(STATUSES)))]
        d["pressure_GPa"] = float(rng.choice([100.0, 150.0, 200.0, 250.0]))
        d["e_above_hull_meV"] = round(float(rng.exponential(80.0)), 3)
        out.append(d)
    return out


def timed(fn, repeat: int = 1) -> float:
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def measure(store, n: int, base: dict, traj: dict, export: bool = True, batch: int = 1000) -> dict:
    """The timed operations on a store that holds ``n`` documents (ids 0..n-1). Upserts of ``batch`` documents,
    reported per 1,000 (montydb is timed on 100 and scaled: 1,000 would take many minutes)."""
    from hts.learn.dataset import store_table

    new = make_docs(n, batch, base)
    old = make_docs(max(0, n - batch), min(batch, n), base)
    res = {"docs": n}
    res["upsert_1000_new_s"] = timed(lambda: store.upsert(new)) * 1000 / batch
    res["arrays_1000_new_s"] = timed(lambda: store.put_data_many([(d["id"], "relax_trajectory", traj)
                                                                  for d in new])) * 1000 / batch
    res["upsert_1000_existing_s"] = timed(lambda: store.upsert(old)) * 1000 / len(old)
    ids = [f"hts-{i:012x}" for i in np.random.default_rng(1).integers(0, n, 50)]
    res["get_ms"] = 1000 * timed(lambda: [store.get(i) for i in ids]) / len(ids)
    camp = "bench-3" if n > 2000 else "small"
    crit = {"role": "candidate", "campaign": camp, "status": {"$in": ["tc_pending", "relaxed"]}, "pressure_GPa": 150.0,
            "e_above_hull_meV": {"$lte": 50.0}}
    res["query_s"] = timed(lambda: store.find(crit, sort={"pressure_GPa": 1, "formula": 1}), 3)
    res["query_hits"] = len(store.find(crit))
    res["counts_s"] = timed(lambda: store.status_counts(camp))
    if export:
        res["export_1000_s"] = timed(lambda: store_table(store, "small"))
    return res


def fill(store, n: int, base: dict, traj: dict, budget_s: float | None = None, batch: int = 1000) -> int:
    t0, done = time.perf_counter(), 0
    while done < n and (budget_s is None or time.perf_counter() - t0 < budget_s):
        k = min(batch, n - done)
        docs = make_docs(done, k, base)
        store.upsert(docs)
        store.put_data_many([(d["id"], "relax_trajectory", traj) for d in docs])
        done += k
    return done


def campaign_overhead(n: int, workdir: Path, real_sample: int) -> dict:
    """hts's own cost per candidate (stand-in relaxer), and a real CHGNet relaxation of a few of the same cells."""
    from hts.campaign import Campaign
    from hts.config import CampaignConfig
    from hts.relax.relaxer import MLIPRelaxMaker, RelaxResult
    from hts.store.store import open_store

    cfg = CampaignConfig.model_validate({
        "name": "overhead", "systems": ["Mg-H"], "pressures_GPa": [100],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": n, "stoichiometries": ["MgH2", "MgH4", "Mg2H6"], "max_atoms": 8,
                                  "seed": 3}},
        "relax": {"model": "chgnet", "fmax_eV_A": 0.05, "max_steps": 200}, "references": {"element_phases": 1},
        "phonons": {"enabled": False}, "store": {"path": str(workdir / "camp")}})

    class StandIn(MLIPRelaxMaker):  # the benchmark's test double: returns the input cell at once
        def relax(self, structure, pressure_GPa):
            n_at = len(structure)
            return RelaxResult(ok=True, structure=structure, energy_eV=-3.0 * n_at, enthalpy_eV=-1.0 * n_at,
                               volume_A3=structure.volume, n_atoms=n_at, n_steps=0, converged=True, cpu_s=0.0,
                               wall_s=0.0, trajectory={"energies_eV": [-3.0]})

    from hts.relax.mlip import get_calculator

    get_calculator("chgnet", "cpu")  # the model load happens once per worker; not the engine's per-candidate cost
    import hts.stages.generate as generate_stage
    import hts.stages.relax as relax_stage
    from hts.generate.candidate import GeneratedStructure

    def cheap_cells(system, stoich, n, pressure, seed=0, *a, **k):  # pyxtal + distinctness checks are not the
        from pymatgen.core import Lattice, Structure  # engine's bookkeeping: perturbed copies of one cell instead

        base = Structure(Lattice.cubic(3.0), ["Mg", "H", "H"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5]])
        out = []
        for i in range(n):
            s = base.copy()
            s.perturb(0.05 + 0.001 * (i % 50))
            out.append(GeneratedStructure(s, {"generator": "random", "system": system, "seed": seed + i, "draw": i}))
        return out

    real_cells = generate_stage.random_candidates
    generate_stage.random_candidates = cheap_cells
    real_maker = relax_stage.relax_maker
    relax_stage.relax_maker = lambda c: StandIn(**{f: getattr(m, f) for m in [real_maker(c)] for f in m.__dataclass_fields__})
    store = open_store(cfg.store.path).connect()
    camp = Campaign(cfg, store)
    stages = {}
    t0 = time.perf_counter()
    for name in ("generate", "relax", "dedup", "hull", "phonons"):
        t = time.perf_counter()
        camp.run_stage(name)
        stages[name] = time.perf_counter() - t
    total = time.perf_counter() - t0
    ncand = store.count({"campaign": "overhead", "role": "candidate"})
    cells = [d["structure_initial"] for d in store.find({"campaign": "overhead", "role": "candidate"})[:real_sample]]
    store.close()
    relax_stage.relax_maker = real_maker
    generate_stage.random_candidates = real_cells
    from pymatgen.core import Structure

    real = MLIPRelaxMaker(model="chgnet", fmax=0.05, max_steps=200, optimizer="BFGS", keep_symmetry=True)
    real.relax(Structure.from_dict(cells[0]), 100.0)  # model load, not counted
    t = time.perf_counter()
    for c in cells:
        real.relax(Structure.from_dict(c), 100.0)
    per_real = (time.perf_counter() - t) / len(cells)
    # the engine's own part: everything but generation (pyxtal) and the dedup/hull physics themselves
    own = stages["relax"] + stages["phonons"]
    return {"candidates": ncand, "stages_s": {k: round(v, 2) for k, v in stages.items()}, "total_s": round(total, 1),
            "engine_relax_bookkeeping_ms_per_candidate": round(1000 * own / ncand, 3),
            "all_stages_but_generate_ms_per_candidate": round(1000 * (total - stages["generate"]) / ncand, 3),
            "chgnet_relax_s_per_candidate": round(per_real, 2),
            "share_of_chgnet_pct": round(100 * (total - stages["generate"]) / ncand / per_real, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--monty-budget-s", type=float, default=120)
    ap.add_argument("--campaign", type=int, default=10_000, help="candidates of the stand-in-relaxer campaign (0: skip)")
    ap.add_argument("--real-sample", type=int, default=5)
    args = ap.parse_args()
    from maggma.stores import MontyStore

    from hts.store.store import CandidateStore, open_store

    base, traj = template()
    print(f"document {len(json.dumps(base)) / 1024:.1f} KB, trajectory {len(json.dumps(traj)) / 1024:.1f} KB")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # montydb (hts before the SQLite default) as far as the budget goes
        kw = {"database_path": str(tmp / "monty"), "database_name": "hts", "storage": "sqlite"}
        monty = CandidateStore(MontyStore("candidates", key="id", **kw), MontyStore("candidate_data", key="key", **kw),
                               "montydb").connect()
        t = time.perf_counter()
        m_n = fill(monty, args.docs, base, traj, budget_s=args.monty_budget_s, batch=50)
        print(f"montydb: filled {m_n} documents in {time.perf_counter() - t:.0f} s (budget {args.monty_budget_s:g} s)")
        m = measure(monty, m_n, base, traj, export=m_n >= 1000, batch=100)
        monty.close()
        small = open_store(tmp / "sqlite_small").connect()
        fill(small, m_n, base, traj)
        s_small = measure(small, m_n, base, traj, export=m_n >= 1000, batch=100)
        small.close()
        print(f"at {m_n} documents (upserts: 100 timed, per 1,000)   montydb      sqlite     ratio")
        for k in ("upsert_1000_new_s", "arrays_1000_new_s", "upsert_1000_existing_s", "get_ms", "query_s", "counts_s",
                  "export_1000_s"):
            if k in m:
                print(f"  {k:24s} {m[k]:10.4f} {s_small[k]:10.4f} {m[k] / max(s_small[k], 1e-9):9.1f}x")
        store = open_store(tmp / "sqlite").connect()
        t = time.perf_counter()
        fill(store, args.docs, base, traj)
        print(f"sqlite: filled {args.docs} documents in {time.perf_counter() - t:.0f} s")
        store.docs._collection.execute("ANALYZE")  # planner statistics (a store closed once has them: PRAGMA optimize)
        full = measure(store, args.docs, base, traj)
        store.close()
        size_mb = sum(p.stat().st_size for p in (tmp / "sqlite").rglob("*") if p.is_file()) / 2**20
        print(f"at {args.docs} documents (sqlite, {size_mb:.0f} MB on disk): " + json.dumps({k: round(v, 4) if isinstance(
            v, float) else v for k, v in full.items()}))
        if args.campaign:
            print("stand-in campaign: " + json.dumps(campaign_overhead(args.campaign, tmp, args.real_sample)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB (resident, this process)")
    print(f"docs={args.docs} query_s={full['query_s']:.3f} get_ms={full['get_ms']:.2f} "
          f"upsert_1000_s={full['upsert_1000_new_s']:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
