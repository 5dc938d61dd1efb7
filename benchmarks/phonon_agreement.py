"""Do training runs agree on which CompSC hydrides are phonon-stable?

Reads the JSON files of `mlip_fidelity.py --json` (one model each, the same sample) and compares the MLIP phonon
check's verdicts structure by structure on the structures every model relaxed: how many models call each one stable,
Cohen's kappa for each pair (0: no more agreement than two independent checks with the same stable fractions would
have by chance; 1: the same verdicts), how many are stable with every model and with at least one, and how many would
be stable with every model if the checks were independent. The structures no model calls stable are listed by id
(the label targets: a training round is judged by whether this list shrinks).
Last line: models=N structures=M stable_in_all=A expected_independent=E stable_in_any=B mean_kappa=K

Usage: python benchmarks/phonon_agreement.py docs/data/mlip_fidelity_s37_ctrl.json docs/data/mlip_fidelity_s38_X.json ...
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
from pymatgen.core import Composition


def verdicts(path: Path) -> tuple[str, dict[str, dict]]:
    """(model, {CompSC id: row}) of one mlip_fidelity JSON file holding exactly one model."""
    data = json.loads(path.read_text())
    if len(data) != 1:
        raise SystemExit(f"{path}: expected one model, found {len(data)}")
    (model, run), = data.items()
    return model, {r["id"]: r for r in run["rows"] if r.get("ok") and r.get("phonon") in ("stable", "unstable")}


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean verdict vectors."""
    observed = float(np.mean(a == b))
    chance = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return (observed - chance) / (1 - chance) if chance < 1 else 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    runs = [verdicts(f) for f in args.files]
    ids = sorted(set.intersection(*(set(rows) for _, rows in runs)), key=lambda i: int(i) if i.isdigit() else i)
    stable = np.array([[rows[i]["phonon"] == "stable" for i in ids] for _, rows in runs])  # models x structures
    for (model, _), f, s in zip(runs, args.files, stable):
        print(f"{s.sum():3d}/{len(ids)} stable  {model}  ({f.name})")
    n_stable = stable.sum(axis=0)
    print("models calling a structure stable:", dict(sorted(Counter(n_stable.tolist()).items())))
    formula = {i: runs[0][1][i]["formula"] for i in ids}
    by_family: dict[str, list[int]] = {}
    for i, k in zip(ids, n_stable):
        by_family.setdefault(Composition(formula[i]).chemical_system, []).append(int(k))
    for family, ks in sorted(by_family.items()):
        print(f"  {family:8s} {len(ks):2d} structures, stable with k of {len(runs)} models: {sorted(ks, reverse=True)}")
    never = [f"{i} {formula[i]} {runs[0][1][i]['pressure_GPa']:g} GPa" for i, k in zip(ids, n_stable) if k == 0]
    print(f"stable with no model ({len(never)}): " + "; ".join(never))
    kappas = [kappa(stable[a], stable[b]) for a, b in itertools.combinations(range(len(runs)), 2)]
    p = stable.mean(axis=1)
    expected_all = len(ids) * float(np.prod(p))
    print(f"pairwise kappa: min {min(kappas):.2f} median {np.median(kappas):.2f} max {max(kappas):.2f}")
    print(f"models={len(runs)} structures={len(ids)} stable_in_all={int((n_stable == len(runs)).sum())} "
          f"expected_independent={expected_all:.1f} stable_in_any={int((n_stable > 0).sum())} "
          f"mean_kappa={np.mean(kappas):.2f}")


if __name__ == "__main__":
    main()
