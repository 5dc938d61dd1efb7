"""Pseudopotential families: element -> UPF file and suggested cutoffs (Ry).

Families shipped with hts live in ``hts/data/pseudo_families.yaml``; a campaign may name one
(``tc.pseudo_family``), move it to another directory (``tc.pseudo_dir``) or give its own
element table (``tc.pseudopotentials``). Every file used is recorded with its md5 checksum.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

__all__ = ["MissingPseudopotential", "PseudoFamily", "load_family"]


class MissingPseudopotential(LookupError):
    """An element without a pseudopotential in the family, or a file that is not on disk."""


@dataclass(frozen=True)
class PseudoFamily:
    name: str
    dir: Path
    elements: dict  # symbol -> {"file": str, "ecutwfc": Ry, "ecutrho": Ry}
    source: str = ""
    functional: str = ""

    def check(self, symbols) -> None:
        """Raise MissingPseudopotential naming every element without a readable file."""
        missing = sorted({s for s in symbols if s not in self.elements})
        if missing:
            raise MissingPseudopotential(f"pseudopotential family {self.name!r} has no file for {missing} "
                                         f"(it has {sorted(self.elements)})")
        absent = [str(self.dir / self.elements[s]["file"]) for s in sorted(set(symbols))
                  if not (self.dir / self.elements[s]["file"]).is_file()]
        if absent:
            raise MissingPseudopotential(f"pseudopotential file(s) not found: {absent}")

    def files(self, symbols) -> dict[str, str]:
        self.check(symbols)
        return {s: self.elements[s]["file"] for s in sorted(set(symbols))}

    def cutoffs(self, symbols) -> tuple[float, float]:
        """(ecutwfc, ecutrho) in Ry: the largest suggestion among the elements."""
        self.check(symbols)
        wfc = max(float(self.elements[s]["ecutwfc"]) for s in set(symbols))
        rho = max(float(self.elements[s].get("ecutrho", 4 * self.elements[s]["ecutwfc"])) for s in set(symbols))
        return wfc, max(rho, 4 * wfc)

    def provenance(self, symbols) -> dict:
        """{element: {file, md5}} plus family name and source, for the document."""
        out = {}
        for s, f in self.files(symbols).items():
            out[s] = {"file": f, "md5": _md5(str(self.dir / f))}
        return {"family": self.name, "source": self.source, "dir": str(self.dir), "functional": self.functional, "files": out}


@lru_cache(maxsize=64)
def _md5(path: str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _shipped() -> dict:
    return yaml.safe_load(resources.files("hts").joinpath("data/pseudo_families.yaml").read_text())


def load_family(name: str, directory: str | None = None, elements: dict | None = None) -> PseudoFamily:
    """A shipped family by name; ``directory`` moves it, ``elements`` adds or overrides entries."""
    fams = _shipped()
    if name not in fams and not elements:
        raise MissingPseudopotential(f"unknown pseudopotential family {name!r}; shipped: {sorted(fams)}")
    base = fams.get(name, {"dir": directory or ".", "elements": {}, "source": "user", "functional": ""})
    table = {**base["elements"], **(elements or {})}
    return PseudoFamily(name, Path(directory or base["dir"]), table, base.get("source", ""), base.get("functional", ""))
