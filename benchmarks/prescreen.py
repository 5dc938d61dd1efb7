"""Prescreen throughput: hts vs a bare ASE loop vs atomate2 ForceFieldRelaxMaker jobs.

Relaxes the same N AIRSS-style hydride cells (pyxtal, seed 11, <= 32 atoms, 150 GPa, Niggli-reduced)
three ways with the same model, optimizer (BFGS), fmax and step budget, and prints throughput
ratios (structures per second, measured side by side in one run) and the optimizer steps each leg took:
- hts: MLIPRelaxMaker.relax_many, ``--workers`` processes with one torch thread each, the
  model loaded once per process, CHGNet through hts's one-backward-pass inference force path;
- bare: one ASE loop in one process (torch's default intra-op threads), model loaded once, the
  package's own calculator (stock ``CHGNetCalculator`` / ``SevenNetCalculator``), as a hand-written script has it;
- atomate2: one ForceFieldRelaxMaker job per structure under jobflow's run_locally.
Last line:
    hts_vs_bare=R1 hts_vs_atomate2=R2          (higher is better; targets R1 >= 0.9, R2 >= 3)

Usage: python benchmarks/prescreen.py [--n 100] [--model chgnet] [--steps 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")


def cells(n: int, pressure: float):
    from hts.generate.random_cells import random_candidates

    forms = {"H-La": "LaH6", "H-Y": "YH6", "Ca-H": "CaH6", "H-La-Y": "LaYH12", "H-S": "H3S", "H-Mg": "MgH6"}
    gens = [g for sys, f in forms.items()
            for g in random_candidates(sys, [f], -(-n // len(forms)), pressure, seed=11, formula_units=[1], max_atoms=32)][:n]
    # Niggli-reduced, as MLIPRelaxMaker.relax reduces every cell: all three legs start from the same cells and do
    # the same optimizer steps (printed per leg), so the ratios measure the engines, not the starting cells
    return [g.structure.get_reduced_structure() for g in gens]


def run_hts(structs, p, args):
    from hts.relax.relaxer import MLIPRelaxMaker

    m = MLIPRelaxMaker(model=args.model, fmax=args.fmax, max_steps=args.steps, keep_symmetry=False, optimizer=args.optimizer,
                       workers=args.workers, torch_threads=1 if args.workers > 1 else None)
    return sum(r.n_steps for r in m.relax_many(structs, p))


def stock_calculator(model: str):
    """The MLIP package's own ASE calculator, untouched by hts."""
    if model != "chgnet":
        from hts.relax.mlip import get_calculator

        return get_calculator(model)  # SevenNet: hts already uses the package's calculator as shipped
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(CHGNet.load(verbose=False))


def ase_loop(structs, calc, p: float, optimizer: str = "BFGS", fmax: float = 0.1, steps: int = 40) -> int:
    """Relax each cell in turn with ``calc`` under FrechetCellFilter at ``p`` GPa, as a hand-written script
    does; returns the optimizer steps in all. A cell whose relaxation raises is skipped (its steps so far are
    counted), as the atomate2 leg's ``ensure_success=False`` skips a failed job."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.units import GPA_TO_EV_PER_A3

    total = 0
    for s in structs:
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        opt = {"BFGS": BFGS, "FIRE": FIRE}[optimizer](FrechetCellFilter(atoms, scalar_pressure=p * GPA_TO_EV_PER_A3), logfile=None)
        try:
            opt.run(fmax=fmax, steps=steps)
        except Exception as exc:  # noqa: BLE001 - one bad cell must not end the benchmark
            print(f"ase_loop: {s.composition.reduced_formula} raised {type(exc).__name__}: {exc}; skipped", flush=True)
        total += opt.nsteps
    return total


def run_bare(structs, p, args):
    return ase_loop(structs, stock_calculator(args.model), p, args.optimizer, args.fmax, args.steps)


def run_atomate2(structs, p, args):
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker
    from jobflow import run_locally

    from hts.units import GPA_TO_EV_PER_A3

    name = {"chgnet": "CHGNet"}.get(args.model, "SevenNet")
    kwargs = {} if name == "CHGNet" else {"model": args.model}
    steps = 0
    with tempfile.TemporaryDirectory(prefix="hts_prescreen_atomate2_") as scratch:  # atomate2 writes files per job
        for s in structs:
            maker = ForceFieldRelaxMaker(force_field_name=name, steps=args.steps, relax_kwargs={"fmax": args.fmax,
                                         "filter_kwargs": {"scalar_pressure": p * GPA_TO_EV_PER_A3}}, calculator_kwargs=kwargs,
                                         optimizer_kwargs={"optimizer": args.optimizer})
            job = maker.make(s)
            out = run_locally(job, log=False, ensure_success=False, root_dir=scratch).get(job.uuid, {}).get(1)
            # atomate2 records the initial and the final structure as ionic steps too: n_steps - 2 optimizer steps
            steps += max(len(out.output.output.ionic_steps) - 2, 0) if out is not None and out.output is not None else 0
    return steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--model", default="chgnet")
    ap.add_argument("--optimizer", default="BFGS", choices=["BFGS", "FIRE"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--fmax", type=float, default=0.1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pressure", type=float, default=150.0)
    args = ap.parse_args()
    structs = cells(args.n, args.pressure)
    print(f"{len(structs)} cells, {sum(len(s) for s in structs) / len(structs):.1f} atoms on average, model {args.model}")
    times = {}
    for name, fn in (("hts", run_hts), ("bare", run_bare), ("atomate2", run_atomate2)):
        t = time.perf_counter()
        steps = fn(structs, args.pressure, args)  # optimizer steps in all: the same work in every leg
        times[name] = time.perf_counter() - t
        print(f"{name:>9}: {times[name]:8.1f} s  ({len(structs) / times[name]:.3f} structures/s, {steps} optimizer steps)", flush=True)
    print(f"hts_vs_bare={times['bare'] / times['hts']:.2f} hts_vs_atomate2={times['atomate2'] / times['hts']:.2f}")


if __name__ == "__main__":
    main()
