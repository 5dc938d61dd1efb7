"""DFT labels for the prescreen potential (hts.label): deterministic configurations, pw.x scf labels whose pressure
and stress carry pw.x's own sign and units, typed failures, a resumable run and its exported file."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from hts.label.configurations import LabelConfig, label_configurations

HAVE_PW = shutil.which("pw.x") is not None


def test_configurations_are_deterministic_strained_and_rattled():
    a = label_configurations(["Ca"], [150.0], strains=(-0.1, 0.0, 0.1), rattle_A=0.05)
    b = label_configurations(["Ca"], [150.0], strains=(-0.1, 0.0, 0.1), rattle_A=0.05)
    assert [c.id for c in a] == [c.id for c in b] and len({c.id for c in a}) == len(a)
    assert {c.origin["source"] for c in a} == {"element", "prototype"}
    assert {"CaH6", "H2", "Ca"} <= {c.structure.composition.reduced_formula for c in a}
    by = {}
    for c in a:
        key = tuple(sorted((k, str(v)) for k, v in c.origin.items() if k not in ("volume_strain", "rattle_seed")))
        by.setdefault(key, {})[c.origin["volume_strain"]] = c.structure.volume
    for vols in by.values():
        assert vols[-0.1] / vols[0.0] == pytest.approx(0.9) and vols[0.1] / vols[0.0] == pytest.approx(1.1)


def test_ternary_configurations_put_two_metals_on_prototype_sites():
    binary = label_configurations(["La", "Y"], [200.0], strains=(0.0,), max_atoms=12, sources=("prototype",))
    both = label_configurations(["La", "Y"], [200.0], strains=(0.0,), max_atoms=12, sources=("prototype", "ternary"))
    ternary = [c for c in both if c.origin["source"] == "ternary"]
    assert ternary and {c.id for c in binary} <= {c.id for c in both}  # binary ids unchanged by the new source
    for c in ternary:
        els = {e.symbol for e in c.structure.composition.elements}
        assert els == {"La", "Y", "H"} and len(c.structure) <= 12
    assert "LaYH4" in {c.origin["formula"] for c in ternary}  # fluorite YH2 with half the Y replaced by La
    assert len({c.id for c in ternary}) == len(ternary)


def test_phonon_supercells_rattle_periodic_images_independently():
    """--supercells labels the MLIP phonon check's supercells: a rattled primitive cell moves an atom and its images
    alike (zone-centre force constants only); in the supercell the copies move apart (zone-boundary ones too)."""
    from hts.stability.phonons import supercell_matrix

    prim = label_configurations(["Ca"], [150.0], strains=(0.0,), sources=("prototype",), max_atoms=16)
    sc = label_configurations(["Ca"], [150.0], strains=(0.0,), sources=("prototype",), max_atoms=16,
                              supercell_min_length_A=4.5)
    cah6 = next(c for c in sc if c.origin["formula"] == "CaH6")
    base = next(c for c in prim if c.origin["formula"] == "CaH6")
    mult = cah6.origin["supercell"]
    assert mult == supercell_matrix(base.structure, 4.5, 16) and len(cah6.structure) == 7 * int(np.prod(mult)) <= 16
    assert cah6.structure.volume == pytest.approx(base.structure.volume * np.prod(mult), rel=1e-9)
    assert not {c.id for c in sc} & {c.id for c in prim}  # new configurations, not relabels
    # the two Ca copies: their positions differ by a lattice vector of the primitive cell plus independent rattles
    ca = [site.coords for site in cah6.structure if site.specie.symbol == "Ca"]
    f = base.structure.lattice.get_fractional_coords(ca[1] - ca[0])
    d = np.linalg.norm(base.structure.lattice.get_cartesian_coords(f - np.round(f)))
    assert 1e-3 < d < 0.5  # about 0.05 A x sqrt(6): rattled apart, yet the same site
    assert all(len(c.structure) <= 16 and c.origin["supercell"] != [1, 1, 1] for c in sc)


def test_soft_mode_configurations_follow_a_spring_chains_imaginary_mode():
    """H atoms of a conventional bcc cell, each joined to its neighbour one lattice vector along x by a spring of
    negative stiffness kappa (x displacements only): omega^2 = (2 kappa / m)(1 - cos 2 pi q), so Gamma is the
    acoustic zero and q = (1/2, 0, 0) is imaginary, sqrt(4 |kappa| / m_H) by hand. The frozen-phonon cells move
    neighbours along x oppositely, the largest displacement equal to each amplitude. (The cell is not primitive:
    q must stay in its own basis, not in that of the primitive cell phonopy would reduce it to.)"""
    from ase.calculators.calculator import Calculator, all_changes
    from phonopy import Phonopy
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.phonopy import get_phonopy_structure

    from hts.label.soft_modes import soft_mode_configurations

    s = Structure(Lattice.cubic(3.0), ["H", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    sc, kappa = [2, 1, 1], -2.0  # eV/A^2
    ref = Phonopy(get_phonopy_structure(s), supercell_matrix=np.diag(sc)).supercell
    ref_f = np.asarray(ref.scaled_positions)
    nxt = [int(np.argmin(np.abs(((ref_f - (f + [0.5, 0, 0])) + 0.5) % 1 - 0.5).sum(axis=1))) for f in ref_f]

    class XChain(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            d = self.atoms.get_scaled_positions(wrap=False) - ref_f
            ux = ((d - np.round(d)) @ self.atoms.cell.array)[:, 0]
            stretch = ux[nxt] - ux  # bond i -> its +x neighbour
            f = np.zeros((len(ux), 3))
            f[:, 0] = kappa * stretch
            np.add.at(f[:, 0], nxt, -kappa * stretch)
            self.results = {"energy": 0.5 * kappa * float((stretch**2).sum()), "forces": f}

    cfgs = soft_mode_configurations(s, {"formula": "H", "prototype": "toy"}, XChain(), sc, amplitudes_A=(0.05, 0.1),
                                    model="x-chain")
    assert len(cfgs) == 2 and len({c.id for c in cfgs}) == 2  # X alone (Gamma is acoustic) x two amplitudes
    nu = -15.633302 * np.sqrt(4 * abs(kappa) / 1.00794)  # THz: phonopy's factor for eV/A^2/amu
    for c in cfgs:
        assert c.origin["source"] == "soft_mode" and c.origin["model"] == "x-chain" and c.origin["q"] == [0.5, 0, 0]
        assert c.origin["model_frequency_THz"] == pytest.approx(nu, abs=0.1)
        d = c.structure.cart_coords - np.asarray(ref.positions)
        assert np.abs(d[:, 1:]).max() < 1e-9  # along x only
        assert np.abs(d[:, 0]).max() == pytest.approx(c.origin["amplitude_A"], rel=1e-9)
        assert np.allclose(d[nxt, 0], -d[:, 0], atol=1e-9)  # neighbours move oppositely


def test_label_and_finetune_cli_refuse_bad_settings(tmp_path, capsys):
    from hts.cli import main

    assert main(["label", "--store", str(tmp_path / "s"), "--elements", "Ca", "--supercells", "-1"]) == 2
    assert "--supercells must be a positive length" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # refused before any store is made
    assert main(["label", "--store", str(tmp_path / "s"), "--elements", "Ca", "--soft-modes", "chgnet",
                 "--amplitudes", "0.1", "0"]) == 2
    assert "--amplitudes must lie in (0, 0.5] A" in capsys.readouterr().err
    assert main(["label", "--store", str(tmp_path / "s"), "--elements", "Ca", "--volume-labels",
                 str(tmp_path / "none.jsonl")]) == 2
    assert "no label file" in capsys.readouterr().err and not (tmp_path / "s").exists()
    assert main(["finetune", "--out", str(tmp_path / "m"), "--val-share", "1"]) == 2
    assert "--val-share must lie in [0, 1), got 1" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert main(["finetune", "--out", str(tmp_path / "m"), "--refit-offsets"]) == 2
    assert "no model in" in capsys.readouterr().err
    assert main(["finetune", "--out", str(tmp_path / "m"), "--start-from", str(tmp_path / "none")]) == 2
    assert "--start-from" in capsys.readouterr().err and not (tmp_path / "m").exists()
    (tmp_path / "a.jsonl").write_text("")
    assert main(["finetune", "--out", str(tmp_path / "m"), "--labels", str(tmp_path / "a.jsonl"),
                 str(tmp_path / "none.jsonl")]) == 2
    assert f"no label file {tmp_path / 'none.jsonl'}" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(["finetune", "--out", str(tmp_path / "m"), "--labels", str(tmp_path / "a.jsonl"),
                 "--max-angles-per-batch", "0"]) == 2
    assert "max_angles_per_batch 0: a positive number" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_batches_capped_by_bond_angles_keep_every_label_once():
    """A batch closes before it passes the cap (a label above it trains alone) or batch_size; each epoch reshuffles,
    the same seed repeats the epochs."""
    from hts.potential.batching import AngleCappedBatches, pack_batches

    angles = [70_000, 16_000, 16_000, 70_000, 5_000, 200_000, 16_000, 1_000]  # H cells, hydrides, one over the cap
    batches = pack_batches(range(8), angles, batch_size=4, max_angles=150_000)
    assert batches == [[0, 1, 2], [3, 4], [5], [6, 7]]
    assert pack_batches(range(8), [1] * 8, 3, 10**6) == [[0, 1, 2], [3, 4, 5], [6, 7]]  # no cap reached: batch_size
    sampler = AngleCappedBatches(angles, 4, 150_000, seed=3)
    epochs = [list(sampler) for _ in range(3)]
    for ep in epochs:
        assert sorted(i for b in ep for i in b) == list(range(8))
        assert all(len(b) == 1 or sum(angles[i] for i in b) <= 150_000 for b in ep) and max(map(len, ep)) <= 4
    assert epochs[0] != epochs[1]  # a fresh shuffle each epoch
    again = AngleCappedBatches(angles, 4, 150_000, seed=3)
    assert [list(again) for _ in range(3)] == epochs
    with pytest.raises(ValueError, match="must be positive"):
        AngleCappedBatches(angles, 4, 0)


def test_grouped_split_keeps_prototypes_whole_and_share_zero_holds_out_nothing():
    from hts.potential.split import grouped_split, label_group

    def lab(formula, proto, species):
        return {"origin": {"source": "prototype", "formula": formula, "prototype": proto}, "species": species}

    labels = [lab(f"X{i}H6", f"p{i}", ["Ca", "H"]) for i in range(8) for _ in range(3)]
    labels += [lab("YH3", "q", ["Y", "H"])] * 2  # the only Y group: never held out, Y's offset needs it
    train, val = grouped_split(labels, 0.25, seed=0)
    assert sorted(train + val) == list(range(len(labels)))
    assert len({label_group(labels[i]) for i in val}) == 2  # round(0.25 x 9 groups)
    assert not {label_group(labels[i]) for i in val} & {label_group(labels[i]) for i in train}
    assert all(labels[i]["species"] != ["Y", "H"] for i in val)
    assert grouped_split(labels, 0.0, seed=0) == (list(range(len(labels))), [])


def test_label_files_read_in_order_once_per_id(tmp_path):
    """A second training stage reads several label files: in order, a label in two files once, failures skipped; a
    model's record names its files (older records one ``labels_file``)."""
    from hts.potential.finetune import label_files, read_label_files

    def row(i, status="ok"):
        return json.dumps({"id": f"lbl-{i}", "status": status, "settings": {"family": "f"},
                           "lattice_A": np.eye(3).tolist(), "species": ["H"], "positions_A": [[0, 0, 0]]}) + "\n"

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(row(1) + row(2))
    b.write_text(row(2) + row(3, "failed") + row(4))
    assert [r["id"] for r in read_label_files([a, b], "f")] == ["lbl-1", "lbl-2", "lbl-4"]
    assert read_label_files(a, "other") == [] and len(read_label_files(str(b))) == 2
    assert label_files({"labels_files": [str(a), str(b)]}) == [a, b] and label_files({"labels_file": str(a)}) == [a]


