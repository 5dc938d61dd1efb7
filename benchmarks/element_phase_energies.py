"""Signed energy errors of a fine-tuned potential on the element-phase labels, by phase and pressure.

A hull reference is an element's lowest-enthalpy phase, so what matters is not a model's energy error on each phase
but the difference between its phases' errors: a model whose molecular hydrogen sits 100 meV/atom above pw.x and
whose atomic hydrogen sits 70 below puts the atomic phase lowest at pressures where pw.x has it 100 meV/atom higher.
The per-element offsets cancel within one element, so this is the model's own error. Every single-element label of
``--labels`` (default: every ``data/potential/labels*.jsonl``) made from an element's trial phase, strained and rattled
(``origin.source`` "element"; not the frozen phonons) within the model's training pressure range (not the wall
cells) is predicted; its mean signed error, model minus pw.x (meV/atom), is printed per (element,
phase, nominal pressure), with the spread over the phases at each pressure (the largest mean minus the smallest).
One JSON line per run is appended to docs/data/element_phase_energies.jsonl.

    python benchmarks/element_phase_energies.py --model build/potential/7net-model [--elements H Ca] [--trained-only]

Last line: ``model=NAME largest_phase_spread_meV=X element=E pressure_GPa=P``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "data" / "element_phase_energies.jsonl"
sys.path.insert(0, str(ROOT / "benchmarks"))
from potential_fidelity import energy_error_per_atom, load_tuned  # noqa: E402


def phase_errors(labels: list[dict], preds: list[dict], offsets: dict[str, float]) -> dict[tuple, list[float]]:
    """{(element, phase, nominal pressure GPa): [signed energy error per atom, meV]} of single-element labels."""
    out = defaultdict(list)
    for r, p in zip(labels, preds):
        o = r.get("origin") or {}
        out[(r["species"][0], o.get("phase"), float(o.get("pressure_GPa") or 0.0))].append(
            1000.0 * energy_error_per_atom(r, p, offsets))
    return out


def main() -> None:
    from hts.potential.finetune import read_label_files
    from hts.potential.wall import within_pressure

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="fine-tuned model directory (hts finetune --out)")
    ap.add_argument("--labels", nargs="+", default=None, help="label files (default: data/potential/labels*.jsonl)")
    ap.add_argument("--elements", nargs="+", default=None, help="only these elements")
    ap.add_argument("--trained-only", action="store_true", help="only the labels the model trained on")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    model, meta, run = load_tuned(Path(args.model))
    settings = meta.get("settings") or {}
    files = args.labels or sorted((ROOT / "data" / "potential").glob("labels*.jsonl"))
    covered, trained = set(meta["elements"]), set(meta["train_ids"])
    p_max = settings.get("max_pressure_GPa") or float("inf")  # not the compressed wall cells
    labels = [r for r in within_pressure(read_label_files(files, settings.get("family")), p_max)
              if len(set(r["species"])) == 1 and set(r["species"]) <= covered
              and (r.get("origin") or {}).get("source") == "element"
              and (args.elements is None or r["species"][0] in args.elements)
              and (not args.trained_only or r["id"] in trained)]
    if not labels:
        raise SystemExit("no element-phase label for the model's elements in the label files")
    errs = phase_errors(labels, run(model, labels), meta["offsets_eV_per_atom"])
    spreads, rows = [], []  # (spread meV/atom, element, pressure) of each pressure with two phases or more
    print(f"{'element':7s} {'phase':26s} {'GPa':>5s} {'labels':>6s} {'mean dE meV/atom':>17s} {'std':>6s}")
    ordered = sorted(errs, key=lambda k: (k[0], k[2], str(k[1])))  # by element, pressure, phase
    for (el, p), keys in itertools.groupby(ordered, key=lambda k: (k[0], k[2])):
        means = []
        for _, phase, _ in keys:
            v = np.asarray(errs[(el, phase, p)])
            means.append(float(v.mean()))
            rows.append({"element": el, "phase": phase, "pressure_GPa": p, "n": len(v), "mean_dE_meV": round(means[-1], 1)})
            print(f"{el:7s} {str(phase):26s} {p:5.0f} {len(v):6d} {v.mean():+17.1f} {v.std():6.1f}")
        if len(means) > 1:
            spreads.append((max(means) - min(means), el, p))
            print(f"{el:7s} {'  spread over phases':26s} {p:5.0f} {'':6s} {spreads[-1][0]:17.1f}")
    worst = max(spreads, default=(float("nan"), "-", float("nan")))
    with OUT.open("a") as f:
        f.write(json.dumps({"model": args.model, "training_hash": meta["training_hash"], "trained_only": args.trained_only,
                            "n_labels": len(labels), "phases": rows}) + "\n")
    print(f"model={args.model} largest_phase_spread_meV={worst[0]:.1f} element={worst[1]} pressure_GPa={worst[2]:.0f}")


if __name__ == "__main__":
    main()
