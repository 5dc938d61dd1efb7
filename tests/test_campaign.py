"""A small real campaign (Mg-H at 100 GPa, chgnet) on the embedded store.

Checks: every candidate ends in a final status with a reason for negatives; a second
run adds nothing; a structure that cannot be relaxed becomes a failure record while
the other documents stay as they were; the query CLI prints the documents.
"""

import json
import subprocess
import sys

import pytest
from pymatgen.core import Lattice, Structure

from hts.campaign import Campaign
from hts.config import CampaignConfig
from hts.store.documents import FINAL_STATUSES, NEGATIVE_STATUSES
from hts.store.store import open_store

CFG = {
    "name": "test-MgH",
    "systems": ["Mg-H"],
    "pressures_GPa": [100],
    "generators": {"substitution": {"max_atoms": 8},
                   "random": {"n_structures": 3, "stoichiometries": ["MgH4", "MgH2"], "max_atoms": 6, "seed": 7}},
    "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 80},
    "references": {"element_phases": 1},
    "stability": {"hull_threshold_meV": 50},
    "phonons": {"enabled": False},
}


@pytest.fixture(scope="module")
def campaign_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    cfg = CampaignConfig.model_validate({**CFG, "store": {"path": str(path)}})
    store = open_store(path).connect()
    first = Campaign(cfg, store).run()
    yield cfg, store, first, path
    store.close()


def test_every_candidate_has_a_final_status(campaign_store):
    cfg, store, first, _ = campaign_store
    cands = store.find({"campaign": cfg.name, "role": "candidate"})
    assert len(cands) >= 4
    assert all(d["status"] in FINAL_STATUSES for d in cands)
    for d in cands:
        if d["status"] in NEGATIVE_STATUSES:
            assert d["reason"] and d["stage"]
        if d["status"] not in ("failed",):
            assert d["enthalpy_eV_per_atom"] is not None and d["engine"]["model"] == "chgnet"
            assert d["cpu_seconds"]["relax"] > 0
    # references exist and the hull was built from them
    refs = store.find({"campaign": cfg.name, "role": "reference", "status": "relaxed"})
    assert {d["formula"] for d in refs} >= {"Mg", "H2"}
    assert all(d.get("e_above_hull_meV") is not None for d in cands if d["status"] in ("off_hull", "tc_pending"))
    assert any(d["e_above_hull_meV"] == 0 for d in refs + cands if d.get("e_above_hull_meV") is not None)
    # big arrays went to the additional store
    some = cands[0]["id"]
    assert store.get_data(some, "relax_trajectory") is not None


def test_second_run_adds_nothing(campaign_store):
    cfg, store, first, _ = campaign_store
    before = {d["id"]: (d["status"], d.get("enthalpy_eV_per_atom")) for d in store.find({"campaign": cfg.name})}
    second = Campaign(cfg, store).run()
    after = {d["id"]: (d["status"], d.get("enthalpy_eV_per_atom")) for d in store.find({"campaign": cfg.name})}
    assert not second.stages["generate"] and not second.stages["relax"] and not second.stages["dedup"], second.stages
    assert after == before


def test_unrelaxable_structure_becomes_failure_record_and_nothing_else_changes(campaign_store):
    cfg, store, _, _ = campaign_store
    before = {d["id"]: (d["status"], d.get("enthalpy_eV_per_atom")) for d in store.find({"campaign": cfg.name})}
    bad = Structure(Lattice.cubic(3.0), ["Mg", "H", "H"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.52, 0.5, 0.5]])
    store.upsert([{"id": "hts-bad000000001", "campaign": cfg.name, "chemsys": "H-Mg", "system": "H-Mg", "formula": "MgH2",
                   "nelements": 2, "pressure_GPa": 100.0, "origin": {"generator": "manual"}, "status": "generated",
                   "structure_initial": bad.as_dict()}])
    Campaign(cfg, store).run()
    d = store.get("hts-bad000000001")
    assert d["status"] == "failed" and d["stage"] == "relax"
    assert "invalid input structure" in d["reason"]
    after = {d["id"]: (d["status"], d.get("enthalpy_eV_per_atom")) for d in store.find({"campaign": cfg.name})}
    after.pop("hts-bad000000001")
    assert after == before


def test_query_cli_lists_every_candidate(campaign_store):
    cfg, store, _, path = campaign_store
    r = subprocess.run([sys.executable, "-m", "hts.cli", "query", "--store", str(path), "--campaign", cfg.name, "--format", "json"],
                       capture_output=True, text=True, check=True)
    docs = json.loads(r.stdout)
    assert len(docs) == store.count({"campaign": cfg.name, "role": "candidate"})
    for d in docs:
        assert {"id", "formula", "pressure_GPa", "status", "reason"} <= set(d)
    r = subprocess.run([sys.executable, "-m", "hts.cli", "query", "--store", str(path), "--status", "failed", "--format", "csv"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.splitlines()[0].startswith("id,formula,pressure_GPa,status")
    assert "hts-bad000000001" in r.stdout
