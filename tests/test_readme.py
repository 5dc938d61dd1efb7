"""README.md is a user's guide that stays true: its size, its links, and the `hts` commands of its
"Run, query, report" section, run as written against a store laid out as `make demo` leaves it."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from pymatgen.core import Lattice, Structure

from hts.config import load_config
from hts.store.store import open_store

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ENGINE = {"name": "mlip", "model": "chgnet", "version": "test"}


def _commands() -> list[str]:
    section = README.split("## Run, query, report", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.startswith("hts ")]


def _demo_like_store(path: Path) -> None:
    """The demo campaign's shape: Al-Mg-H at 150 GPa, references, candidates on and off the hull, a failure."""
    def doc(i, species, role, status, h, **kw):
        s = Structure(Lattice.cubic(3.0 + len(species)), species, [[k / (len(species) + 1), 0.5, 0.5] for k in range(len(species))])
        d = {"id": f"hts-{i:012x}", "campaign": "demo-MgAlH", "role": role,
             "chemsys": "-".join(sorted({e.symbol for e in s.species})), "system": "Al-H-Mg",
             "formula": s.composition.reduced_formula, "nelements": len(s.composition.elements), "pressure_GPa": 150.0,
             "origin": {"generator": "test"}, "status": status, "structure_initial": s.as_dict(), "structure": s.as_dict(),
             "engine": ENGINE, "enthalpy_eV_per_atom": h}
        d.update(kw)
        return d

    docs = [doc(1, ["Al"], "reference", "relaxed", 1.0), doc(2, ["Mg"], "reference", "relaxed", 0.5),
            doc(3, ["H", "H"], "reference", "relaxed", -1.0),
            doc(4, ["Mg", "Al", "H", "H", "H"], "candidate", "tc_pending", -0.6, e_above_hull_meV=0.0),
            doc(5, ["Mg", "Al", "H", "H", "H", "H", "H"], "candidate", "off_hull", 0.2, e_above_hull_meV=500.0,
                stage="hull", reason="500.0 meV/atom above the 150 GPa hull (threshold 100)"),
            doc(6, ["Mg", "Al", "H", "H", "H", "H", "H", "H", "H"], "candidate", "failed", None, stage="relax",
                structure=None, reason="not converged to fmax=0.1 eV/A in 40 steps")]
    with open_store(path) as store:
        store.upsert(docs)


def test_readme_is_a_short_guide_with_live_links():
    assert len(README.encode()) <= 12 * 1024
    for link in re.findall(r"\]\(((?:docs|configs)/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
    load_config(ROOT / "configs" / "demo.yaml")  # the campaign the README explains loads


def test_readme_commands_run_against_the_demo_store(tmp_path):
    _demo_like_store(tmp_path / "demo_output" / "hts_store")
    cmds = _commands()
    assert cmds[0] == "hts run configs/demo.yaml" and len(cmds) >= 5  # `make demo` runs that one
    for cmd in cmds[1:]:
        r = subprocess.run([sys.executable, "-m", "hts.cli", *shlex.split(cmd)[1:]], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    assert (tmp_path / "demo_output" / "report" / "report_demo-MgAlH.html").exists()
    assert (tmp_path / "demo.csv").read_text().count("\n") == 4  # header + the three candidates
