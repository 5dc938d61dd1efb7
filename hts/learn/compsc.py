"""Reader for the CompSC dataset (Tran & Vu, Phys. Rev. Materials 7, 054805 (2023)).

Read in place from ``../shared/data/compsc/`` (or a path given by the user); never copied.
"""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

from pymatgen.core import Lattice, Structure

__all__ = ["DEFAULT_COMPSC", "CompSCMissing", "load_compsc"]

DEFAULT_COMPSC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "compsc"


class CompSCMissing(FileNotFoundError):
    pass


def _pressure(text: str) -> float:
    """GPa; two rows (Te1H4) hold a file name such as '270Pa.vasp': its leading number is the pressure."""
    m = re.match(r"\s*([0-9.]+)", text)
    if not m:
        raise ValueError(f"no pressure in {text!r}")
    return float(m.group(1))


def load_compsc(path: str | Path | None = None) -> list[dict]:
    """Records {id, formula, pressure_GPa, lambda, omega_log_K, structure, ref} from supercond_May23.csv.

    Rows whose structure cannot be parsed are skipped; lambda / omega_log may be None.
    """
    path = Path(path or DEFAULT_COMPSC)
    csv_path = path / "supercond_May23.csv" if path.is_dir() else path
    if not csv_path.exists():
        raise CompSCMissing(f"CompSC not found at {csv_path} (expected ../shared/data/compsc/supercond_May23.csv)")
    out = []
    with open(csv_path) as fh:
        for r in csv.DictReader(fh):
            try:
                species = [s.strip() for s in ast.literal_eval(r["species"])]
                lat = Lattice.from_parameters(*(float(r[k]) for k in ("a", "b", "c", "alpha", "beta", "gamma")))
                s = Structure(lat, species, ast.literal_eval(r["xred"]))
            except (ValueError, SyntaxError, KeyError):
                continue

            def num(key):
                try:
                    v = float(r[key])
                except (TypeError, ValueError):
                    return None
                return v if v == v else None

            out.append({"id": f"compsc-{r['ID']}", "formula": s.composition.reduced_formula, "pressure_GPa": _pressure(r["pressure"]),
                        "lambda": num("Lambda"), "omega_log_K": num("omlog"), "structure": s, "ref": r.get("ref")})
    return out
