"""What a user sees: the funnel keeps its numbers, hulls are labelled by formula, the HTML page works in a
real headless browser (Debian chromium), and `hts run` keeps third-party noise off the console."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from hts.cli import main
from hts.store.store import open_store

ENGINE = {"name": "mlip", "model": "chgnet", "version": "test"}


def _cell(formula: str) -> Structure:
    """A cubic cell of Mg plus n H (or H2, or Mg alone), atoms spread along x."""
    n_h = {"Mg": 0, "H2": 2}.get(formula, int(formula[3:] or 1) if formula.startswith("MgH") else 0)
    species = ([] if formula == "H2" else ["Mg"]) + ["H"] * n_h
    return Structure(Lattice.cubic(6.0), species, [[k / (len(species) + 1), 0.5, 0.5] for k in range(len(species))])


def _doc(i, formula, role, status, h, **kw):
    s = _cell(formula)
    d = {"id": f"hts-{i:012x}", "campaign": "rep", "role": role, "chemsys": "-".join(sorted({e.symbol for e in s.species})),
         "system": "H-Mg", "formula": s.composition.reduced_formula, "nelements": len(s.composition.elements),
         "pressure_GPa": 100.0, "origin": {"generator": "test"}, "status": status, "structure_initial": s.as_dict(),
         "structure": s.as_dict(), "engine": ENGINE, "enthalpy_eV_per_atom": h}
    d.update(kw)
    return d


@pytest.fixture
def store_path(tmp_path):
    """H-Mg at 100 GPa: MgH2 on the hull, MgH4 above it, MgH6 with a DFPT result, one relaxation failure."""
    tc = {"lambda": 1.2, "omega_log_K": 900.0, "tc_allen_dynes_K": [80.0, 95.0], "protocol": "screening",
          "converged_protocol": True, "dyn_stable": True}
    docs = [_doc(1, "Mg", "reference", "relaxed", -1.0), _doc(2, "H2", "reference", "relaxed", -2.0),
            _doc(3, "MgH2", "candidate", "tc_pending", -2.2, e_above_hull_meV=0.0),
            _doc(4, "MgH4", "candidate", "off_hull", -1.5, e_above_hull_meV=620.0, stage="hull",
                 reason="620.0 meV/atom above the 100 GPa hull (threshold 50); decomposes to 0.67 MgH2 + 0.33 H2"),
            _doc(5, "MgH6", "candidate", "tc_done", -1.9, e_above_hull_meV=185.7, tc=tc),
            _doc(6, "MgH3", "candidate", "failed", None, stage="relax", structure=None,
                 reason="not converged to fmax=0.1 eV/A in 40 steps")]
    with open_store(tmp_path / "st") as store:
        store.upsert(docs)
    return tmp_path / "st"


def test_funnel_keeps_numbers_and_hulls_are_named_by_formula(store_path, tmp_path, capsys):
    from hts.report import hull_data

    assert main(["report", "rep", "--store", str(store_path), "--out", str(tmp_path / "r"), "--html"]) == 0
    out = capsys.readouterr().out
    assert "not converged to fmax=0.1 eV/A in 40 steps" in out and "620.0 meV/atom above the 100 GPa hull" in out
    assert "#" not in out.split("statuses:")[0]
    with open_store(store_path) as store:
        (h,) = hull_data(store, "rep")
    assert h["stable"] == ["H2", "Mg", "MgH2"]
    assert {p["formula"]: round(p["e_above_hull_meV"]) for p in h["points"]}["MgH4"] == 620  # by hand: hull at x_H = 0.8 is 0.6 H(MgH2) + 0.4 H(H2) = -2.12 eV/atom
    assert (tmp_path / "r" / "hull_rep_H-Mg_100GPa.png").stat().st_size > 10_000
    page = (tmp_path / "r" / "report_rep.html").read_text()
    labels = re.findall(r'<text class="phase"[^>]*>([^<]+)</text>', page)
    assert labels == sorted(labels, key=["Mg", "MgH2", "H2"].index) and set(labels) == {"H2", "Mg", "MgH2"}
    assert "hts-" not in "".join(re.findall(r"<text[^>]*>[^<]*</text>", page))  # ids only in hover titles
    assert "<title>MgH4 hts-000000000004: 620.0 meV/atom above the hull" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: `make setup` installs it (Debian package chromium)")
    return exe


def test_html_report_in_a_headless_browser(store_path, tmp_path):
    """The page loads with no console error, sorts by Tc on request, and renders to a screenshot."""
    assert main(["report", "rep", "--store", str(store_path), "--out", str(tmp_path / "r"), "--html"]) == 0
    url = (tmp_path / "r" / "report_rep.html").resolve().as_uri()
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    r = subprocess.run(base + ["--dump-dom", url + "#sort=-ehull"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln]
    assert not [ln for ln in console if "Uncaught" in ln or "Error" in ln], console
    assert 'data-sorted="-ehull"' in r.stdout
    order = re.findall(r'<tr data-formula="([^"]+)"', r.stdout)
    assert order == ["MgH6", "MgH2"], order  # sorted by e_above_hull, descending
    shot = tmp_path / "shot.png"
    r = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1200,1400", url], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and shot.stat().st_size > 20_000, r.stderr[-2000:]


def test_run_console_is_quiet_and_ends_with_the_funnel(tmp_path):
    """A tiny campaign through the CLI: no third-party warning or model banner on the console; the funnel
    and where the outputs are at the end; the noise is in the campaign's log file."""
    import yaml

    cfg = {"name": "quiet", "systems": ["Mg-H"], "pressures_GPa": [50],
           "generators": {"substitution": {"enabled": False},
                          "random": {"n_structures": 1, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 1}},
           "relax": {"model": "chgnet", "max_steps": 10}, "references": {"element_phases": 1},
           "phonons": {"enabled": True, "filter": False, "max_supercell_atoms": 16, "mesh": 2, "max_candidates": 1},
           "stability": {"hull_threshold_meV": 10000}, "store": {"path": "st"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run([sys.executable, "-m", "hts.cli", "run", "c.yaml"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    console = r.stdout + r.stderr
    for noise in ("Warning:", "initialized with", "requires_grad", "PrimitiveMatrix", "aspect"):
        assert noise not in console, (noise, console[-3000:])
    assert "Campaign quiet:" in r.stdout and "reached" in r.stdout and "log: quiet.log" in r.stdout
    assert "hts report quiet" in r.stdout
    log = (tmp_path / "quiet.log").read_text()
    assert "CHGNet" in log or "parameters" in log, log[-2000:]
