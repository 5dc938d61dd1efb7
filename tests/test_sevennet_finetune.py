"""Fine-tuning SevenNet (``hts finetune --base 7net-0``): units, offsets, saving, loading, relaxing, refusals.

The labels here are stock 7net-0's own energies, forces and stresses (through its ASE calculator) shifted by a known
energy per element, so every number the training path reads back has a value known in advance."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sevenn")

SHIFT = {"H": -13.0, "Li": -190.0}  # eV/atom: a pseudopotential's energy zero against the model's


def _cells():
    from pymatgen.core import Lattice, Structure

    rng = np.random.default_rng(3)
    out = []
    for i, a in enumerate((2.6, 2.7, 2.8, 2.9)):  # LiH rocksalt (primitive, 2 atoms), squeezed and rattled
        s = Structure(Lattice.from_parameters(a, a, a, 60, 60, 60), ["Li", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]])
        s.perturb(0.05 + 0.01 * i)
        out.append(("rocksalt", s))
    for a in (2.2, 2.3, 2.4):  # bcc Li (1 atom)
        out.append(("bcc", Structure(Lattice.from_parameters(a, a, a, 109.47, 109.47, 109.47), ["Li"], [[0, 0, 0]])))
    for d in (1.6, 1.7):  # H in a simple cubic cell (1 atom)
        out.append(("sc", Structure(Lattice.cubic(d), ["H"], [[0, 0, 0]])))
    return out


def _write_labels(path):
    from pymatgen.io.ase import AseAtomsAdaptor
    from sevenn.calculator import SevenNetCalculator

    calc = SevenNetCalculator("7net-0", device="cpu")
    rows = []
    for i, (proto, s) in enumerate(_cells()):
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        voigt = [float(x) * 160.21766208 for x in atoms.get_stress()]  # GPa, ASE sign (xx yy zz yz xz xy)
        xx, yy, zz, yz, xz, xy = voigt
        stress = [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]
        species = [str(x) for x in atoms.get_chemical_symbols()]
        rows.append({"id": f"lbl-{i:02d}", "status": "ok", "species": species, "n_atoms": len(species),
                     "lattice_A": atoms.cell.array.tolist(), "positions_A": atoms.positions.tolist(),
                     "energy_eV": float(atoms.get_potential_energy()) + sum(SHIFT[x] for x in species),
                     "forces_eV_A": atoms.get_forces().tolist(), "stress_GPa": stress,
                     "pressure_GPa": float(-(xx + yy + zz) / 3), "settings": {"family": "test"},
                     "origin": {"source": "prototype", "formula": s.composition.reduced_formula, "prototype": proto}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    return path, _write_labels(path)


def test_sevennet_targets_and_predictions_follow_the_labels_units(labels_file):
    """Graph targets are minus ASE's stress in eV/A^3; predict() gives back the labels' pressures and forces; the
    offsets come back as the shift, even with one label spoiled by hundreds of eV/atom."""
    from hts.potential.finetune import read_labels
    from hts.potential.sevennet import predict, robust_offsets, sevennet_graph, stock_model

    path, rows = labels_file
    labels = read_labels(path)
    g = sevennet_graph(labels[0], 5.0)
    s = np.asarray(rows[0]["stress_GPa"])
    want = -np.array([s[0, 0], s[1, 1], s[2, 2], s[0, 1], s[1, 2], s[2, 0]]) / 160.21766208
    assert np.allclose(g["stress"].numpy().ravel(), want, rtol=1e-5)
    model = stock_model()
    pred = predict(model, labels)
    for r, p in zip(labels, pred):
        assert p["p_GPa"] == pytest.approx(r["pressure_GPa"], abs=0.05)
        assert np.allclose(p["f"], r["forces_eV_A"], atol=1e-3)
    energies = [p["e_eV"] for p in pred]
    energies[0] += 400.0 * len(labels[0]["species"])  # stock 7net-0 on a squeezed H-rich cell can be this far off
    off = robust_offsets(labels, energies)
    assert off["H"] == pytest.approx(SHIFT["H"], abs=1e-3) and off["Li"] == pytest.approx(SHIFT["Li"], abs=1e-3)


def test_sevennet_finetune_saves_loads_relaxes_and_refuses(labels_file, tmp_path, caplog):
    """``hts finetune --base 7net-0``: a model directory with SevenNet's weights, the offsets and the loss per epoch;
    relax.model takes it; CHGNet's options and CHGNet's loader refuse it with a clear error."""
    import torch
    from pymatgen.core import Lattice, Structure

    from hts.cli import main
    from hts.potential.finetune import FinetuneSettings, load_finetuned
    from hts.potential.sevennet import stock_model, train_sevennet
    from hts.relax.mlip import get_calculator, model_version
    from hts.relax.relaxer import MLIPRelaxMaker

    path, rows = labels_file
    out = tmp_path / "model"
    assert main(["finetune", "--base", "7net-0", "--labels", str(path), "--out", str(out), "--family", "test",
                 "--epochs", "1", "--lr", "1e-4", "--threads", "1"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["base"].startswith("sevenn ") and meta["base"].endswith("/ 7net-0")
    assert meta["elements"] == ["H", "Li"] and meta["n_train"] + meta["n_val"] == len(rows) and meta["n_val"] > 0
    # the labels are the model itself: with the units right the loss is near zero (a stress sign or kbar/GPa slip
    # would put it in the hundreds), and the epoch is reported
    assert len(meta["train_loss_per_epoch"]) == 1 and 0 <= meta["train_loss_per_epoch"][0] < 0.01
    assert "epoch 1/1: training loss" in caplog.text
    for el, mu in SHIFT.items():  # labels are the model itself plus the shift: one small step keeps the offsets
        assert meta["offsets_eV_per_atom"][el] == pytest.approx(mu, abs=0.05)
    stock = stock_model().state_dict()
    tuned = torch.load(out / "weights.pt", weights_only=True)
    assert set(tuned) == set(stock)
    assert max(float((tuned[k] - stock[k]).abs().max()) for k in stock if stock[k].is_floating_point() and stock[k].numel()) > 0
    li = Structure(Lattice.cubic(2.9), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(li)
    atoms.calc = get_calculator(str(out))
    assert np.isfinite(atoms.get_potential_energy())
    r = MLIPRelaxMaker(model=str(out), fmax=0.1, max_steps=40).relax(li, 50.0)
    assert r.ok or r.failure_type in ("not_converged", "diverged"), r.reason
    assert "sevenn" in model_version(str(out)) and "fine-tuned on" in model_version(str(out))
    from hts.config import CampaignConfig

    cfg = {"name": "ft", "systems": ["Li-H"], "pressures_GPa": [100], "relax": {"model": str(out)}}
    assert CampaignConfig.model_validate(cfg).relax.model == str(out)
    with pytest.raises(ValueError, match="not \\['La'\\]"):
        CampaignConfig.model_validate({**cfg, "systems": ["La-H"]})
    with pytest.raises(ValueError, match="fine-tuned SevenNet"):
        load_finetuned(out)
    with pytest.raises(ValueError, match="max_angles_per_batch are CHGNet options"):
        train_sevennet(path, tmp_path / "x", FinetuneSettings(family="test", max_angles_per_batch=10))
    chgnet_dir = tmp_path / "chgnet-like"
    chgnet_dir.mkdir()
    (chgnet_dir / "model.json").write_text(json.dumps({"base": "chgnet 0.3.0"}))
    with pytest.raises(ValueError, match="not a fine-tuned SevenNet"):
        train_sevennet(path, tmp_path / "y", FinetuneSettings(family="test", start_from=str(chgnet_dir)))


def test_sevennet_huber_loss_trains_and_chgnet_refuses_it(labels_file, tmp_path, capsys):
    """``--loss huber`` (sevenn's own fine-tuning loss): on labels that are the model itself the loss is near zero
    (a stress slip of 100 GPa would add about 0.02, an offset slip of 13 eV/atom about 2.6) and the choice is saved;
    CHGNet and unknown losses are refused before any label is read."""
    from hts.cli import main
    from hts.potential.finetune import FinetuneSettings, train
    from hts.potential.sevennet import train_sevennet

    path, _ = labels_file
    out = tmp_path / "huber"
    assert main(["finetune", "--base", "7net-0", "--labels", str(path), "--out", str(out), "--family", "test",
                 "--epochs", "1", "--lr", "1e-4", "--threads", "1", "--loss", "huber"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["settings"]["loss"] == "huber"
    assert 0 <= meta["train_loss_per_epoch"][0] < 1e-3
    assert main(["finetune", "--labels", str(path), "--out", str(tmp_path / "c"), "--loss", "huber"]) == 2
    assert "loss 'huber': CHGNet is trained with mse here" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="loss 'l1': mse or huber"):
        train_sevennet(tmp_path / "no-such-file", tmp_path / "d", FinetuneSettings(loss="l1"))
    with pytest.raises(ValueError, match="CHGNet is trained with mse"):
        train(tmp_path / "no-such-file", tmp_path / "e", FinetuneSettings(loss="huber"))



def test_sevennet_label_weight_scales_one_files_loss_and_refuses_bad_requests(labels_file, tmp_path, capsys):
    """``--label-weight FILE=W``: every loss term of FILE's labels weighs W. Two labels whose force components are
    all spoiled by 0.3 eV/A (energies untouched: the offsets stay), trained at a vanishing rate, give an epoch loss of
    0.3^2 x W x 2 / 11 (batch 1): W = 3 triples the loss of W = 1. A file not among --labels, a malformed request
    and CHGNet are refused with one line."""
    from hts.cli import main
    from hts.potential.finetune import FinetuneSettings, train
    from hts.potential.sevennet import train_sevennet

    path, rows = labels_file
    extra = tmp_path / "frozen-phonons.jsonl"
    extra.write_text("".join(json.dumps({**r, "id": f"fp-{r['id']}", "forces_eV_A": (np.asarray(r["forces_eV_A"])
                                                                                  + 0.3).tolist()}) + "\n"
                             for r in rows[:2]))
    losses = {}
    for w in (1, 3):
        out = tmp_path / f"w{w}"
        assert main(["finetune", "--base", "7net-0", "--labels", str(path), str(extra), "--out", str(out), "--family",
                     "test", "--epochs", "1", "--lr", "1e-12", "--batch-size", "1", "--threads", "1", "--val-share",
                     "0", "--label-weight", f"{extra}={w}"]) == 0
        meta = json.loads((out / "model.json").read_text())
        assert meta["n_train"] == len(rows) + 2 and meta["settings"]["label_weights"] == [[str(extra), w]]
        losses[w] = meta["train_loss_per_epoch"][0]
    assert losses[1] == pytest.approx(0.3**2 * 2 / (len(rows) + 2), rel=0.02)
    assert losses[3] == pytest.approx(3 * losses[1], rel=0.01)
    capsys.readouterr()
    for bad, msg in ((f"{extra}=0", "FILE=W with W a number > 0"), (str(extra), "FILE=W"),
                     (f"{extra}=x", "FILE=W"), (f"{tmp_path / 'other.jsonl'}=2", "not among the label files")):
        assert main(["finetune", "--base", "7net-0", "--labels", str(path), str(extra), "--out",
                     str(tmp_path / "bad"), "--family", "test", "--label-weight", bad]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="label_weights: SevenNet only"):
        train(tmp_path / "no-such-file", tmp_path / "c", FinetuneSettings(label_weights=((str(extra), 2.0),)))
    with pytest.raises(ValueError, match="must be a number > 0"):
        train_sevennet([path, extra], tmp_path / "d", FinetuneSettings(family="test", label_weights=((str(extra), -1),)))