def test_wall_cells_are_one_element_cells_hydrogen_only_when_asked():
    from hts.potential.wall import loss_weights, within_pressure

    cells = [{"id": i, "species": sp, "pressure_GPa": p} for i, (sp, p) in enumerate(
        ((["H", "H"], 700.0), (["Li"], 700.0), (["Li", "H"], 700.0), (["H"], 100.0), (["Li"], 1200.0)))]
    assert within_pressure(cells, 350.0) == [cells[3]]
    assert within_pressure(cells, 350.0, 1000.0) == [cells[1], cells[3]]
    assert within_pressure(cells, 350.0, 1000.0, wall_hydrogen=True) == [cells[0], cells[1], cells[3]]
    relative = {"max_pressure_GPa": 350.0, "wall_weight": "relative"}
    assert loss_weights(cells[:4], relative) == {1: pytest.approx(0.25)}
    assert loss_weights(cells[:4], {**relative, "wall_hydrogen": True}) == {0: pytest.approx(0.25), 1: pytest.approx(0.25)}


def test_energy_offsets_are_fit_per_atom():
    """A one-atom cell 1 eV off and a four-atom cell exact: per atom the offset splits the difference (0.5 eV);
    a fit of total energies (the shipped first stage's start, ``--start-offsets total``) lets the big cell win:
    mu minimises (1 - mu)^2 + (4 mu)^2, so mu = 1/17 eV and the small cell stays 0.94 eV/atom off."""
    from hts.cli import main
    from hts.potential.finetune import fit_offsets

    labels = [{"species": ["Mg"], "energy_eV": 1.0}, {"species": ["Mg"] * 4, "energy_eV": 0.0}]
    assert fit_offsets(labels, [0.0, 0.0])["Mg"] == pytest.approx(0.5)
    assert fit_offsets(labels, [0.0, 0.0], per_atom=False)["Mg"] == pytest.approx(1 / 17)
    with pytest.raises(SystemExit):  # argparse refuses any other fit before a label is read
        main(["finetune", "--out", "x", "--start-offsets", "mean"])


