"""The campaign core's shape: one stage table, stage modules that only decide, no import circles."""

import ast
import re
from pathlib import Path

import pytest

from hts.stages.table import STAGES, enabled_stages, stage

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """hts modules a file imports at module level (function-level imports are lazy, not cycles at import)."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hts"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("hts")}
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circle_and_hts_never_imports_flows():
    files = {_module(p): p for p in (ROOT / "hts").rglob("*.py")}
    graph = {m: {i for i in _imports(p) if i in files} for m, p in files.items()}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [n]))
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    for p in (ROOT / "hts").rglob("*.py"):
        assert not re.search(r"^\s*(from|import) flows", p.read_text(), re.M), f"{p} imports flows"


def test_small_modules_and_a_short_campaign():
    assert len((ROOT / "hts" / "campaign.py").read_text().splitlines()) < 150
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "hts").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > 400}
    assert not big, big


def test_stage_modules_decide_and_never_write():
    for st in STAGES:
        mod = st.load()
        assert callable(mod.query) and callable(mod.decide), st.name
        src = Path(mod.__file__).read_text()
        assert not re.search(r"\.(upsert|put_data|put_data_many|update|remove_docs)\(\s*\[?\s*(d|docs|v)\b", src) \
            or st.name == "generate", st.name
        assert "store" not in re.findall(r"def decide\(([^)]*)\)", src)[0], st.name


def test_the_table_drives_report_resume_and_switches():
    from hts.config import CampaignConfig
    from hts.report import funnel

    names = [s.name for s in STAGES]
    assert names == ["generate", "relax", "dedup", "hull", "phonons", "select", "dft_hull", "tc"]
    cfg = CampaignConfig.model_validate({"name": "t", "systems": ["Mg-H"], "pressures_GPa": [50]})
    assert [s.name for s in enabled_stages(cfg)] == ["generate", "relax", "dedup", "hull", "phonons"]
    on = cfg.model_copy(update={"tc": cfg.tc.model_copy(update={"enabled": True, "protocol": "screening"}),
                                "learning": cfg.learning.model_copy(update={"enabled": True})})
    assert [s.name for s in enabled_stages(on)] == names
    assert stage("tc").inputs == ("tc_pending",) and stage("relax").inputs == ("generated",)
    with pytest.raises(KeyError, match="unknown stage"):
        stage("nope")

    class Empty:
        def find(self, *a, **k):
            return []

    rows = funnel(Empty(), "t")["rows"]
    assert [r["stage"] for r in rows] == [s.funnel for s in STAGES if s.funnel]


def test_random_search_shortcuts_leave_typed_records(tmp_path):
    """A random cell that already matches a relaxed cell is a duplicate without relaxation; one whose enthalpy
    after the first step is far above the best of its formula is abandoned (failed, failure_type abandoned)."""
    from pymatgen.core import Lattice, Structure

    from hts.campaign import Campaign
    from hts.config import CampaignConfig
    from hts.store.store import open_store

    cfg = CampaignConfig.model_validate({
        "name": "rs", "systems": ["Mg-H"], "pressures_GPa": [50],
        "generators": {"random": {"abandon_after_steps": 1, "abandon_above_meV_per_atom": 100}},
        "relax": {"model": "chgnet", "max_steps": 5}, "store": {"path": str(tmp_path / "st")}})
    rutile = Structure.from_spacegroup(136, Lattice.tetragonal(4.1, 2.7), ["Mg", "H"], [[0, 0, 0], [0.304, 0.304, 0]])
    other = Structure(Lattice.cubic(3.2), ["Mg", "H", "H"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5]])
    base = {"campaign": "rs", "role": "candidate", "chemsys": "H-Mg", "system": "H-Mg", "formula": "MgH2", "nelements": 2,
            "pressure_GPa": 50.0}
    known = {**base, "id": "hts-known0000001", "origin": {"generator": "prototype"}, "status": "relaxed",
             "structure_initial": rutile.as_dict(), "structure": rutile.as_dict(), "enthalpy_eV_per_atom": -100.0,
             "engine": {"name": "mlip", "model": "chgnet", "version": "x"}}
    same = {**base, "id": "hts-same00000001", "origin": {"generator": "random"}, "status": "generated",
            "structure_initial": rutile.as_dict()}
    far = {**base, "id": "hts-far000000001", "origin": {"generator": "random"}, "status": "generated",
           "structure_initial": other.as_dict()}
    with open_store(tmp_path / "st") as store:
        store.upsert([known, same, far])
        Campaign(cfg, store).run_stage("relax")
        d = store.get("hts-same00000001")
        assert d["status"] == "duplicate" and d["duplicate_of"] == "hts-known0000001" and d["relax"] is None
        f = store.get("hts-far000000001")
        assert f["status"] == "failed" and f["relax"]["failure_type"] == "abandoned", f.get("reason")
        assert "abandoned after 1 steps" in f["reason"] and f["relax"]["n_steps"] <= 1
