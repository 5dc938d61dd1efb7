"""Random structure search alone (substitution off) for H3S, CaH6, YH6 and LaH10 at 200 GPa: does it find the
known phases (Im-3m H3S/CaH6/YH6, Fm-3m LaH10) unaided, and how many cells does it take?

Runs hts's own generate and relax stages (random cells with 1-2 formula units in the primitive cell, the
random-search shortcuts on) with the configs' default potential on a persistent store, so a killed run
resumes where it stopped (``--store``). Every finished cell is also exported to
``docs/data/random_search_cells.jsonl`` (after each relaxation batch), which the repository keeps: a run on another
machine imports it first and goes on from there. Per formula it prints the cells to the first match of the known
phase (StructureMatcher in generation order, default tolerances: a strained or slightly distorted variant counts, so
the hit's own space group and enthalpy are printed beside it, and the first match that keeps the known space group),
the enthalpy of the best cell against the known phase relaxed the same way, the abandoned and duplicate shares and
CPU time per cell. Each potential has a campaign,
a cells file and a report of its own (``random-search``, ``random_search_cells.jsonl`` and ``random_search.json``
for stock CHGNet; a fine-tuned model's carry its weights' md5), so cells relaxed with different potentials never mix.
A formula whose known phase the potential cannot relax (it collapses: volume below ``--collapse`` of the
starting estimate) is reported as such. Last line exactly ``formulas_found=K/4 median_cells_to_hit=X``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

TARGETS = {"H3S": ("H-S", "H3S_Im-3m"), "CaH6": ("Ca-H", "CaH6_Im-3m"), "YH6": ("H-Y", "YH6_Im-3m"),
           "LaH10": ("H-La", "LaH10_Fm-3m")}


def default_model() -> str:
    from hts.config import load_config

    return load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml").relax.model


def run_tag(model: str, cap: int) -> str:
    """The potential ('' for stock CHGNet, else the model name or a fine-tuned model's weights md5) and the space-group
    weight cap ('' for 32, the first runs' sampler, else -capN): the first runs keep their names."""
    from hts.relax.mlip import weights_md5

    pot = "" if model == "chgnet" else "-" + (weights_md5(model) or Path(model).name)
    return pot + ("" if cap == 32 else f"-cap{cap}")


def campaign_name(model: str, cap: int) -> str:
    return "random-search" + run_tag(model, cap)


def config(formulas: list[str], n: int, pressure: float, store: Path, model: str, cap: int, workers: int = 1):
    from hts.config import CampaignConfig

    return CampaignConfig.model_validate({
        "name": campaign_name(model, cap), "systems": [TARGETS[f][0] for f in formulas],
        "pressures_GPa": [pressure],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": n, "stoichiometries": formulas, "formula_units": [1, 2],
                                  "max_atoms": 22, "seed": 2026,
                                  "group_weight_cap": cap}},
        "references": {"elements": False, "sub_binaries": False},
        "relax": {"model": model, "fmax_eV_A": 0.05, "max_steps": 300, "workers": workers,
                  "torch_threads": 1 if workers > 1 else None},
        "phonons": {"enabled": False}, "store": {"path": str(store)}})


def known_start(formula: str, pressure: float):
    """The known phase's primitive cell at hts's a-priori volume for ``pressure``, before any relaxation."""
    from hts.generate.prototypes import prototype_structure
    from hts.generate.volume import target_volume

    s = prototype_structure(TARGETS[formula][1]).get_primitive_structure()
    s.scale_lattice(target_volume(s.composition, pressure))
    return s


def known_phase(formula: str, pressure: float, model: str):
    """The known phase relaxed with the same potential: (its RelaxResult, the starting volume in A^3)."""
    from hts.relax.relaxer import MLIPRelaxMaker

    s = known_start(formula, pressure)
    r = MLIPRelaxMaker(model=model, fmax=0.05, max_steps=300).relax(s, pressure)
    return r, s.volume


DATA = Path(__file__).resolve().parents[1] / "docs" / "data"


def cells_file(model: str, cap: int) -> Path:
    return DATA / f"random_search_cells{run_tag(model, cap)}.jsonl"


def import_cells(store, cells: Path) -> int:
    """Finished cells of an earlier run (the repository's file) that the store lacks."""
    if not cells.exists():
        return 0
    rows = [json.loads(x) for x in cells.read_text().splitlines() if x.strip()]
    have = {d["id"] for d in store.find({"id": {"$in": [r["id"] for r in rows]}, "status": {"$ne": "generated"}},
                                        properties=["id"])}
    new = [r for r in rows if r["id"] not in have]
    store.upsert(new, stamp=False)
    return len(new)


def export_cells(store, campaign: str, cells: Path) -> int:
    docs = sorted(store.find({"campaign": campaign, "status": {"$ne": "generated"}}), key=lambda d: d["id"])
    tmp = cells.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in docs))
    tmp.replace(cells)
    return len(docs)


