"""Learning: dataset export, features, surrogate persistence, acquisition, the retraining loop."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Element, Lattice, Structure

from hts.cli import main
from hts.config import LearningSettings
from hts.generate.prototypes import prototype_structure
from hts.learn.acquisition import acquisition_score, select_targets
from hts.learn.dataset import compsc_table, store_table
from hts.learn.features import FEATURES, mlip_features, structure_features
from hts.learn.loop import history, run_round
from hts.learn.surrogate import ModelMismatch, Surrogate, check_schema, train_surrogate
from hts.store.store import open_store
from hts.tc.formulas import tc_summary

# --- a synthetic store ---------------------------------------------------------------
HOSTS = ["Li", "Be", "Na", "Mg", "Al", "K", "Ca", "Sc", "Ti", "V", "Sr", "Y", "Zr", "Nb", "Ba", "La", "Hf", "Ta"]
TYPES = {"H3S_Im-3m": ("S", 3.1), "CaH6_Im-3m": ("Ca", 3.6), "YH2_Fm-3m_fluorite": ("Y", 4.6)}


def _structure(proto: str, host: str) -> Structure:
    site, a0 = TYPES[proto]
    s = prototype_structure(proto).copy()
    s.replace_species({site: host})
    s = Structure(Lattice.cubic(a0 * (1 + 0.002 * Element(host).Z)), s.species, s.frac_coords)
    return s


def _oracle(s: Structure):
    """Synthetic 'DFPT': light hosts couple strongly; the XH2 (fluorite) cells and Ba hydrides are dynamically unstable."""
    z = np.mean([e.Z for e in s.composition.elements if e.symbol != "H"])
    hf = s.composition.get_atomic_fraction(Element("H"))
    if "Ba" in s.composition or hf < 0.7:
        return None
    lam = 0.3 + 2.2 * hf * (1.0 if z < 25 else 0.25)
    return lam, 400.0 + 1200.0 * hf * (1.0 if z < 25 else 0.6)


def _doc(cid, campaign, s, status="tc_pending", **kw):
    comp = s.composition
    d = {"id": cid, "campaign": campaign, "chemsys": "-".join(sorted(str(e) for e in comp.elements)), "system": "x",
         "formula": comp.reduced_formula, "nelements": len(comp.elements), "pressure_GPa": 200.0,
         "origin": {"generator": "test"}, "status": status, "structure_initial": s.as_dict(), "structure": s.as_dict(),
         "engine": {"name": "mlip", "model": "test", "version": "0"}, "enthalpy_eV_per_atom": -1.0, "e_above_hull_meV": 5.0}
    d.update(kw)
    return d


def _label(d):
    """Apply the oracle to a selected document (what the DFPT stage will do)."""
    s = Structure.from_dict(d["structure"])
    r = _oracle(s)
    if r is None:
        d.update(status="dyn_unstable", stage="dfpt", reason="imaginary DFPT modes", tc={"dyn_stable": False})
    else:
        d.update(status="tc_done", tc={**tc_summary(r[0], r[1]), "dyn_stable": True, "protocol": "screening"})
    return d


@pytest.fixture
def synthetic_store(tmp_path):
    store = open_store(tmp_path / "store").connect()
    docs, i = [], 0
    for proto in TYPES:
        for host in HOSTS:
            s = _structure(proto, host)
            i += 1
            heavy = Element(host).Z >= 38
            if heavy and i % 2 == 0:  # a previous campaign labelled some heavy-host hydrides only
                docs.append(_label(_doc(f"seed-{i:03d}", "seed", s)))
            else:
                docs.append(_doc(f"cand-{i:03d}", "loop", s))
    docs.append(_doc("fail-001", "loop", _structure("H3S_Im-3m", "Li"), status="failed", stage="relax", reason="diverged"))
    docs.append(_doc("off-001", "loop", _structure("CaH6_Im-3m", "Na"), status="off_hull", stage="hull", reason="150 meV above"))
    docs.append(_doc("dup-001", "loop", _structure("CaH6_Im-3m", "Na"), status="duplicate", stage="dedup", reason="same as off-001",
                     duplicate_of="off-001"))
    store.upsert(docs)
    yield store
    store.close()


# --- features -----------------------------------------------------------------------
def test_features_h3s_hand_computed():
    a = 3.09
    s = Structure(Lattice.cubic(a), ["S", "S"] + ["H"] * 6,
                  [[0, 0, 0], [.5, .5, .5], [.5, 0, 0], [0, .5, 0], [0, 0, .5], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    f = structure_features(s, 150.0)
    assert f["spacegroup"] == 229
    assert f["h_fraction"] == pytest.approx(0.75)
    assert f["volume_per_atom_A3"] == pytest.approx(a**3 / 8)
    assert f["d_XH_min_A"] == pytest.approx(a / 2)  # S-H along the cube edge
    assert f["d_HH_min_A"] == pytest.approx(a / 2)  # H at (1/2,0,0) and (1/2,1/2,0)
    assert f["n_H_neigh_1p6"] == 4.0  # each H: four H at a/2 = 1.545 A, the next at a/sqrt(2)
    assert f["frac_H_molecular"] == 0.0
    assert f["host_X_mean"] == pytest.approx(2.58) and f["host_valence_mean"] == 6.0
    assert set(f) <= set(FEATURES) and all(len(FEATURES[k]) == 2 for k in f)


def test_mlip_features_from_a_stored_phonon_block():
    # DOS g(w) = 1 on 1-3 THz: mean 2 THz, omega_log = exp(int ln w g/w / int g/w) = exp(((ln 3)^2 - (ln 1)^2) / (2 ln 3))
    w = np.linspace(1.0, 3.0, 2001)
    doc = {"engine": {"name": "mlip"}, "enthalpy_eV_per_atom": -1.5, "e_above_hull_meV": 12.0,
           "phonon": {"min_frequency_THz": -0.2, "h_mean_frequency_THz": 41.0}}
    f = mlip_features(doc, {"dos_frequencies_THz": w, "dos": np.ones_like(w)})
    assert f["mlip_phonon_mean_THz"] == pytest.approx(2.0, rel=1e-4)
    assert f["mlip_phonon_wlog_K"] == pytest.approx(math.sqrt(3.0) * 47.99243073, rel=1e-4)
    assert f["mlip_phonon_H_mean_THz"] == 41.0 and f["mlip_phonon_min_THz"] == -0.2
    assert math.isnan(mlip_features({})["mlip_phonon_H_mean_THz"])  # a literature row: no MLIP stage


def test_compsc_table_reads_every_structure(compsc_dir):
    df = compsc_table(compsc_dir)
    assert len(df) == 586
    assert df["lambda"].notna().sum() == 583 and df["omega_log_K"].notna().sum() == 566
    te = df[df["formula"] == "TeH4"]
    assert {270.0, 300.0} <= set(te["pressure_GPa"])  # two rows hold '270Pa.vasp' in the pressure column
    h3s = df[(df["formula"] == "H3S") & (df["lambda"] > 0)].iloc[0]
    assert h3s["tc_ad_high_K"] > h3s["tc_ad_low_K"] > 0 and (df["status"] == "tc_done").all()


# --- export -------------------------------------------------------------------------
def test_export_keeps_every_candidate_and_status(synthetic_store, tmp_path):
    store = synthetic_store
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"t.{fmt}"
        assert main(["dataset", "export", "--store", str(tmp_path / "store"), "--out", str(out)]) == 0
        df = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
        want = {}
        for d in store.find({"role": "candidate"}, properties=["status"]):
            want[d["status"]] = want.get(d["status"], 0) + 1
        assert df["status"].value_counts().to_dict() == want
        assert len(df) == store.count({"role": "candidate"})
        assert set(want) >= {"failed", "off_hull", "duplicate", "tc_done", "tc_pending"}
        failed = df[df["status"] == "failed"].iloc[0]
        assert failed["failure_stage"] == "relax" and failed["reason"] == "diverged"
        assert set(FEATURES) <= set(df.columns)
    mine = store_table(store, "loop")
    assert len(mine) == store.count({"campaign": "loop", "role": "candidate"})


# --- model persistence and refusal ------------------------------------------------------
def test_model_saved_with_hash_and_refused_on_feature_mismatch(synthetic_store, tmp_path):
    table = store_table(synthetic_store)
    m = train_surrogate(table)
    assert m.meta["n_train"] == (table["lambda"] > 0).sum() and len(m.meta["training_hash"]) == 16
    path = m.save(tmp_path / "m.skops")
    again = Surrogate.load(path)
    check_schema(again)
    p1, p2 = m.predict(table), again.predict(table)
    assert np.allclose(p1["lambda_pred"], p2["lambda_pred"])
    assert (p1["lambda_lo90"] <= p1["lambda_pred"]).all() and (p1["lambda_pred"] <= p1["lambda_hi90"]).all()
    with pytest.raises(ModelMismatch, match="feature list differs"):
        Surrogate.load(path, features=m.features[:-1])
    with pytest.raises(ModelMismatch, match="lacks the model's features"):
        m.predict(table.drop(columns=[m.features[0]]))
    again.meta["feature_schema"] = "000000000000"
    with pytest.raises(ModelMismatch, match="feature schema"):
        check_schema(again)
    bad = tmp_path / "bad.skops"
    again.save(bad)
    assert main(["predict", "loop", "--store", str(tmp_path / "store"), "--model", str(bad)]) == 2
    assert main(["predict", "loop", "--store", str(tmp_path / "store"), "--model", str(path), "--format", "json"]) == 0


# --- acquisition ----------------------------------------------------------------------
def test_acquisition_rules_hand_computed():
    pred = pd.DataFrame({"id": ["a", "b", "c"], "tc_mean_K": [100.0, 80.0, 10.0], "tc_sd_K": [5.0, 40.0, 1.0],
                         "tc_pred_K": [100.0, 80.0, 10.0], "p_stable": [1.0, 0.5, np.nan]})
    assert acquisition_score(pred, "ucb", 1.0).tolist() == [105.0, 60.0, 11.0]
    # EI of 'a' over best = 100: sd * pdf(0) = 5 / sqrt(2 pi)
    assert acquisition_score(pred, "ei", best_tc_K=100.0)[0] == pytest.approx(5 / math.sqrt(2 * math.pi))
    ids = list(np.arange(30).astype(str))
    many = pd.DataFrame({"id": ids, "tc_mean_K": np.arange(30.0), "tc_sd_K": 1.0, "tc_pred_K": np.arange(30.0), "p_stable": np.nan})
    sel = select_targets(many, 10, "ucb", exploration_share=0.4, seed=1)
    assert len(sel) == 10 and sel["id"].is_unique
    assert sorted(sel[sel["bucket"] == "exploit"]["tc_pred_K"]) == [24.0, 25.0, 26.0, 27.0, 28.0, 29.0]
    assert (sel[sel["bucket"] == "low"]["tc_pred_K"] < 8).all() and len(sel[sel["bucket"] == "low"]) == 2
    assert sel[sel["bucket"] == "middle"]["tc_pred_K"].between(8, 16).all()


# --- the loop -----------------------------------------------------------------------
def test_second_round_retrains_on_first_round_results(synthetic_store, tmp_path):
    store = synthetic_store
    settings = LearningSettings(enabled=True, compsc=False, n_per_round=6, exploration_share=0.34, model_dir=str(tmp_path / "models"))
    r1 = run_round(store, "loop", settings)
    n_seed = store.count({"campaign": "seed", "status": "tc_done"})
    n_seed_neg = store.count({"campaign": "seed", "status": "dyn_unstable"})
    assert r1.round == 1 and len(r1.selected) == 6 and r1.n_unstable == n_seed_neg > 0
    assert r1.n_train == n_seed  # only the previous campaign's labels exist
    sel1 = store.find({"campaign": "loop", "selection.round": 1})
    assert sorted(d["id"] for d in sel1) == r1.selected
    assert {d["selection"]["bucket"] for d in sel1} == {"exploit", "low", "middle"}
    # what round 1's model would pick next from what is left
    left = [d for d in store.find({"campaign": "loop", "status": "tc_pending"}) if not d.get("selection")]
    r1_next = {d["id"] for d in sorted(left, key=lambda d: -(d["prediction"]["tc_K"]))[:4]}

    # "DFPT" on the selection: labels and negatives go back into the store
    store.upsert([_label(d) for d in sel1])
    n_neg = sum(d["status"] == "dyn_unstable" for d in store.find({"id": {"$in": r1.selected}}))
    assert 0 < n_neg < len(r1.selected)  # round 1 found both couplings and negatives

    r2 = run_round(store, "loop", settings)
    assert r2.round == 2
    assert r2.n_train == n_seed + len(r1.selected) - n_neg  # retrained on what round 1 added
    assert r2.n_stability == n_seed + n_seed_neg + len(r1.selected)  # negatives included
    assert r2.n_unstable == n_seed_neg + n_neg
    assert not set(r2.selected) & set(r1.selected)  # nothing is computed twice
    exploit2 = {d["id"] for d in store.find({"selection.round": 2, "selection.bucket": "exploit"})}
    print("round-1 model's next picks", sorted(r1_next), "round-2 exploit", sorted(exploit2))
    assert not exploit2 <= r1_next  # the ranking changed with the new data
    h = history(store, "loop")
    assert [x["round"] for x in h] == [1, 2] and h[0]["training_hash"] != h[1]["training_hash"]
    assert h[1]["model_error"]["n_labelled"] == len(r1.selected) - n_neg and h[1]["model_error"]["n_negative"] == n_neg
    assert h[1]["best_tc_K"] is not None and h[1]["best_tc_K"] > 0

    # the report shows the loop's history and a parity plot of selection-time predictions vs "DFPT"
    assert main(["report", "loop", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "parity_loop.png").stat().st_size > 10_000


def test_documented_schema_is_current(capsys):
    from pathlib import Path

    assert main(["dataset", "schema"]) == 0
    table = capsys.readouterr().out
    doc = (Path(__file__).resolve().parents[1] / "docs" / "dataset_schema.md").read_text()
    assert table.strip() in doc, "docs/dataset_schema.md is stale: regenerate with `hts dataset schema`"


def test_shuffled_folds_see_a_formula_at_other_pressures_grouped_folds_do_not():
    """lambda here is a property of the formula alone (a random value per formula, unrelated to anything a model
    could learn across formulas); a fingerprint feature identifies the formula. Tran & Vu's shuffled folds put
    the same formula at other pressures in training, so ln(lambda) is recalled; formula-grouped folds cannot."""
    from hts.learn.cv import grouped_cv, random_fold_log_rmse

    rng = np.random.default_rng(0)
    rows = []
    for k, fingerprint in enumerate(rng.permutation(20) / 20):  # evenly spaced: each formula is separable
        lam, wlog = rng.uniform(0.3, 3.0), rng.uniform(300, 2000)
        rows += [{"id": f"x{k}-{p}", "formula": f"X{k}H6", "lambda": lam, "omega_log_K": wlog,
                  "volume_per_atom_A3": fingerprint} for p in range(100, 260, 20)]  # 8 pressures
    table = pd.DataFrame(rows)
    shuffled = np.mean(random_fold_log_rmse(table)["ln_lambda_rmse"])
    grouped = grouped_cv(table)["ln_lambda_rmse"]
    assert shuffled < 0.15 < 0.45 < grouped, (shuffled, grouped)  # spread of ln(lambda) itself: 0.55


class _Payload:
    """A pickle whose loading runs a command (writes a file): what a crafted model file would do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


def test_crafted_model_files_do_not_execute(tmp_path):
    import pickle
    import zipfile

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelMismatch, match="pickle/joblib models are refused"):
        Surrogate.load(evil)
    assert main(["predict", "x", "--model", str(evil), "--store", str(tmp_path / "none")]) == 2
    # a zip that names a foreign type (a skops archive made from a pickle-reducing object) is refused unread
    import skops.io as sio

    sk = tmp_path / "evil.skops"
    sio.dump({"payload": _Payload(marker)}, sk)
    assert zipfile.is_zipfile(sk)
    with pytest.raises(ModelMismatch, match="never holds"):
        Surrogate.load(sk)
    assert not marker.exists()