@pytest.mark.dft
@pytest.mark.skipif(not HAVE_PW, reason="pw.x (quantum-espresso) not installed")
def test_scf_label_units_signs_failures_and_resume(tmp_path, monkeypatch):
    from pymatgen.core import Lattice, Structure

    from hts.label.dft import LabelSettings, scf_label
    from hts.label.run import export_labels, run_labels
    from hts.store.store import open_store

    monkeypatch.setenv("HTS_PSEUDO_CACHE", str(tmp_path / "cache"))
    coarse = LabelSettings(family="gth-pbe", k_spacing_invA=0.8, ecut_scale=0.6, conv_thr_Ry_per_atom=1e-7)
    al = Structure(Lattice.cubic(3.4), ["Al", "Al", "Al", "Al"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.02, 0.5, 0.5]])
    comp = LabelConfig(al, {"source": "test", "case": "squeezed Al"})
    doc = scf_label(comp, coarse, tmp_path / "al")
    assert doc["status"] == "ok", doc.get("failure")
    out = (tmp_path / "al" / "scf.out").read_text()
    kbar = float(re.search(r"P=\s*(-?[\d.]+)", out).group(1))
    assert doc["pressure_GPa"] == pytest.approx(kbar / 10, abs=0.05)  # pw.x prints kbar, positive = compressed
    assert doc["pressure_GPa"] > 5  # fcc Al squeezed to 9.8 A^3/atom (16.5 at zero pressure)
    stress = np.array(doc["stress_GPa"])
    assert np.allclose(stress, stress.T, atol=1e-3) and (np.diag(stress) < 0).all()  # ASE sign: compression < 0
    f = np.array(doc["forces_eV_A"])
    assert f.shape == (4, 3) and np.abs(f.sum(axis=0)).max() < 1e-3 and np.abs(f).max() > 0.01  # the displaced atom
    assert doc["pseudopotentials"]["files"]["Al"]["md5"] and doc["qe_version"] and doc["k_mesh"]

    xe = LabelConfig(Structure(Lattice.cubic(4.0), ["Xe"], [[0, 0, 0]]), {"source": "test", "case": "no Xe file"})
    bad = scf_label(xe, coarse, tmp_path / "xe")
    assert bad["status"] == "failed" and bad["failure"]["kind"] == "MissingPseudopotential"

    store = open_store(tmp_path / "st").connect()
    configs = label_configurations(["Li"], [100.0], strains=(0.0,), prototypes=False)[:2]
    export = tmp_path / "labels.jsonl"
    assert run_labels(store, configs, coarse, tmp_path / "wd", export=export) == {"ok": 2}
    assert run_labels(store, configs, coarse, tmp_path / "wd", export=export) == {}  # resumed: nothing again
    rows = [json.loads(x) for x in export.read_text().splitlines()]
    assert [r["id"] for r in rows] == sorted(c.id for c in configs) and all(len(r["forces_eV_A"]) == r["n_atoms"] == len(r["species"]) for r in rows)
    store.close()
    fresh = open_store(tmp_path / "st2").connect()  # another machine with the repository's file only
    assert run_labels(fresh, configs, coarse, tmp_path / "wd", export=export) == {}
    assert export_labels(fresh, export) == 2
    fresh.close()


