"""Are all labels made with one pseudopotential per element? The md5s they record, traced to today's files.

ld1.x stamps the day it ran into each file it writes (until session 51, when :mod:`hts.dft.ld1` began to unset it), so
the ``psl-us-pbe`` files of labels made on different days differ in md5 though generated from the same input. This
generates each element's file again (``hts.dft.ld1.generate``, in a temporary directory), and for every md5 recorded
in the labels (``pseudopotentials_md5`` of every ``data/potential/labels*.jsonl`` row) and in the equation-of-state
checks (``docs/data/pseudo_verify.jsonl``) looks for the day, from ``--since`` to today, whose stamp gives that md5.
An md5 traced so is byte for byte today's file apart from the day; one not traced is another file. Per element: the
md5s found, how many were traced and on which days.

    python benchmarks/pseudo_consistency.py [--since 2025-01-01] [--labels FILE ...]

Last line: ``elements=N md5s=M traced=K untraced=U``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import hashlib
import json
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ld1_stamp(day: datetime.date) -> str:
    """The date as ld1.x writes it: day in two characters, English month abbreviation, year (' 7Dec2026')."""
    return f"{day.day:2d}{day.strftime('%b')}{day.year}"


def recorded_md5s(label_files: list[str], verify_file: Path) -> dict[str, dict[str, int]]:
    """{element: {md5: number of labels or checks recording it}} of the psl-us-pbe files."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    from hts.label.run import read_rows

    for f in label_files:
        for r in read_rows(f):
            if (r.get("settings") or {}).get("family", "psl-us-pbe") != "psl-us-pbe":
                continue
            for el, md5 in (r.get("pseudopotentials_md5") or {}).items():
                out[el][md5] += 1
    if verify_file.is_file():
        for line in verify_file.read_text().splitlines():
            r = json.loads(line)
            if r.get("family") == "psl-us-pbe" and r.get("file_md5"):
                out[r["element"]][r["file_md5"]] += 1
    return out


def trace(upf: str, md5s: set[str], since: datetime.date, until: datetime.date) -> dict[str, str]:
    """{md5: day} for each of ``md5s`` that ``upf`` gives with some day's stamp in [since, until], or as it is
    (``upf`` with the stamp unset, as hts writes it since session 51: day ``"unset"``)."""
    from hts.dft.ld1 import set_generation_date

    undated = hashlib.md5(upf.encode()).hexdigest()
    found, day = ({undated: "unset"} if undated in md5s else {}), since
    while day <= until and len(found) < len(md5s):
        h = hashlib.md5(set_generation_date(upf, ld1_stamp(day)).encode()).hexdigest()
        if h in md5s:
            found[h] = day.isoformat()
        day += datetime.timedelta(days=1)
    return found


def main() -> None:
    from hts.dft.ld1 import generate, inputs

    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", nargs="*", default=sorted(glob.glob(str(ROOT / "data/potential/labels*.jsonl"))))
    ap.add_argument("--since", default="2025-01-01", help="first day to try (YYYY-MM-DD)")
    a = ap.parse_args()
    since, until = datetime.date.fromisoformat(a.since), datetime.date.today()
    recorded = recorded_md5s(a.labels, ROOT / "docs/data/pseudo_verify.jsonl")
    n_md5 = n_traced = 0
    with tempfile.TemporaryDirectory() as tmp:
        for el in sorted(recorded):
            if el not in inputs():
                print(f"{el:3s} not an ld1.x file of this family: {len(recorded[el])} md5s not checked")
                continue
            upf = (Path(tmp) / generate(el, Path(tmp))["file"]).read_text()
            found = trace(upf, set(recorded[el]), since, until)
            n_md5, n_traced = n_md5 + len(recorded[el]), n_traced + len(found)
            for md5, n in sorted(recorded[el].items(), key=lambda kv: found.get(kv[0], "~")):
                print(f"{el:3s} {md5}  {n:4d} uses  {'generated ' + found[md5] if md5 in found else 'NOT traced'}")
    print(f"elements={len(recorded)} md5s={n_md5} traced={n_traced} untraced={n_md5 - n_traced}")


if __name__ == "__main__":
    main()
