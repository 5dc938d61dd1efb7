"""Fuzz hts's inputs at scale: mutated campaign files through ``hts run`` and malformed structure files through
``hts tc`` (generators in tests/fuzzing.py, seeded). Prints a few of each failure, then exactly

    cases=N crashes=C wrongly_accepted=W store_writes_on_error=S

Targets C = W = S = 0. ``--configs 10000 --structures 1000`` (default) takes about 15 min on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import config_cases, run_config_case, run_structure_case, structure_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=10_000)
    ap.add_argument("--structures", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t0, count, shown = time.time(), Counter(), Counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for kind, name, data in config_cases(args.configs, seed=args.seed):
            out = run_config_case(data, work, work / "store")
            count["cases"] += 1
            count[f"config {kind} {out.split(':')[0]}"] += 1
            bad = "crashes" if out.startswith("crash") else "store_writes_on_error" if out == "store_write" else \
                "wrongly_accepted" if kind == "invalid" and out == "accepted" else None
            if bad:
                count[bad] += 1
                if shown[bad] < 3:
                    shown[bad] += 1
                    print(f"{bad}: config {name}: {out}", file=sys.stderr)
        for _, name, data, suffix in structure_cases(args.structures, seed=args.seed):
            out = run_structure_case(data, suffix, work)
            count["cases"] += 1
            count[f"structure {out.split(':')[0]}"] += 1
            bad = "crashes" if out.startswith("crash") else "wrongly_accepted" if out != "rejected" else None
            if bad:
                count[bad] += 1
                if shown[bad] < 3:
                    shown[bad] += 1
                    print(f"{bad}: structure {name}: {out}", file=sys.stderr)
    for k in sorted(k for k in count if " " in k):
        print(f"{k}: {count[k]}")
    print(f"wall {time.time() - t0:.0f} s")
    print(f"cases={count['cases']} crashes={count['crashes']} wrongly_accepted={count['wrongly_accepted']} "
          f"store_writes_on_error={count['store_writes_on_error']}")


if __name__ == "__main__":
    main()
