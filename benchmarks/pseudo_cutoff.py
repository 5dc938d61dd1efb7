"""Cutoff convergence of a family's pressure where labels live: fcc crystal compressed to a fraction of its
all-electron V0 (default 0.45, about 100-300 GPa for the hydride formers), pressure at each cutoff.
Resumable: one JSON line per (family, element, fraction, cutoff, k) in docs/data/pseudo_cutoff.jsonl.

    python benchmarks/pseudo_cutoff.py --family psl-us-pbe --elements La --ecutwfc 40 50 60 75 90

Last line: ``converged_Ry=EL:X ...``: per element the lowest cutoff whose pressure is within 1 GPa of the
highest cutoff's (``none`` when no lower cutoff is).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from hts.dft.pseudo import load_family
from hts.dft.qe import QERunner, pw_version
from hts.dft.verify import ACWF_FCC_V0, compressed_pressure

OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "pseudo_cutoff.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="psl-us-pbe")
    ap.add_argument("--elements", nargs="+", required=True)
    ap.add_argument("--ecutwfc", nargs="+", type=float, required=True)
    ap.add_argument("--fraction", type=float, default=0.45, help="volume as a fraction of the all-electron V0")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--nprocs", type=int, default=1)
    args = ap.parse_args()
    fam = load_family(args.family)
    rows = [json.loads(x) for x in OUT.read_text().splitlines() if x.strip()] if OUT.exists() else []
    qe = pw_version()
    found = []
    for el in args.elements:
        prov = fam.provenance([el])["files"][el]
        pressures = {}
        for ec in sorted(args.ecutwfc):
            key = (args.family, el, args.fraction, ec, args.k)
            old = [r for r in rows if (r["family"], r["element"], r["fraction"], r["ecutwfc_Ry"], r["k"]) == key]
            if old:
                pressures[ec] = old[0]["pressure_GPa"]
                continue
            with tempfile.TemporaryDirectory() as tmp:
                p, wall = compressed_pressure(fam, el, args.fraction * ACWF_FCC_V0[el], ec, tmp,
                                              QERunner(nprocs=args.nprocs), kpts=(args.k,) * 3)
            row = {"family": args.family, "element": el, "fraction": args.fraction,
                   "volume_A3": round(args.fraction * ACWF_FCC_V0[el], 4), "ecutwfc_Ry": ec, "k": args.k,
                   "pressure_GPa": round(p, 2), "wall_s": wall, "file": prov["file"], "file_md5": prov["md5"], "qe": qe}
            with OUT.open("a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
            pressures[ec] = row["pressure_GPa"]
            print(json.dumps(row), flush=True)
        top = pressures[max(pressures)]
        ok = [ec for ec in sorted(pressures)[:-1] if abs(pressures[ec] - top) <= 1.0]
        found.append(f"{el}:{ok[0]:g}" if ok else f"{el}:none")
    print("converged_Ry=" + " ".join(found))


if __name__ == "__main__":
    main()
