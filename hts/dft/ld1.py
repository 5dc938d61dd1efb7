"""Ultrasoft pseudopotentials generated here with ld1.x from pslibrary's published inputs.

``hts/data/pslibrary_us.job`` holds pslibrary's ld1.x inputs unchanged (us_ps_collection.job, A. Dal Corso).
An element's file is generated on first use into the pseudopotential cache (``$HTS_PSEUDO_CACHE``), offline,
in about a second; the input's md5 and the ld1.x version travel with the family into every document.
(ld1.x 6.7 also writes PAW files from the sister inputs, but pw.x 6.7 cannot read the semicore ones:
"file not readable" for Li and Sc. The ultrasoft files read and converge fast, see docs/potential.md.)
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

__all__ = ["generate", "inputs"]

ENVIRONMENT = {"fct": "pbe", "gfun": "PBE", "nrel": "1"}  # pslibrary's pbe/enviroment.job
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


def generate(element: str, dest: Path) -> dict:
    """Write ``element``'s UPF into ``dest`` with ld1.x (idempotent); {file, generated_by, source_md5}."""
    table = inputs()
    if element not in table:
        raise ValueError(f"no pslibrary generation input for {element} (have {sorted(table)})")
    name, text = table[element]
    md5 = hashlib.md5(text.encode()).hexdigest()
    out = {"file": name, "generated_by": "ld1.x from pslibrary us_ps_collection.job", "source_md5": md5}
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / f"{name}.input-md5"
    if (dest / name).is_file() and stamp.is_file() and stamp.read_text().strip() == md5:
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
    made.replace(dest / name)  # atomic within the directory: a half-written file is never used
    stamp.write_text(md5 + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return out
