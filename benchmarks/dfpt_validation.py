"""DFPT validation against literature, and hts's overhead over running the same QE inputs by hand.

Cases (Debian quantum-espresso-data pseudopotentials, LDA von Barth-Car):
- fcc Al, QE PHonon example parameters: lambda 0.35-0.45 (lit. 0.38-0.44), Tc ~1 K (exp. 1.18 K);
  then the very same input files are run again by a plain loop (`mpirun -np N pw.x < in > out`, ...)
  in a fresh directory: `hand_ratio` = hts wall time / hand wall time (target <= 1.1).
- MgB2 (P6/mmm, a = 3.086 A, c = 3.524 A), B.pz-vbc + Mg.pz-n-vbc: lambda 0.6-0.9 (lit. 0.6-0.87,
  Tc 39 K). Coarse for 2 cores (k 12x12x9, dense 24x24x18, q 4x4x3, ecut 35 Ry); --skip-mgb2 skips it.
- H3S Im-3m at 200 GPa with the gth-pbe family (GTH-PBE H-q1 and S-q6 converted by hts.dft.gth,
  80 Ry) and the `screening` protocol as shipped (vc-relax at 200 GPa, k >= 12^3, la2F k x2, q 4^3):
  literature lambda 1.8-2.6, omega_log ~1050-1330 K, Tc 190-250 K. Long on 2 cores; --skip-h3s skips it.

Usage: python benchmarks/dfpt_validation.py [--nprocs 2] [--npool 1] [--skip-mgb2] [--skip-h3s] [--workdir /tmp/hts_dfpt_val]
Last line: `al_lambda=.. mgb2_lambda=.. h3s_lambda=.. hand_ratio=..`
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from hts.dft.pseudo import load_family
from hts.dft.qe import QERunner
from hts.tc.dfpt import ElphMaker
from hts.tc.protocols import get_protocol

BOHR = 0.529177210903


def al_case():
    s = Structure(Lattice(np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) * (7.5 * BOHR / 2)), ["Al"], [[0, 0, 0]])
    p = get_protocol("screening", k=(8, 8, 8), q=(4, 4, 4), ecutwfc_Ry=15.0, degauss_Ry=0.05, relax=False,
                     conv_thr_Ry=1e-8, tr2_ph=1e-10, matdyn_mesh=10, ndos=50)
    return "Al", s, p, (0.35, 0.45)


def mgb2_case():
    s = Structure(Lattice.hexagonal(3.086, 3.524), ["Mg", "B", "B"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])
    p = get_protocol("screening", k=(12, 12, 9), q=(4, 4, 3), ecutwfc_Ry=35.0, degauss_Ry=0.02, relax=False,
                     conv_thr_Ry=1e-9, tr2_ph=1e-12, matdyn_mesh=12, ndos=100, selected_sigma_Ry=0.02)
    return "MgB2", s, p, (0.6, 0.9)


def h3s_case():
    s = Structure.from_spacegroup("Im-3m", Lattice.cubic(3.0), ["S", "H"], [[0, 0, 0], [0.5, 0, 0]]).get_primitive_structure()
    return "H3S", s, get_protocol("screening"), (1.8, 2.6)


def by_hand(src: Path, dst: Path, nprocs: int, npool: int = 1) -> float:
    """Run the input files hts wrote, in order, with a bare loop; wall seconds."""
    dst.mkdir(parents=True, exist_ok=True)
    steps = [("pw.x", "scf_fit"), ("pw.x", "scf"), ("ph.x", "ph"), ("q2r.x", "q2r"), ("matdyn.x", "matdyn")]
    for _, name in steps:
        shutil.copy(src / f"{name}.in", dst / f"{name}.in")
    (dst / "ph.in").write_text((dst / "ph.in").read_text().replace("recover          = .true.", "recover          = .false."))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    t = time.perf_counter()
    for exe, name in steps:
        cmd = (["mpirun", "-np", str(nprocs)] if nprocs > 1 else []) + [exe]
        cmd += ["-nk", str(npool)] if npool > 1 and exe in ("pw.x", "ph.x") else []
        with open(dst / f"{name}.in") as fi, open(dst / f"{name}.out", "w") as fo:
            subprocess.run(cmd, stdin=fi, stdout=fo, stderr=subprocess.STDOUT, cwd=dst, env=env, check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--npool", type=int, default=1, help="k-point pools (-nk) for pw.x and ph.x")
    ap.add_argument("--skip-mgb2", action="store_true")
    ap.add_argument("--skip-h3s", action="store_true")
    ap.add_argument("--workdir", default="/tmp/hts_dfpt_validation")
    args = ap.parse_args()
    root = Path(args.workdir)
    shutil.rmtree(root, ignore_errors=True)
    vbc = load_family("debian-lda-vbc")
    cases = [(*al_case(), vbc, 0.0)] + ([] if args.skip_mgb2 else [(*mgb2_case(), vbc, 0.0)])
    cases += [] if args.skip_h3s else [(*h3s_case(), load_family("gth-pbe"), 200.0)]
    results = {}
    for name, s, proto, (lo, hi), fam, pressure in cases:
        m = ElphMaker(protocol=proto, pseudos=fam, runner=QERunner(nprocs=args.nprocs, npool=args.npool))
        t = time.perf_counter()
        r = m.run(s, pressure, root / name)
        wall = time.perf_counter() - t
        if not r.ok:
            print(f"{name}: FAILED {r.failure}")
            results[name] = None
            continue
        tc = r.tc
        print(f"{name:>5}: lambda={tc['lambda']:.3f} (target {lo}-{hi}: {'ok' if lo <= tc['lambda'] <= hi else 'MISS'}) "
              f"omega_log={tc['omega_log_K']:.0f} K omega_2={tc['omega_2_K']:.0f} K "
              f"Tc_AD(mu*=0.10)={tc['by_mustar']['0.1']['allen_dynes']:.2f} K Tc_Eliashberg(0.10)={tc['by_mustar']['0.1']['eliashberg']:.2f} K "
              f"lambda over smearings {min(tc['lambda_by_sigma']):.2f}-{max(tc['lambda_by_sigma']):.2f}; wall {wall:.0f} s", flush=True)
        if pressure:
            conv = SpacegroupAnalyzer(r.structure).get_conventional_standard_structure() if r.structure else None
            lat = f", relaxed conventional cell {conv.lattice.abc[0]:.3f} A ({conv.lattice.abc})" if conv else ""
            print(f"       at {pressure:g} GPa: k {tc['k_mesh']} (la2F {tc['k_mesh_fit']}), q {tc['q_mesh']}, "
                  f"ecutwfc {tc['ecutwfc_Ry']} Ry, min frequency {tc['min_frequency_cm1']:.0f} cm^-1{lat}; "
                  f"warnings {tc.get('warnings', [])}; steps {tc['wall_s']}", flush=True)
        results[name] = (tc["lambda"], wall)
    ratio = float("nan")
    if results.get("Al"):
        hand = by_hand(root / "Al", root / "Al_by_hand", args.nprocs, args.npool)
        ratio = results["Al"][1] / hand
        print(f"Al by hand: {hand:.1f} s; hts {results['Al'][1]:.1f} s; ratio {ratio:.3f} (target <= 1.1)")
    fmt = lambda x: "nan" if not x else f"{x[0]:.3f}"  # noqa: E731
    print(f"al_lambda={fmt(results.get('Al'))} mgb2_lambda={fmt(results.get('MgB2'))} h3s_lambda={fmt(results.get('H3S'))} "
          f"hand_ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