@pytest.mark.dft
@pytest.mark.skipif(not HAVE_PW, reason="pw.x (quantum-espresso) not installed")
def test_label_finetune_relax_loop_on_tiny_settings(tmp_path, monkeypatch):
    """The whole loop in miniature: coarse pw.x labels of Li and H cells, a short fine-tune with per-element offsets
    refit and a grouped validation split, the model saved and refused for elements it never saw, a relaxation at
    pressure with it, and a config naming it."""
    import torch
    from pymatgen.core import Lattice, Structure

    from hts.config import CampaignConfig
    from hts.label.dft import LabelSettings
    from hts.label.run import run_labels
    from hts.potential.finetune import FinetuneSettings, fit_offsets, load_finetuned, read_labels, train
    from hts.relax.relaxer import MLIPRelaxMaker
    from hts.store.store import open_store

    monkeypatch.setenv("HTS_PSEUDO_CACHE", str(tmp_path / "cache"))
    coarse = LabelSettings(family="gth-pbe", k_spacing_invA=0.8, ecut_scale=0.6, conv_thr_Ry_per_atom=1e-7)
    configs = [c for c in label_configurations(["Li"], [100.0], strains=(-0.1, 0.0), prototypes=False)
               if len(c.structure) <= 2][:6]
    export = tmp_path / "labels.jsonl"
    with open_store(tmp_path / "st") as store:
        assert run_labels(store, configs, coarse, tmp_path / "wd", export=export)["ok"] == len(configs)
    labels = read_labels(export)
    assert {s for r in labels for s in r["species"]} == {"H", "Li"}
    # offsets: a known shift per element is recovered exactly from energies that differ by it
    shifted = [r["energy_eV"] - 3.0 * r["species"].count("H") + 1.5 * r["species"].count("Li") for r in labels]
    mu = fit_offsets(labels, shifted)
    assert mu["H"] == pytest.approx(3.0, abs=1e-6) and mu["Li"] == pytest.approx(-1.5, abs=1e-6)

    # CHGNet's StructureData takes VASP stresses (kbar, compression positive): its targets must be the labels' GPa
    from hts.potential.finetune import structure_data

    data = structure_data(labels[:2], {"H": 0.0, "Li": 0.0})
    for i, r in enumerate(labels[:2]):
        assert np.allclose(data[i][1]["s"].numpy(), r["stress_GPa"], atol=1e-4)
        assert float(data[i][1]["e"]) == pytest.approx(r["energy_eV"] / len(r["species"]), rel=1e-6)

    # labels beyond max_pressure_GPa stay in the file but are not trained on
    from hts.potential.finetune import training_labels

    p_mid = sorted(abs(r["pressure_GPa"]) for r in labels)[len(labels) // 2]
    kept = training_labels(export, FinetuneSettings(family="gth-pbe", max_pressure_GPa=p_mid))
    assert 0 < len(kept) < len(labels) and all(abs(r["pressure_GPa"]) <= p_mid for r in kept)
    # the compressed Li cells (the repulsive wall) stay up to wall_max_pressure_GPa; H cells only to max_pressure_GPa
    walled = training_labels(export, FinetuneSettings(family="gth-pbe", max_pressure_GPa=p_mid,
                                                      wall_max_pressure_GPa=1e4))
    assert {r["id"] for r in walled} == {r["id"] for r in kept} | {r["id"] for r in labels
                                                                   if set(r["species"]) == {"Li"}}
    assert len(walled) > len(kept)  # some Li cells lie beyond p_mid
    # --wall-stress-only: exactly those beyond p_mid train forces and stresses, with a NaN energy that the loss skips
    from types import SimpleNamespace

    from chgnet.data.dataset import collate_graphs
    from chgnet.model import CHGNet
    from chgnet.trainer.trainer import CombinedLoss

    from hts.potential.finetune import _masked_energy_loss, energy_free

    free = energy_free(walled, {"max_pressure_GPa": p_mid, "wall_energies": False})
    assert free == {r["id"] for r in walled} - {r["id"] for r in kept}
    assert energy_free(walled, {"max_pressure_GPa": p_mid}) == set()
    beyond = [r for r in walled if r["id"] in free]
    data = structure_data(beyond, {"H": 0.0, "Li": 0.0}, free)
    assert all(np.isnan(float(data[i][1]["e"])) for i in range(len(beyond)))
    assert np.allclose(data[0][1]["s"].numpy(), beyond[0]["stress_GPa"], atol=1e-4)
    graphs, targets = collate_graphs([data[i] for i in range(len(beyond))])
    pred = CHGNet.load(verbose=False)(graphs, task="efs")
    trainer = SimpleNamespace(criterion=CombinedLoss(target_str="efs", energy_loss_ratio=20.0, stress_loss_ratio=0.01))
    assert torch.isnan(trainer.criterion(targets, pred)["loss"])  # CHGNet alone: energy-free labels give a NaN loss
    _masked_energy_loss(trainer)
    loss = trainer.criterion(targets, pred)
    no_e = CombinedLoss(target_str="fs", stress_loss_ratio=0.01)(targets, pred)["loss"]  # forces and stress only
    assert float(loss["loss"]) == pytest.approx(float(no_e), rel=1e-6) and float(no_e) > 0
    # --wall-weight relative: a wall cell beyond p_mid weighs (p_mid / |P|)^2, and its loss gradient scales by it
    from hts.potential.wall import loss_weights

    wts = loss_weights(walled, {"max_pressure_GPa": p_mid, "wall_weight": "relative"})
    assert set(wts) == free and loss_weights(walled, {"max_pressure_GPa": p_mid}) == {}
    w = np.array([(p_mid / abs(r["pressure_GPa"])) ** 2 for r in beyond])
    assert np.allclose([wts[r["id"]] for r in beyond], w) and (w < 1).all()
    _, wtargets = collate_graphs([structure_data(beyond, {"H": 0.0, "Li": 0.0}, weights=wts)[i]
                                  for i in range(len(beyond))])

    def gradients(targets):
        leaf = {"e": pred["e"].detach().clone().requires_grad_(),
                "f": [f.detach().clone().requires_grad_() for f in pred["f"]],
                "s": [s.detach().clone().requires_grad_() for s in pred["s"]]}
        trainer.criterion(dict(targets), leaf)["loss"].backward()
        return leaf["e"].grad.numpy(), [float(s.grad.abs().sum()) for s in leaf["s"]]

    ge_w, gs_w = gradients(wtargets)
    ge, gs = gradients({k: v for k, v in wtargets.items() if k != "w"})
    assert np.allclose(ge_w, w * ge, rtol=1e-4) and np.abs(ge).min() > 0
    assert np.allclose(gs_w, w * np.array(gs), rtol=1e-4) and min(gs) > 0

    out = tmp_path / "model"
    meta = train(export, out, FinetuneSettings(epochs=2, batch_size=4, family="gth-pbe"), threads=1)
    assert meta["elements"] == ["H", "Li"] and meta["n_train"] + meta["n_val"] == len(labels) and meta["n_val"] > 0
    assert sorted(meta["train_ids"] + meta["val_ids"]) == sorted(r["id"] for r in labels)
    assert set(torch.load(out / "weights.pt", weights_only=True))  # a plain state dict
    assert meta["packages"]["torch"] == torch.__version__ and set(meta["packages"]) >= {"chgnet", "numpy", "pymatgen"}
    # the weighted wall through CHGNet's Trainer (the weights ride in the batches' targets)
    wall_meta = train(export, tmp_path / "walled", FinetuneSettings(
        epochs=1, batch_size=4, family="gth-pbe", max_pressure_GPa=p_mid, wall_max_pressure_GPa=1e4,
        wall_weight="relative", val_share=0, max_angles_per_batch=1), threads=1)
    assert wall_meta["n_train"] == len(walled) and wall_meta["settings"]["wall_weight"] == "relative"
    assert wall_meta["settings"]["max_angles_per_batch"] == 1  # every label in a batch of its own, trained all the same
    with pytest.raises(ValueError, match="wall_weight 'heavy'"):
        train(export, tmp_path / "bad", FinetuneSettings(family="gth-pbe", wall_weight="heavy"), threads=1)
    # hts finetune --refit-offsets: offsets spoiled by hand come back to the training's per-atom fit, weights untouched
    from hts.cli import main

    weights = (out / "weights.pt").read_bytes()
    spoiled = {**meta, "offsets_eV_per_atom": {"H": 0.0, "Li": 0.0}}
    spoiled.pop("offset_fit")
    (out / "model.json").write_text(json.dumps(spoiled))
    assert main(["finetune", "--out", str(out), "--refit-offsets"]) == 0
    refit = json.loads((out / "model.json").read_text())
    assert refit["offset_fit"] == meta["offset_fit"] == "per_atom"
    for el, mu in meta["offsets_eV_per_atom"].items():
        assert refit["offsets_eV_per_atom"][el] == pytest.approx(mu, abs=1e-4)
    assert (out / "weights.pt").read_bytes() == weights
    # a second stage continues from the saved weights: at a vanishing learning rate they stay where stage one left them
    stage2 = tmp_path / "model-stage2"
    meta_s2 = train(export, stage2, FinetuneSettings(epochs=1, batch_size=4, family="gth-pbe", learning_rate=1e-12,
                                                     seed=5, start_from=str(out)), threads=1)
    assert meta_s2["val_groups"] == meta["val_groups"] and meta_s2["train_ids"] == meta["train_ids"]  # stage one's split
    w1, w2 = (torch.load(d / "weights.pt", weights_only=True) for d in (out, stage2))
    w0 = CHGNet.load(verbose=False).state_dict()
    assert max(float((w2[k] - w1[k]).abs().max()) for k in w1 if w1[k].is_floating_point()) < 1e-6
    assert max(float((w0[k] - w1[k]).abs().max()) for k in w1 if w1[k].is_floating_point()) > 1e-3
    assert json.loads((stage2 / "model.json").read_text())["settings"]["start_from"] == str(out)
    with pytest.raises(ValueError, match="no weights.pt"):
        train(export, tmp_path / "x", FinetuneSettings(epochs=1, family="gth-pbe", start_from=str(tmp_path)), threads=1)
    # a shorter three-body cutoff travels with the model: trained, saved and loaded; a second stage at another refused
    short = tmp_path / "model-2.5A"
    meta_c = train(export, short, FinetuneSettings(epochs=1, batch_size=4, family="gth-pbe", bond_graph_cutoff_A=2.5),
                   threads=1)
    assert meta_c["settings"]["bond_graph_cutoff_A"] == 2.5 and meta["settings"]["bond_graph_cutoff_A"] == 3.0
    tuned_c, _ = load_finetuned(short)
    bcc = Structure(Lattice.cubic(3.1), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # nearest neighbours 2.68 A apart
    angles = [len(m.graph_converter(bcc).bond_graph) for m in (tuned_c, CHGNet.load(verbose=False))]
    assert angles[0] == 0 < angles[1]
    with pytest.raises(ValueError, match="cutoff of 2.5 A, not 3 A"):
        train(export, tmp_path / "y", FinetuneSettings(epochs=1, family="gth-pbe", start_from=str(short)), threads=1)
    assert main(["finetune", "--out", str(tmp_path / "z"), "--bond-cutoff", "0"]) == 2
    with pytest.raises(ValueError, match="not \\['La'\\]"):
        load_finetuned(out, ["La", "H"])
    tuned, _ = load_finetuned(out, ["Li", "H"])
    s0 = labels[0]["structure"]
    assert abs(float(tuned.predict_structure(s0)["e"]) - float(CHGNet.load(verbose=False).predict_structure(s0)["e"])) > 1e-5
    li = Structure(Lattice.cubic(2.2), ["Li"], [[0, 0, 0]])
    r = MLIPRelaxMaker(model=str(out), fmax=0.1, max_steps=30).relax(li, 100.0)  # 2 epochs on 6 labels: any typed end
    assert r.ok or r.failure_type in ("not_converged", "diverged"), r.reason
    assert "fine-tuned on" in MLIPRelaxMaker(model=str(out)).engine_version
    assert CampaignConfig.model_validate({"name": "ft", "systems": ["Li-H"], "pressures_GPa": [100],
                                          "relax": {"model": str(out)}}).relax.model == str(out)
    with pytest.raises(ValueError, match="was fine-tuned on"):
        CampaignConfig.model_validate({"name": "ft", "systems": ["La-H"], "pressures_GPa": [100], "relax": {"model": str(out)}})

    # --- one active-learning round: a committee of two fine-tunes marks uncertain candidates, which are labelled
    # from the campaign's store and join the next fine-tune's training set
    import subprocess
    import sys

    from hts.campaign import Campaign

    other = tmp_path / "model-s1"
    train(export, other, FinetuneSettings(epochs=1, batch_size=4, seed=1, family="gth-pbe"), threads=1)
    cfg = CampaignConfig.model_validate({
        "name": "al", "systems": ["Li-H"], "pressures_GPa": [100],
        "generators": {"substitution": {"enabled": False},
                       "random": {"n_structures": 1, "stoichiometries": ["LiH"], "max_atoms": 2, "seed": 3}},
        "references": {"element_phases": 1, "sub_binaries": False},
        "relax": {"model": str(out), "committee": [str(other)], "max_steps": 40, "fmax_eV_A": 0.5,
                  "uncertain_enthalpy_meV_per_atom": 1e-3, "uncertain_force_eV_A": 10.0},
        "store": {"path": str(tmp_path / "campaign")}})
    with open_store(tmp_path / "campaign") as store:
        camp = Campaign(cfg, store)
        camp.run_stage("generate")
        camp.run_stage("relax")
        relaxed = store.find({"campaign": "al", "status": "relaxed"})
    assert any(len(d["structure"]["sites"]) <= 2 for d in relaxed), [d["formula"] for d in relaxed]
    for d in relaxed:
        rb = d["relax"]
        assert rb["committee_size"] == 2 and rb["committee_enthalpy_std_meV_per_atom"] > 0
        assert rb["committee_force_std_eV_A"] >= 0 and rb["uncertain"] is True  # threshold 0.001 meV/atom
    r = subprocess.run([sys.executable, "-m", "hts.cli", "label", "--store", str(tmp_path / "campaign"), "--campaign", "al",
                        "--export", str(export), "--family", "gth-pbe", "--k-spacing", "0.8", "--ecut-scale", "0.6",
                        "--rattle-A", "0", "--max-atoms", "2", "--workdir", str(tmp_path / "wd2")],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{len(relaxed)} uncertain candidates of campaign al" in r.stderr
    new = [x for x in read_labels(export) if x["origin"]["source"] == "candidate"]
    assert {x["origin"]["candidate_id"] for x in new} == {d["id"] for d in relaxed if len(d["structure"]["sites"]) <= 2}
    meta2 = train(export, tmp_path / "model-r2", FinetuneSettings(epochs=1, batch_size=4, family="gth-pbe"), threads=1)
    assert meta2["n_labels"] == meta["n_labels"] + len(new) and meta2["training_hash"] != meta["training_hash"]


def test_volumes_from_labels_invert_their_own_equation_of_state():
    """Vinet fits of labels' P(V): the volume returned for a pressure gives that pressure back; the fit of exact
    Vinet points recovers its parameters; a hydride's H volume is what its labels leave after the metal's."""
    from pymatgen.core import Composition

    from hts.label.volumes import CalibratedVolumes, VinetFit, fit_vinet

    true = VinetFit(40.0, 20.0, 4.0, 0, (0, 0))
    vols = np.linspace(12.0, 30.0, 6)
    fit = fit_vinet(vols, true.pressure(vols))
    assert fit.v0_A3 == pytest.approx(40.0, rel=1e-3) and fit.b0_GPa == pytest.approx(20.0, rel=1e-2)
    assert float(fit.pressure(fit.volume(150.0))) == pytest.approx(150.0, abs=1e-6)

    def row(species, v_per_atom, p):
        a = (v_per_atom * len(species)) ** (1 / 3)
        return {"status": "ok", "species": species, "lattice_A": (a * np.eye(3)).tolist(), "pressure_GPa": float(p)}

    ca = VinetFit(42.19, 17.0, 3.5, 0, (0, 0))  # anchored at the ACWF V0 of Ca, as the fit is
    labels = [row(["Ca"], v, ca.pressure(v)) for v in (25.0, 20.0, 15.0, 10.0)]
    h_true = VinetFit(8.0, 10.0, 4.0, 0, (0, 0))  # volume per H atom in the hydride
    for p in (100.0, 150.0, 200.0, 300.0):
        v_cell = ca.volume(p) + 6 * h_true.volume(p)
        labels.append(row(["Ca"] + ["H"] * 6, v_cell / 7, p))
    cv = CalibratedVolumes.from_labels(labels)
    assert cv.atomic_volume("Ca", 150.0) == pytest.approx(ca.volume(150.0), rel=0.01)
    assert cv.hydride_h is not None and cv.hydride_h.volume(150.0) == pytest.approx(h_true.volume(150.0), rel=0.02)
    assert cv.volume(Composition("CaH6"), 150.0) == pytest.approx(ca.volume(150.0) + 6 * h_true.volume(150.0), rel=0.02)


def test_robust_vinet_fit_holds_the_bulk_of_scattered_points():
    """The per-H volume of hydrides scatters (rattled, strained, random cells): a plain least-squares fit of P(V)
    is pulled off by a few points with far larger volumes, the robust fit keeps the bulk's volume at 150 GPa."""
    from hts.label.volumes import VinetFit, fit_vinet

    true = VinetFit(5.0, 40.0, 4.5, 0, (0, 0))
    p = np.linspace(30.0, 500.0, 40)
    v = np.array([true.volume(x) for x in p])
    v[::8] *= 1.8  # five outliers: cells far from their equilibrium packing
    robust, plain = fit_vinet(v, p, robust=True), fit_vinet(v, p)
    assert robust.volume(150.0) == pytest.approx(true.volume(150.0), rel=0.02)
    assert abs(plain.volume(150.0) / true.volume(150.0) - 1) > 0.05


def test_phase_differences_at_each_k_spacing_by_hand(capsys):
    """label_convergence --phase-differences: energies per atom above the lowest phase at the densest spacing; the
    largest change of a difference from the densest spacing (b: +50 meV/atom at 0.2, +120 at 0.35: 70)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from label_convergence import phase_differences

    results = {"a": {0.2: {"energy_eV": -10.0, "n_atoms": 1}, 0.35: {"energy_eV": -10.05, "n_atoms": 1}},
               "b": {0.2: {"energy_eV": -19.9, "n_atoms": 2}, 0.35: {"energy_eV": -19.86, "n_atoms": 2}}}
    assert phase_differences(results, {"a": "Sr bcc", "b": "Sr hcp"}) == pytest.approx(70.0)
    out = capsys.readouterr().out.splitlines()
    assert out == ["k spacing 0.2: above Sr bcc (meV/atom) Sr bcc +0.0, Sr hcp +50.0",
                   "k spacing 0.35: above Sr bcc (meV/atom) Sr bcc +0.0, Sr hcp +120.0"]


def test_coarser_labels_are_made_again_and_replace_the_old(tmp_path, monkeypatch, capsys):
    """A label made at a coarser k spacing than asked for is made again on its own cell and replaces the old one,
    in the store and in the file; equal or finer ones are kept, and a finer file row replaces a coarser store one."""
    import hts.label.dft
    from hts.cli import main
    from hts.label.dft import LabelSettings
    from hts.label.run import covers, export_labels, import_labels, read_rows, run_labels
    from hts.store.store import open_store

    made = []

    def fake_scf(c, settings, wd, family=None):  # pw.x's place: the energy records the k spacing it was made at
        made.append((c.id, settings.k_spacing_invA))
        s = c.structure
        return {"id": c.id, "origin": c.origin, "formula": s.composition.reduced_formula, "n_atoms": len(s),
                "elements": sorted(e.symbol for e in s.composition.elements), "structure": s.as_dict(),
                "target_pressure_GPa": c.origin.get("pressure_GPa"), "settings": settings.as_dict(), "status": "ok",
                "energy_eV": -settings.k_spacing_invA, "forces_eV_A": [[0.0] * 3] * len(s), "pressure_GPa": 1.0,
                "stress_GPa": (-np.eye(3)).tolist(), "k_mesh": [1, 1, 1], "wall_s": 0.0}

    monkeypatch.setattr(hts.label.dft, "scf_label", fake_scf)
    coarse, fine = LabelSettings(k_spacing_invA=0.35), LabelSettings(k_spacing_invA=0.2)
    assert covers({"settings": fine.as_dict()}, coarse) and not covers({"settings": coarse.as_dict()}, fine)
    assert not covers({"settings": {**fine.as_dict(), "family": "gth-pbe"}}, coarse)
    configs = label_configurations(["Li", "Be"], [100.0, 200.0], strains=(0.0,), prototypes=False)
    li = [c for c in configs if c.origin.get("element") == "Li" and c.origin["pressure_GPa"] == 100.0]
    export = tmp_path / "labels.jsonl"
    store = open_store(tmp_path / "st").connect()
    assert run_labels(store, configs, coarse, tmp_path / "wd", export=export) == {"ok": len(configs)}
    assert run_labels(store, configs, coarse, tmp_path / "wd", export=export) == {}  # same settings: nothing again
    store.close()
    made.clear()

    # hts label --relabel: Li's element labels at 100 GPa only, on their own cells, replaced in the file
    argv = ["label", "--store", str(tmp_path / "st"), "--relabel", str(export), "--elements", "Li",
            "--pressures", "100", "--sources", "element", "--k-spacing", "0.2", "--workdir", str(tmp_path / "wd")]
    assert main(argv) == 0
    assert sorted(i for i, _ in made) == sorted(c.id for c in li) and {k for _, k in made} == {0.2}
    assert f"this run: ok={len(li)}" in capsys.readouterr().out
    rows = {r["id"]: r for r in read_rows(export)}
    assert len(rows) == len(configs)  # replaced, none added
    for c in configs:
        want = 0.2 if c in li else 0.35
        assert rows[c.id]["settings"]["k_spacing_invA"] == want and rows[c.id]["energy_eV"] == -want
        assert np.allclose(rows[c.id]["positions_A"], c.structure.cart_coords, atol=1e-6)
    made.clear()
    assert main(argv) == 0 and made == []  # now as fine as asked: kept
    assert main(argv[:-4] + ["--k-spacing", "0.3", "--workdir", str(tmp_path / "wd")]) == 0 and made == []

    # another machine whose store has the coarse labels: the repository's finer rows replace them on import
    other = open_store(tmp_path / "st2").connect()
    coarse_rows = [{**r, "settings": coarse.as_dict(), "energy_eV": -0.35} for r in rows.values()]
    other.labels.update(coarse_rows)
    assert import_labels(other, export) == len(li)
    assert import_labels(other, export) == 0
    export_labels(other, tmp_path / "again.jsonl")
    assert read_rows(tmp_path / "again.jsonl") == read_rows(export)
    other.close()

    assert main(["label", "--store", str(tmp_path / "st"), "--relabel", str(tmp_path / "none.jsonl")]) == 2
    assert "no label file" in capsys.readouterr().err
    assert main(["label", "--store", str(tmp_path / "st"), "--relabel", str(export), "--elements", "Xx"]) == 2
    assert "unknown element(s) ['Xx']" in capsys.readouterr().err
    # --export OTHER: the finer labels go there and FILE stays as it was (a shipped model's training data); read
    # together, the finer label of an id wins whatever the order of the files
    from hts.potential.finetune import read_label_files

    before = export.read_text()
    made.clear()
    other_file = tmp_path / "fine.jsonl"
    argv2 = ["label", "--store", str(tmp_path / "st"), "--relabel", str(export), "--elements", "Be", "--export",
             str(other_file), "--k-spacing", "0.25", "--workdir", str(tmp_path / "wd")]
    assert main([*argv2, "--limit", "1"]) == 0 and len(made) == 1  # stopped part-way: OTHER holds only what is made
    assert [(r["id"], r["settings"]["k_spacing_invA"]) for r in read_rows(other_file)] == [(made[0][0], 0.25)]
    assert main(argv2) == 0 and export.read_text() == before
    be = {c.id for c in configs if c.origin.get("element") == "Be"}
    assert {i for i, _ in made} == be and {r["id"] for r in read_rows(other_file)} == be  # not the whole store
    for files in ([export, other_file], [other_file, export]):
        got = {r["id"]: r["settings"]["k_spacing_invA"] for r in read_label_files(files)}
        assert got == {c.id: 0.2 if c in li else 0.25 if c.id in be else 0.35 for c in configs}
    made.clear()
    assert main(argv2) == 0 and made == []  # resumed from OTHER
    assert main(["label", "--store", str(tmp_path / "s3"), "--elements", "Li", "--sources", "candidate"]) == 2
    assert "pick labels to make again (--relabel)" in capsys.readouterr().err


def test_one_atom_cell_is_written_with_its_atom_at_the_origin(tmp_path):
    """A rattled one-atom cell goes to pw.x with its atom at the origin (the same crystal, so pw.x keeps its
    symmetry: at 0.18/A a Ca label took 9 s instead of 133 s, energy within 0.2 meV); larger cells are untouched."""
    from ase.io import read
    from pymatgen.core import Lattice, Structure

    from hts.label.dft import LabelSettings, _write_pw_input

    class Family:
        dir = tmp_path

        def cutoffs(self, symbols):
            return 40.0, 320.0

        def files(self, symbols):
            return {s: f"{s}.UPF" for s in symbols}

    fcc = Lattice([[0, 2.0, 2.0], [2.0, 0, 2.0], [2.0, 2.0, 0]])
    one = Structure(fcc, ["Ca"], [[0.013, -0.021, 0.4]])
    setup = _write_pw_input(tmp_path / "one.in", one, LabelSettings(k_spacing_invA=0.18), Family(), {})
    atoms = read(tmp_path / "one.in", format="espresso-in")
    assert np.allclose(atoms.positions, 0.0, atol=1e-8) and np.allclose(atoms.cell[:], fcc.matrix)
    assert setup["k_mesh"][0] == setup["k_mesh"][1] == setup["k_mesh"][2] and setup["ecutwfc_Ry"] == 40.0
    two = Structure(fcc, ["Ca", "Ca"], [[0.013, -0.021, 0.4], [0.5, 0.5, 0.5]])
    _write_pw_input(tmp_path / "two.in", two, LabelSettings(), Family(), {})
    assert np.allclose(read(tmp_path / "two.in", format="espresso-in").positions, two.cart_coords, atol=1e-6)
    assert np.allclose(one.frac_coords, [[0.013, -0.021, 0.4]])  # the configuration itself is not moved


def test_relabel_shift_by_hand():
    """benchmarks/relabel_shift.py: the change of each label from the coarse to the fine file, per formula; the
    spread is the largest deviation from the group's mean change."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from relabel_shift import shifts

    def row(i, e, p, f=0.0, n=1, formula="Sr", status="ok"):
        return {"id": i, "status": status, "energy_eV": e, "pressure_GPa": p, "n_atoms": n, "formula": formula,
                "forces_eV_A": [[f, 0.0, 0.0]] * n}

    coarse = [row("a", -1.0, 150.0), row("b", -2.0, 160.0), row("c", -4.0, 100.0, n=2, formula="Ba"),
              row("d", 0.0, 0.0)]
    fine = [row("a", -1.010, 151.0), row("b", -2.040, 158.5), row("c", -4.002, 100.0, 0.03, n=2, formula="Ba"),
            row("d", 5.0, 9.0, status="failed"), row("e", 1.0, 1.0)]
    got = shifts(fine, coarse)
    assert set(got) == {"Sr", "Ba"} and got["Sr"]["n"] == 2  # the failed and the unmatched label left out
    assert got["Sr"]["mean_dE_meV"] == pytest.approx(-25.0) and got["Sr"]["spread_meV"] == pytest.approx(15.0)
    assert got["Sr"]["max_dP_GPa"] == pytest.approx(1.5) and got["Ba"]["mean_dE_meV"] == pytest.approx(-1.0)
    assert got["Ba"]["spread_meV"] == pytest.approx(0.0) and got["Ba"]["max_dF_eV_A"] == pytest.approx(0.03)
