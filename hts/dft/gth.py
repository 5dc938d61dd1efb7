"""GTH pseudopotentials for pw.x: CP2K files (shipped in the ``eminus`` package) -> ABINIT pspcod 10.

Debian's quantum-espresso-data has no UPF for S, Ca, Y or La. The Goedecker-Teter-Hutter (GTH)
PBE parameters (Krack, Theor. Chem. Acc. 114, 145 (2005); CP2K's GTH_POTENTIALS) are analytic, and
pw.x reads them in ABINIT's HGH format (pspcod 10, extension ``.gth``; QE's readgth). The numbers
are copied unchanged (Hartree atomic units, upper triangle of h_ij per channel); the spin-orbit k_ij
that the format wants for l > 0 are zero (scalar-relativistic files).

QE 6.x (Modules/gth.f90, mk_ffnl_gth and mk_dffnl_gth) builds the l = 3 projector without its
1/sqrt(105) normalisation, which QE 7's upflib/gth.f90 has, so its f-channel term is 105 times too
strong. For a pw.x older than 7 the f-channel h is written divided by 105, which gives the intended
nonlocal energy and stress; the file name says so. (For fcc La the f term is small: dropping it
changes the total energy by 1.5e-6 Ry.)

Files are written on first use to a cache directory (``$HTS_PSEUDO_CACHE``, default
``~/.cache/hts/pseudo``) from the installed package, offline; the source file, its md5 and the
package version travel with the family into every document.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from pymatgen.core import Element

__all__ = ["GTHParameters", "cache_dir", "cp2k_source", "needs_f_fix", "parse_cp2k", "to_psp10", "write_psp10"]

_PSPXC = {"pbe": 11, "pade": 1}  # ABINIT ixc codes pw.x maps to PBE / PZ


@dataclass(frozen=True)
class GTHParameters:
    symbol: str
    label: str  # e.g. "GTH-PBE-q6"
    electrons: tuple[int, ...]  # valence electrons per shell (s, p, d, f)
    r_loc: float  # bohr
    c_loc: tuple[float, ...]  # Hartree
    channels: tuple[tuple[float, tuple[tuple[float, ...], ...]], ...]  # per l: (r_l bohr, upper-triangle h rows, Ha)

    @property
    def zion(self) -> int:
        return sum(self.electrons)


def parse_cp2k(text: str) -> GTHParameters:
    """One element in CP2K's GTH_POTENTIALS layout (first block of ``text``)."""
    lines = [ln.split("#")[0].split() for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    symbol, label = lines[0][0], (lines[0][1] if len(lines[0]) > 1 else "GTH")
    electrons = tuple(int(x) for x in lines[1])
    n_c = int(lines[2][1])
    r_loc, c_loc = float(lines[2][0]), tuple(float(x) for x in lines[2][2:2 + n_c])
    n_l = int(lines[3][0])
    channels, i = [], 4
    for _ in range(n_l):
        r_l, n_p = float(lines[i][0]), int(lines[i][1])
        rows = [tuple(float(x) for x in lines[i][2:2 + n_p])] if n_p else []
        i += 1
        for _ in range(1, n_p):
            rows.append(tuple(float(x) for x in lines[i]))
            i += 1
        if any(len(r) != n_p - k for k, r in enumerate(rows)):
            raise ValueError(f"{symbol} {label}: h_ij of a channel is not an upper triangle of size {n_p}")
        channels.append((r_l, tuple(rows)))
    return GTHParameters(symbol, label, electrons, r_loc, c_loc, tuple(channels))


def to_psp10(p: GTHParameters, xc: str = "pbe", comment: str = "", f_scale: float = 1.0) -> str:
    """ABINIT pspcod 10 text, as QE's readgth reads it; ``f_scale`` multiplies the l = 3 h (see module doc)."""
    z = Element(p.symbol).Z
    lmax = max(len(p.channels) - 1, 0)
    out = [f"{p.symbol} {p.label} {comment}".strip(),
           f"{z} {p.zion} 010101  zatom,zion,pspdat",
           f"10 {_PSPXC[xc]} {lmax} 0 2001 0  pspcod,pspxc,lmax,lloc,mmax,r2well",
           f"{p.r_loc:.8f} {len(p.c_loc)} " + " ".join(f"{c:.8f}" for c in p.c_loc) + "  rloc,nloc,c1..cn",
           f"{len(p.channels)}  nnonloc"]
    channels = p.channels or ((0.0, ()),)  # no projector (H): one empty s channel
    for l, (r_l, rows) in enumerate(channels):
        n_p = len(rows)
        if l == 3:
            rows = tuple(tuple(h * f_scale for h in row) for row in rows)
        out.append(f"{r_l:.8f} {n_p} " + (" ".join(f"{h:.8f}" for h in rows[0]) if n_p else ""))
        out += [" ".join(f"{h:.8f}" for h in row) for row in rows[1:]]
        if l > 0:  # spin-orbit k_ij: zero (scalar relativistic)
            out += [" ".join("0.0" for _ in range(n_p - k)) for k in range(n_p)]
    return "\n".join(out) + "\n"


def cp2k_source(symbol: str, valence: int, xc: str = "pbe") -> Path:
    """The CP2K-format file in the installed eminus package (e.g. psp/pbe/S-q6)."""
    try:
        root = resources.files("eminus") / "psp" / xc
    except ModuleNotFoundError as exc:
        raise FileNotFoundError("the GTH families need the 'eminus' package (pip install eminus)") from exc
    path = Path(str(root / f"{symbol}-q{valence}"))
    if not path.is_file():
        have = sorted(f.name for f in Path(str(root)).iterdir() if f.name.startswith(f"{symbol}-q"))
        raise FileNotFoundError(f"no GTH-{xc.upper()} file {symbol}-q{valence} in eminus (it has {have or 'none'})")
    return path


def cache_dir(family: str) -> Path:
    return Path(os.environ.get("HTS_PSEUDO_CACHE", Path.home() / ".cache" / "hts" / "pseudo")) / family


def needs_f_fix(qe_version: str | None) -> bool:
    """True for a QE older than 7 (missing l = 3 projector normalisation); unknown version: False."""
    m = re.match(r"(\d+)", qe_version or "")
    return bool(m) and int(m.group(1)) < 7


def write_psp10(symbol: str, valence: int, dest: Path, xc: str = "pbe", qe_version: str | None = None) -> dict:
    """Convert one element into ``dest`` (idempotent) for pw.x ``qe_version``; file name and provenance."""
    src = cp2k_source(symbol, valence, xc)
    text = src.read_text()
    params = parse_cp2k(text)
    if params.symbol != symbol or params.zion != valence:
        raise ValueError(f"{src}: holds {params.symbol} q{params.zion}, expected {symbol} q{valence}")
    fix = needs_f_fix(qe_version) and len(params.channels) > 3 and bool(params.channels[3][1])
    name = f"{symbol}.{xc}-gth-q{valence}{'.qe6-f' if fix else ''}.gth"
    note = " (f-channel h / 105 for QE < 7)" if fix else ""
    body = to_psp10(params, xc, comment=f"converted by hts from eminus {version('eminus')} {src.parent.name}/{src.name}{note}",
                    f_scale=1 / 105 if fix else 1.0)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    if not target.is_file() or target.read_text() != body:
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(body)
        os.replace(tmp, target)
    return {"file": name, "converted_from": f"eminus {version('eminus')}: psp/{xc}/{src.name} (CP2K GTH_POTENTIALS){note}",
            "source_md5": hashlib.md5(text.encode()).hexdigest()}