def first_hits(done: list[dict], known) -> tuple[int | None, int | None]:
    """1-based positions (generation order) of the first finished cell that matches the known phase, and of the first
    that matches it in the known phase's own space group (spglib, symprec 0.1); None where there is none.
    StructureMatcher's default tolerances (ltol 0.2, stol 0.3, angle 5 degrees, volumes scaled) accept a strained or
    slightly displaced variant of the known phase, hence the second."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    sm = StructureMatcher(scale=True, attempt_supercell=True)
    want = space_group(known)
    first = None
    for i, d in enumerate(done, 1):
        if not d.get("structure"):
            continue
        s = Structure.from_dict(d["structure"])
        if sm.fit(s, known):
            first = first or i
            if space_group(s) == want:
                return first, i
    return first, None


def space_group(s) -> int:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number()


def finished(store, campaign: str, formula: str) -> tuple[list[dict], list[dict]]:
    """The finished cells of a formula in generation order, and all its cells."""
    docs = sorted(store.find({"campaign": campaign, "system": TARGETS[formula][0], "formula": formula}),
                  key=lambda d: d["origin"].get("draw", 0))
    return [d for d in docs if d["status"] != "generated"], docs


def report(store, formulas: list[str], pressure: float, model: str, cap: int, collapse: float) -> list[dict]:
    from pymatgen.core import Structure

    rows = []
    for f in formulas:
        done, docs = finished(store, campaign_name(model, cap), f)
        ref, v_start = known_phase(f, pressure, model)
        ok_ref = ref.ok or ref.structure is not None
        collapsed = (not ok_ref) or ref.volume_A3 < collapse * v_start
        hit, symmetric_hit = first_hits(done, ref.structure) if ok_ref else (None, None)
        hit_doc = done[hit - 1] if hit else None
        relaxed = [d for d in done if d.get("enthalpy_eV_per_atom") is not None]
        best = min((d["enthalpy_eV_per_atom"] for d in relaxed), default=None)
        cpu = [d.get("cpu_seconds", {}).get("relax", 0.0) for d in done]
        rows.append({
            "formula": f, "cells": len(done), "of": len(docs), "cells_to_hit": hit,
            "hit_space_group": space_group(Structure.from_dict(hit_doc["structure"])) if hit_doc else None,
            "hit_minus_known_meV_per_atom": round(1000 * (hit_doc["enthalpy_eV_per_atom"] - ref.enthalpy_per_atom), 1)
            if hit_doc else None,
            "cells_to_symmetric_hit": symmetric_hit,
            "potential_collapses_known_phase": bool(collapsed),
            "known_volume_ratio": None if ref.volume_A3 is None else round(ref.volume_A3 / v_start, 3),
            "best_minus_known_meV_per_atom": None if best is None or not ok_ref
            else round(1000 * (best - ref.enthalpy_per_atom), 1),
            "abandoned_share": round(sum((d.get("relax") or {}).get("failure_type") == "abandoned" for d in done)
                                     / max(len(done), 1), 3),
            "duplicate_share": round(sum(d["status"] == "duplicate" for d in done) / max(len(done), 1), 3),
            "cpu_s_per_cell": round(statistics.mean(cpu), 2) if cpu else None})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--formulas", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--cells", type=int, default=120, help="random cells per formula")
    ap.add_argument("--pressure", type=float, default=200.0)
    ap.add_argument("--store", default="/tmp/hts_random_search", help="persistent store: a rerun resumes")
    ap.add_argument("--model", default=None, help="default: the configs' relax.model")
    ap.add_argument("--collapse", type=float, default=0.6)
    ap.add_argument("--weight-cap", type=int, default=None,
                    help="space-group weight cap (generators.random.group_weight_cap; default: the config's default)")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--batch", type=int, default=5, help="cells relaxed between two exports")
    ap.add_argument("--workers", type=int, default=1,
                    help="relaxation processes of one torch thread each (2 on 2 cores: about 1.4x the cells per hour)")
    ap.add_argument("--until-hit", action="store_true",
                    help="stop a formula at the batch that matches its known phase (the rest stay generated)")
    ap.add_argument("--out", help="report JSON (default: docs/data/random_search[-TAG].json)")
    args = ap.parse_args()
    from hts.campaign import Campaign
    from hts.config_generators import RandomSettings
    from hts.store.store import open_store

    model = args.model or default_model()
    cap = args.weight_cap or RandomSettings().group_weight_cap

    cfg = config(args.formulas, args.cells, args.pressure, Path(args.store), model, cap, args.workers)
    with open_store(args.store) as store:
        camp = Campaign(cfg, store)
        camp.run_stage("generate")  # a fresh store (another machine) reports from the repository's cells too
        cells = cells_file(model, cap)
        print(f"imported {import_cells(store, cells)} finished cells from {cells.name}", flush=True)
        if not args.report_only:
            for f in args.formulas:  # formula by formula, so a partial run finishes whole formulas first
                ids = [d["id"] for d in store.find({"campaign": cfg.name, "formula": f, "status": "generated"},
                                                   properties=["id"])]
                known = known_phase(f, args.pressure, model)[0] if args.until_hit else None
                for i in range(0, len(ids), args.batch):
                    done = finished(store, cfg.name, f)[0]
                    if known is not None and known.structure is not None and first_hits(done, known.structure)[0]:
                        print(f"{f}: known phase found; the remaining cells stay generated", flush=True)
                        break
                    camp.run_stage("relax", ids[i:i + args.batch])
                    export_cells(store, cfg.name, cells)
        rows = report(store, args.formulas, args.pressure, model, cap, args.collapse)
    for r in rows:
        print(json.dumps(r))
    out = Path(args.out) if args.out else DATA / f"random_search{run_tag(model, cap)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": model, "group_weight_cap": cap, "pressure_GPa": args.pressure, "rows": rows},
                              indent=1) + "\n")
    strict = [r["formula"] for r in rows if r["cells_to_symmetric_hit"]]
    print(f"matches in the known space group itself (symprec 0.1): {len(strict)}/{len(rows)} {' '.join(strict)}")
    hits = [r["cells_to_hit"] for r in rows if r["cells_to_hit"]]
    print(f"formulas_found={len(hits)}/{len(rows)} median_cells_to_hit={statistics.median(hits) if hits else 'nan'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
