"""The shipped fine-tuned prescreen potential (data/potential/model): its record matches the committed labels, and a
small subset of the element-reference benchmark holds (the full set: benchmarks/element_references.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "data" / "potential" / "model"
LABELS = ROOT / "data" / "potential" / "labels.jsonl"


def _pwx_volume(element: str, pressure: float, phase: str) -> float:
    """pw.x vc-relax volume per atom (psl-us-pbe, the labels' k spacing) committed by benchmarks/element_references.py."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from element_references import dft_by_phase, rows

    return dft_by_phase(rows(), element, pressure)[phase]["volume_A3_per_atom"]


def test_shipped_model_record_matches_the_committed_labels():
    """Each shipped member names committed label files, and the labels it was built from (training and held out) are
    in them unchanged: their training hash is the record's. Labels added to the files since do not count."""
    from hts.potential.finetune import FinetuneSettings, label_files, training_hash, training_labels

    for model in (MODEL, MODEL.parent / "model-s1"):
        meta = json.loads((model / "model.json").read_text())
        files = label_files(meta)
        assert files and all(not f.is_absolute() and (ROOT / f).is_file() for f in files)
        s = meta["settings"]
        kept = FinetuneSettings(family=s["family"], max_pressure_GPa=s["max_pressure_GPa"],
                                wall_max_pressure_GPa=s.get("wall_max_pressure_GPa"))
        ids = set(meta["train_ids"]) | set(meta["val_ids"])
        labels = [r for r in training_labels([ROOT / f for f in files], kept) if r["id"] in ids]
        assert len(labels) == meta["n_labels"] == len(ids)  # every label it was built from is in the repository
        assert training_hash(labels) == meta["training_hash"]
        assert {"H", "La", "Y", "Ca", "Sr", "Ba", "Mg", "S"} <= set(meta["elements"])
        assert not set(meta["val_groups"]) & set(meta["train_groups"])  # held-out groups are whole prototypes


@pytest.mark.parametrize("element,pressure,phase", [("La", 150.0, "hcp"), ("Ca", 250.0, "fcc")])
def test_element_reference_relaxes_to_the_pwx_volume(element, pressure, phase):
    """Stock CHGNet collapses these (volume factor 0.2-0.3); the fine-tuned model must land within 3 % of pw.x."""
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.stability.references import element_references

    start = next(g.structure for g in element_references([element], pressure) if g.origin["phase"] == phase)
    r = MLIPRelaxMaker(model=str(MODEL), fmax=0.05, max_steps=300).relax(start, pressure)
    assert r.ok, r.reason
    v = r.volume_A3 / r.n_atoms
    assert v == pytest.approx(_pwx_volume(element, pressure, phase), rel=0.03)


def test_weights_md5_tells_a_retrained_model_apart(tmp_path):
    """Results keyed by a model directory must change when its weights do (a retrain in the same place)."""
    from hts.relax.mlip import weights_md5

    assert weights_md5("chgnet") is None
    assert weights_md5(str(MODEL)) is not None and len(weights_md5(str(MODEL))) == 12
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.pt").write_bytes(b"a")
    first = weights_md5(str(d))
    (d / "weights.pt").write_bytes(b"b")
    assert first == "0cc175b9c0f1" and weights_md5(str(d)) != first  # md5("a") = 0cc175b9c0f1b6a8...


def test_shipped_committee_members_agree_with_dft_on_labels_both_trained_on():
    """The committee's second member (data/potential/model-s1: same labels, seed 1, another grouped split): on hydride
    labels both members trained on, each lands near the DFT energy on the DFT scale (its own offsets), and their
    spread is what `relax.committee` stores."""
    from hts.config import CampaignConfig
    from hts.potential.committee import member_predictions, spread
    from hts.potential.finetune import read_labels

    other = ROOT / "data" / "potential" / "model-s1"
    m0, m1 = (json.loads((d / "model.json").read_text()) for d in (MODEL, other))
    assert m0["training_hash"] == m1["training_hash"] and m0["settings"]["seed"] != m1["settings"]["seed"]
    assert m0["val_groups"] != m1["val_groups"]  # another seed holds out other prototypes
    shared = set(m0["train_ids"]) & set(m1["train_ids"])
    hydrides = [r for r in read_labels(LABELS, "psl-us-pbe") if r["id"] in shared and "H" in r["species"]
                and len(set(r["species"])) == 2 and r["origin"].get("source") == "prototype"]
    assert len(hydrides) >= 20
    errors = []  # eV/atom, per label and member, at the label's own cell
    for r in sorted(hydrides, key=lambda r: r["id"])[:6]:
        preds = member_predictions(r["structure"], 0.0, [str(MODEL), str(other)])
        errors.append([e - r["energy_eV"] / len(r["species"]) for e, _ in preds])
        assert all(f.shape == (len(r["species"]), 3) for _, f in preds)
        d = spread(preds)
        assert d.n_members == 2 and 0.0 < d.enthalpy_std_meV_per_atom < 150.0 and d.force_std_eV_A > 0.0
    # each member's mean error on them (the shipped one: about 0.10 eV/atom) stays within 0.15 eV/atom
    assert all(m < 0.15 for m in np.abs(errors).mean(axis=0)), errors
    cfg = CampaignConfig.model_validate({"name": "c", "systems": ["H-La"], "pressures_GPa": [200],
                                         "relax": {"model": str(MODEL), "committee": [str(other)]}})
    assert cfg.relax.committee == [str(other)]


def test_mean_calculator_averages_the_members():
    """benchmarks/mlip_fidelity.py relaxes with a committee's mean ("A+B"): energy, forces and stress are the members'
    means, on a hydride label's own cell."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from hts.potential.committee import MeanCalculator
    from hts.potential.finetune import read_labels
    from hts.relax.mlip import get_calculator

    members = [str(MODEL), str(ROOT / "data" / "potential" / "model-s1")]
    r = next(r for r in read_labels(LABELS, "psl-us-pbe") if r["origin"].get("prototype") == "CaH6_Im-3m")
    atoms = AseAtomsAdaptor.get_atoms(r["structure"])
    each = []
    for m in members:
        a = atoms.copy()
        a.calc = get_calculator(m)
        each.append((a.get_potential_energy(), a.get_forces(), a.get_stress()))
    atoms.calc = MeanCalculator(members)
    assert atoms.get_potential_energy() == pytest.approx(np.mean([e for e, _, _ in each]), abs=1e-6)
    assert np.allclose(atoms.get_forces(), np.mean([f for _, f, _ in each], axis=0), atol=1e-6)
    assert np.allclose(atoms.get_stress(), np.mean([s for _, _, s in each], axis=0), atol=1e-8)
    assert not np.allclose(each[0][1], each[1][1], atol=1e-3)  # the members differ, so the mean is not either one


def test_pwx_puts_molecular_hydrogen_and_bcc_magnesium_lowest_at_150_and_250_GPa():
    """The element benchmark's phase order (benchmarks/element_references.py --all-phases) on its committed pw.x rows:
    in DFT-PBE the molecular phases of hydrogen stay below the atomic I4_1/amd phase up to about 400-500 GPa (Pickard
    and Needs, Nat. Phys. 3, 473 (2007); McMahon and Ceperley, PRL 106, 165302 (2011)), so at 150 and 250 GPa pw.x's
    lowest phase must be molecular; with a phase missing there is no order to compare."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from element_references import dft_lowest, rows

    done = rows()
    phases = ["H2_Pa-3", "H2_P6_3/mmc-molecular", "H_I4_1/amd"]
    for p in (150.0, 250.0):
        assert dft_lowest(done, "H", p, phases).startswith("H2_")
        # magnesium is bcc from about 50 GPa to about 450 GPa (Olijnyk and Holzapfel, PRB 31, 4682 (1985); Li, Gao,
        # Wang and Ma, J. Phys. Chem. C 114, 21745 (2010)): of the trial phases pw.x must put bcc lowest
        assert dft_lowest(done, "Mg", p, ["fcc", "bcc", "hcp", "sc"]) == "bcc"
    assert dft_lowest(done, "H", 150.0, [*phases, "H_fcc"]) is None
    # rows of a denser k mesh are read apart from the labels' (rows without a spacing: 0.35/A)
    mine = [{"kind": "dft", "element": "X", "pressure_GPa": 1.0, "phase": ph, "ok": True, "enthalpy_eV_per_atom": e,
             **({"k_spacing_invA": 0.18} if fine else {})}
            for ph, e, fine in [("a", 0.0, False), ("b", 0.1, False), ("a", 0.2, True), ("b", 0.1, True)]]
    assert dft_lowest(mine, "X", 1.0, ["a", "b"]) == "a" and dft_lowest(mine, "X", 1.0, ["a", "b"], 0.18) == "b"
    assert dft_lowest(mine, "X", 1.0, ["a", "b"], 0.25) is None


def test_hydrogen_trial_cells_keep_the_bond_near_the_pwx_volume():
    """hts's hydrogen trial phases start within 5 % of pw.x's relaxed volume of its lowest phase (the committed rows of
    benchmarks/element_references.py), with the molecules' 0.74 A bond intact and their space groups kept: the
    earlier cells started twice too large with bonds squeezed to 0.64 A, and a soft potential closed them on the way."""
    import sys

    from hts.stability.references import element_references

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from element_references import dft_by_phase, dft_lowest, rows

    done = rows()
    groups = {"H2_Pa-3": "Pa-3", "H2_P6_3/mmc-molecular": "P6_3/mmc", "H_I4_1/amd": "I4_1/amd"}
    for p in (150.0, 250.0):
        v_dft = dft_by_phase(done, "H", p)[dft_lowest(done, "H", p, list(groups))]["volume_A3_per_atom"]
        for g in element_references(["H"], p):
            s = g.structure
            assert s.volume / len(s) == pytest.approx(v_dft, rel=0.05)
            assert s.get_space_group_info()[0] == groups[g.origin["phase"]]
            d = s.distance_matrix + 9 * np.eye(len(s))
            if g.origin["phase"].startswith("H2_"):
                assert np.allclose(d.min(axis=1), 0.74, atol=1e-6)  # every atom has its partner at the bond length
                assert np.sort(d, axis=1)[:, 1].min() > 1.0  # and the next atom is another molecule's


def test_element_phase_energies_sign_the_model_minus_pwx_error_per_phase():
    """benchmarks/element_phase_energies.py: per (element, phase, pressure) the signed error per atom, model plus the
    element's offset minus pw.x, in meV; hand-computed for two-atom cells with an offset of -1 eV/atom."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from element_phase_energies import phase_errors

    def label(phase, e_dft):
        return {"species": ["H", "H"], "energy_eV": e_dft, "origin": {"source": "element", "phase": phase, "pressure_GPa": 150}}

    labels = [label("H2_Pa-3", -26.0), label("H2_Pa-3", -26.1), label("H_I4_1/amd", -25.8)]
    preds = [{"e_eV": -23.8}, {"e_eV": -24.0}, {"e_eV": -24.0}]  # model scale: the offsets (2 x -1 eV) added back
    errs = phase_errors(labels, preds, {"H": -1.0})
    assert errs[("H", "H2_Pa-3", 150.0)] == pytest.approx([100.0, 50.0])  # (-23.8 - 2 + 26.0) / 2 atoms = +0.1 eV
    assert errs[("H", "H_I4_1/amd", 150.0)] == pytest.approx([-100.0])  # too low: the atomic phase is favoured


def test_soft_mode_rise_pairs_the_two_amplitudes_of_one_mode():
    """benchmarks/soft_mode_rise.py: labels of one mode at 0.1 and 0.2 A pair up (a rattled label, another q and a
    lone amplitude do not), and the rise per atom is hand-computed: (-99.2 - -100.0) eV / 16 atoms = +50 meV."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from soft_mode_rise import mode_pairs, rise_meV, summary

    def label(i, amp, q=(0.0, 0.0, 0.5), rattle=0.0, e=-100.0):
        return {"id": i, "energy_eV": e, "n_atoms": 16, "origin": {
            "source": "soft_mode", "prototype": "CaH6_Im-3m", "map": {}, "pressure_GPa": 150.0, "q": list(q),
            "band": 0, "supercell": [1, 1, 2], "volume_strain": 0.0, "model": "m", "amplitude_A": amp,
            "rattle_A": rattle}}

    labels = [label("a", 0.1), label("b", 0.2, e=-99.2), label("c", 0.2, rattle=0.05), label("d", 0.1, q=(0.5, 0, 0))]
    pairs = mode_pairs(labels)
    assert [(lo["id"], hi["id"]) for lo, hi in pairs] == [("a", "b")]
    assert rise_meV(pairs[0][0]["energy_eV"], pairs[0][1]["energy_eV"], 16) == pytest.approx(50.0)
    # (pw.x, model) rises: signs agree but for the last; ratios where pw.x rises 0.5, 1 and -0.1, median 0.5
    assert summary([(50.0, 25.0), (-10.0, -5.0), (20.0, 20.0), (30.0, -3.0)]) == (4, 3, pytest.approx(0.5))


def test_potential_fidelity_splits_a_groups_energy_error_into_its_mean_and_the_rest():
    """benchmarks/potential_fidelity.py --by-group: errors of +100, +300 and +200 meV/atom (one-atom cells, offset
    -1 eV) are a mean of +200 and 200/3 about it."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from potential_fidelity import energy_bias_and_scatter

    labels = [{"species": ["H"], "energy_eV": -5.0}] * 3
    preds = [{"e_eV": -3.9}, {"e_eV": -3.7}, {"e_eV": -3.8}]  # -3.9 - 1 + 5 = +0.1 eV
    assert energy_bias_and_scatter(labels, preds, {"H": -1.0}) == pytest.approx((200.0, 200.0 / 3))
