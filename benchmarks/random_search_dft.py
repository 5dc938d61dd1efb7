"""Does the DFT re-screen turn a random-search hit into the known phase? pw.x vc-relax (the DFT re-screen's
``ElphMaker.vc_relax``) of one finished cell of ``benchmarks/random_search.py`` and of the known phase, at the same
pressure, protocol and pseudopotentials; prints each one's space group before and after, and the enthalpies.

    python benchmarks/random_search_dft.py --formula H3S --cell 17   # the cap-32 run's Fmmm match

Last line: ``cell_space_group=X known_space_group=Y cell_minus_known_meV_per_atom=Z``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--formula", default="H3S", choices=["H3S", "CaH6", "YH6", "LaH10"])
    ap.add_argument("--cell", type=int, default=17, help="1-based, in generation order, as the report counts")
    ap.add_argument("--cells", default="docs/data/random_search_cells.jsonl")
    ap.add_argument("--pressure", type=float, default=200.0)
    ap.add_argument("--protocol", default="screening")
    ap.add_argument("--family", default="psl-us-pbe")
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/hts_random_search_dft")
    args = ap.parse_args()
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from hts.config import TcSettings
    from hts.tc.dfpt import ElphMaker

    import random_search  # the benchmark's targets (same folder)

    maker = ElphMaker.from_settings(TcSettings(protocol=args.protocol, pseudo_family=args.family, nprocs=args.nprocs))
    rows = [json.loads(x) for x in Path(args.cells).read_text().splitlines() if x.strip()]
    done = sorted((r for r in rows if r["formula"] == args.formula and r["status"] != "generated"),
                  key=lambda r: r["origin"]["draw"])
    cell = Structure.from_dict(done[args.cell - 1]["structure"])
    known = random_search.known_start(args.formula, args.pressure)
    out = {}
    for name, s in (("known", known), ("cell", cell)):
        t0 = time.time()
        r = maker.vc_relax(s, args.pressure, Path(args.workdir) / f"{args.formula}_{name}")
        if not r.ok:
            raise SystemExit(f"{name}: pw.x vc-relax failed: {r.failure}")
        sg = SpacegroupAnalyzer(r.structure, symprec=0.1).get_space_group_symbol()
        out[name] = (sg, r.tc["dft_enthalpy_eV_per_atom"])
        print(f"{name}: {SpacegroupAnalyzer(s, symprec=0.1).get_space_group_symbol()} -> {sg}, "
              f"H {r.tc['dft_enthalpy_eV_per_atom']:.5f} eV/atom, {r.structure.volume / len(r.structure):.4f} A^3/atom, "
              f"{time.time() - t0:.0f} s", flush=True)
    print(f"cell_space_group={out['cell'][0]} known_space_group={out['known'][0]} "
          f"cell_minus_known_meV_per_atom={1000 * (out['cell'][1] - out['known'][1]):.1f}")


if __name__ == "__main__":
    main()
