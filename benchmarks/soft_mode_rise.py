"""Energy rise along the frozen-phonon labels' modes: a fine-tuned potential against pw.x.

Every soft-mode label (``hts label --soft-modes``; ``origin.source`` "soft_mode") is one supercell displaced along a
mode by an amplitude. Two labels of the same mode (prototype, substitution, pressure, q, band, supercell, strain, and
the model that found the mode) at amplitudes 0.1 and 0.2 A give the energy rise per atom between them; pw.x's rise
is positive where the mode is stable in DFT. A model that is too soft along the mode rises less, or falls. The
per-element offsets cancel (same cell, same atoms), so the rise is the model's own.

    python benchmarks/soft_mode_rise.py --model build/potential/7net-model [--labels FILE ...]

Last line: ``model=NAME modes=N sign_agrees=K median_rise_ratio=R`` (R: the model's rise over pw.x's, median over
the modes pw.x calls stable).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from potential_fidelity import load_tuned  # noqa: E402

LOW_A, HIGH_A = 0.1, 0.2


def mode_key(label: dict) -> tuple:
    """What identifies one frozen mode across its amplitudes."""
    o = label["origin"]
    return (o.get("prototype"), tuple(sorted((o.get("map") or {}).items())), float(o.get("pressure_GPa") or 0.0),
            tuple(o.get("q") or ()), o.get("band"), tuple(o.get("supercell") or ()), o.get("volume_strain"),
            o.get("model"))


def mode_pairs(labels: list[dict]) -> list[tuple[dict, dict]]:
    """(amplitude 0.1 A label, amplitude 0.2 A label) of every mode that has both, unrattled."""
    by_key: dict[tuple, dict[float, dict]] = {}
    for r in labels:
        o = r.get("origin") or {}
        if o.get("source") != "soft_mode" or o.get("rattle_A") or r.get("status", "ok") != "ok":
            continue
        by_key.setdefault(mode_key(r), {})[round(float(o["amplitude_A"]), 3)] = r
    return [(v[LOW_A], v[HIGH_A]) for v in by_key.values() if LOW_A in v and HIGH_A in v]


def rise_meV(low_e_eV: float, high_e_eV: float, n_atoms: int) -> float:
    """Energy rise per atom from the low to the high amplitude, meV."""
    return 1000.0 * (high_e_eV - low_e_eV) / n_atoms


def summary(rises: list[tuple[float, float]]) -> tuple[int, int, float]:
    """(modes, modes whose model rise has pw.x's sign, median of model over pw.x rise where pw.x rises)."""
    agree = sum(int(np.sign(d) == np.sign(m)) for d, m in rises)
    ratios = [m / d for d, m in rises if d > 0]
    return len(rises), agree, float(np.median(ratios)) if ratios else float("nan")


def main() -> None:
    from hts.potential.finetune import read_label_files

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="fine-tuned model directory (hts finetune --out)")
    ap.add_argument("--labels", nargs="+", default=None,
                    help="label files (default: data/potential/labels-soft-modes*.jsonl)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    model, meta, run = load_tuned(Path(args.model))
    files = args.labels or sorted((ROOT / "data" / "potential").glob("labels-soft-modes*.jsonl"))
    covered, trained = set(meta["elements"]), set(meta["train_ids"])
    labels = [r for r in read_label_files(files, (meta.get("settings") or {}).get("family"))
              if set(r["species"]) <= covered]
    pairs = mode_pairs(labels)
    if not pairs:
        raise SystemExit("no soft-mode label pair (amplitudes 0.1 and 0.2 A) for the model's elements")
    preds = run(model, [r for pair in pairs for r in pair])
    print(f"{'formula':10s} {'prototype':18s} {'GPa':>5s} {'q':16s} {'trained':>7s} {'pw.x meV/atom':>13s} {'model':>8s}")
    rises = []  # (pw.x rise, model rise, trained on both amplitudes)
    for i, (lo, hi) in enumerate(pairs):
        o = lo["origin"]
        dft = rise_meV(lo["energy_eV"], hi["energy_eV"], lo["n_atoms"])
        mlip = rise_meV(preds[2 * i]["e_eV"], preds[2 * i + 1]["e_eV"], lo["n_atoms"])
        rises.append((dft, mlip, lo["id"] in trained and hi["id"] in trained))
        print(f"{lo['formula']:10s} {str(o.get('prototype')):18s} {o.get('pressure_GPa'):5.0f} "
              f"{str(o.get('q')):16s} {'yes' if rises[-1][2] else 'no':>7s} {dft:+13.1f} {mlip:+8.1f}")
    n, agree, ratio = summary([(d, m) for d, m, t in rises if not t])
    print(f"modes not trained on: {n}, pw.x's sign {agree}, median rise ratio {ratio:.2f}")
    n, agree, ratio = summary([(d, m) for d, m, _ in rises])
    print(f"model={args.model} modes={n} sign_agrees={agree} median_rise_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
