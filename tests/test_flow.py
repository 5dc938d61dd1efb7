"""The jobflow version of a campaign runs locally and leaves the same documents."""

from jobflow import run_locally

from flows.campaign import campaign_flow
from hts.config import CampaignConfig
from hts.store.documents import FINAL_STATUSES
from hts.store.store import open_store


def test_flow_runs_locally(tmp_path):
    cfg = CampaignConfig.model_validate({
        "name": "flow-MgH", "systems": ["Mg-H"], "pressures_GPa": [50],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": 2, "stoichiometries": ["MgH2"], "max_atoms": 3, "seed": 1}},
        "relax": {"model": "chgnet", "fmax_eV_A": 0.1, "max_steps": 20},
        "references": {"element_phases": 1}, "phonons": {"enabled": False},
        "store": {"path": str(tmp_path / "store")},
    })
    flow = campaign_flow(cfg, batch_size=2)
    responses = run_locally(flow, root_dir=tmp_path, ensure_success=True, log=False)
    assert len(responses) >= 5  # generate, >= 2 relax batches, dedup, hull, phonons
    with open_store(tmp_path / "store") as store:
        docs = store.find({"campaign": "flow-MgH"})
        assert len(docs) == 4  # 2 random cells + H2 + Mg references
        assert all(d["status"] in FINAL_STATUSES or d["role"] == "reference" for d in docs)
        assert all(d["status"] != "generated" for d in docs)
