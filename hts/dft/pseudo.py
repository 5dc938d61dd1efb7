"""Pseudopotential families: element -> UPF file and suggested cutoffs (Ry).

Families shipped with hts live in ``hts/data/pseudo_families.yaml``; a campaign may name one
(``tc.pseudo_family``), move it to another directory (``tc.pseudo_dir``) or give its own
element table (``tc.pseudopotentials``). Every file used is recorded with its md5 checksum.
A family with ``generator: gth`` is written on first use from the GTH parameters in the
installed ``eminus`` package (hts.dft.gth), offline; its documents also name the source file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

__all__ = ["MissingPseudopotential", "PseudoFamily", "family_for", "load_family", "shipped_families"]


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
            out[s].update({k: self.elements[s][k] for k in ("converted_from", "source_md5", "generated_by")
                           if k in self.elements[s]})
        return {"family": self.name, "source": self.source, "dir": str(self.dir), "functional": self.functional, "files": out}


@lru_cache(maxsize=64)
def _md5(path: str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _shipped() -> dict:
    return yaml.safe_load(resources.files("hts").joinpath("data/pseudo_families.yaml").read_text())


def shipped_families() -> list[str]:
    """Names of the families shipped in hts/data/pseudo_families.yaml."""
    return sorted(_shipped())


_DEFAULT_ORDER = ("debian-lda-vbc", "debian-pbe", "gth-pbe")


def family_for(symbols) -> str:
    """The first shipped family (LDA vbc, PBE, GTH-PBE) with a file for every element in ``symbols``."""
    fams = _shipped()
    need = set(symbols)
    for name in _DEFAULT_ORDER:
        if name in fams and need <= set(fams[name]["elements"]):
            return name
    have = {n: sorted(f["elements"]) for n, f in fams.items()}
    raise MissingPseudopotential(f"no shipped pseudopotential family covers {sorted(need)} (shipped: {have})")


def load_family(name: str, directory: str | None = None, elements: dict | None = None) -> PseudoFamily:
    """A shipped family by name; ``directory`` moves it, ``elements`` adds or overrides entries."""
    fams = _shipped()
    if name not in fams and not elements:
        raise MissingPseudopotential(f"unknown pseudopotential family {name!r}; shipped: {sorted(fams)}")
    base = fams.get(name, {"dir": directory or ".", "elements": {}, "source": "user", "functional": ""})
    if base.get("generator") == "gth":
        return _gth_family(name, base, directory, elements)
    if base.get("generator") == "ld1":
        return _ld1_family(name, base, directory, elements)
    table = {**base["elements"], **(elements or {})}
    return PseudoFamily(name, Path(directory or base["dir"]), table, base.get("source", ""), base.get("functional", ""))


def _gth_family(name: str, base: dict, directory: str | None, extra: dict | None) -> PseudoFamily:
    """Convert the family's GTH files into ``directory`` (default: the user cache), then the usual table."""
    from hts.dft.gth import cache_dir, write_psp10
    from hts.dft.qe import pw_version

    dest = Path(directory) if directory else cache_dir(name)
    qe = pw_version()  # the files are written for the pw.x on PATH (QE 6.x: see hts.dft.gth)
    table = {}
    for el, entry in base["elements"].items():
        try:
            written = write_psp10(el, int(entry["valence"]), dest, base.get("xc", "pbe"), qe)
        except (FileNotFoundError, ValueError) as exc:
            raise MissingPseudopotential(f"family {name!r}, {el}: {exc}") from exc
        table[el] = {**{k: v for k, v in entry.items() if k != "valence"}, **written}
    table.update(extra or {})
    return PseudoFamily(name, dest, table, base.get("source", ""), base.get("functional", ""))


def _ld1_family(name: str, base: dict, directory: str | None, extra: dict | None) -> PseudoFamily:
    """Generate the family's files with ld1.x into ``directory`` (default: the user cache), then the table."""
    from hts.dft.gth import cache_dir
    from hts.dft.ld1 import generate

    dest = Path(directory) if directory else cache_dir(name)
    table = {}
    for el, entry in base["elements"].items():
        try:
            table[el] = {**entry, **generate(el, dest)}
        except (FileNotFoundError, ValueError) as exc:
            raise MissingPseudopotential(f"family {name!r}, {el}: {exc}") from exc
    table.update(extra or {})
    return PseudoFamily(name, dest, table, base.get("source", ""), base.get("functional", ""))
