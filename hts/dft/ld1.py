"""Ultrasoft pseudopotentials generated here with ld1.x from pslibrary's published inputs.

``hts/data/pslibrary_us.job`` holds pslibrary's ld1.x inputs unchanged (us_ps_collection.job, A. Dal Corso).
An element's file is generated on first use into the pseudopotential cache (``$HTS_PSEUDO_CACHE``), offline,
in about a second; the input's md5 and the ld1.x version travel with the family into every document.
ld1.x 6.7 writes a whole matrix (``PP_DIJ``, ``PP_Q``) on one line; pw.x 6.7's XML reader drops lines over 1024
characters and then calls the file "not readable" (La's 8 projectors: a 1,664-character line). :func:`wrap_long_lines`
rewraps such number lines, four numbers per line, which changes no value. ld1.x also stamps the day it ran into the
header; :func:`set_generation_date` replaces that stamp with ``DATE_UNSET``, so the same input gives the same file (and
md5) on any day. Files made before session 51 carry their day: ``benchmarks/pseudo_consistency.py`` finds it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

__all__ = ["DATE_UNSET", "generate", "inputs", "set_generation_date", "wrap_long_lines"]

ENVIRONMENT = {"fct": "pbe", "gfun": "PBE", "nrel": "1"}  # pslibrary's pbe/enviroment.job
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([EeDd][-+]?\d+)?")
_DATE = (re.compile(r"(Generation date: )(.*)$", re.M), re.compile(r'( date=")([^"]*)(")'))
DATE_UNSET = "unset"
POSTPROCESS = "wrapped, date unset"  # in the cache stamp: files post-processed otherwise are generated again
_BLOCK = re.compile(r"cat > ([A-Za-z]+)\.\$fct-(\S+)\.in << EOF\n(.*?)\nEOF", re.S)


def inputs() -> dict[str, tuple[str, str]]:
    """{element: (UPF file name, ld1.x input text)} with the PBE environment substituted."""
    text = resources.files("hts").joinpath("data/pslibrary_us.job").read_text()
    out = {}
    for el, tag, body in _BLOCK.findall(text):
        for k, v in ENVIRONMENT.items():
            body = body.replace(f"${k}", v)
        out[el] = (f"{el}.{ENVIRONMENT['fct']}-{tag}.UPF", body + "\n")
    return out


def wrap_long_lines(upf: str, limit: int = 1000) -> str:
    """``upf`` with every line of numbers longer than ``limit`` characters split four numbers to a line."""
    out = []
    for line in upf.splitlines():
        words = line.split()
        if len(line) > limit and words and all(_NUMBER.fullmatch(w) for w in words):
            out += ["  " + "  ".join(words[i:i + 4]) for i in range(0, len(words), 4)]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def set_generation_date(upf: str, stamp: str) -> str:
    """``upf`` with ld1.x's generation-date stamp (the info line and the header attribute) set to ``stamp``."""
    upf = _DATE[0].sub(lambda m: m.group(1) + stamp, upf, count=1)
    return _DATE[1].sub(lambda m: m.group(1) + stamp + m.group(3), upf, count=1)


def generate(element: str, dest: Path) -> dict:
    """Write ``element``'s UPF into ``dest`` with ld1.x (idempotent); {file, generated_by, source_md5}."""
    table = inputs()
    if element not in table:
        raise ValueError(f"no pslibrary generation input for {element} (have {sorted(table)})")
    name, text = table[element]
    md5 = hashlib.md5(text.encode()).hexdigest()
    out = {"file": name, "generated_by": "ld1.x from pslibrary's published input (hts/data/pslibrary_us.job)", "source_md5": md5}
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / f"{name}.input-md5"
    if (dest / name).is_file() and stamp.is_file() and stamp.read_text().strip() == f"{md5} {POSTPROCESS}":
        return out
    exe = shutil.which("ld1.x")
    if exe is None:
        raise FileNotFoundError("ld1.x (quantum-espresso) is not installed: it generates this family")
    work = dest / f".ld1-{element}"
    work.mkdir(exist_ok=True)
    run = subprocess.run([exe], input=text, cwd=work, capture_output=True, text=True, timeout=300)
    made = work / name
    if run.returncode != 0 or not made.is_file():
        raise ValueError(f"ld1.x failed for {element}: {(run.stdout + run.stderr).strip().splitlines()[-1:]}")
    made.write_text(set_generation_date(wrap_long_lines(made.read_text()), DATE_UNSET))
    made.replace(dest / name)  # atomic within the directory: a half-written file is never used
    stamp.write_text(f"{md5} {POSTPROCESS}\n")
    shutil.rmtree(work, ignore_errors=True)
    return out
