"""GTH-PBE pseudopotentials converted for pw.x (hts.dft.gth): the conversion keeps every parameter, the
family records its source, and each converted file reproduces the all-electron PBE equation of state
of the fcc crystal (ACWF verification set, Bosoni et al. 2024) when pw.x runs it."""

from __future__ import annotations

import shutil

import pytest

from hts.dft.gth import cp2k_source, parse_cp2k, to_psp10
from hts.dft.pseudo import MissingPseudopotential, load_family

HAVE_PW = shutil.which("pw.x") is not None


def _read_psp10(text: str) -> dict:
    """Read a pspcod 10 file the way QE's readgth does (list-directed: trailing words ignored)."""
    lines = [ln.split() for ln in text.splitlines()]
    zatom, zion = float(lines[1][0]), float(lines[1][1])
    pspcod, pspxc, lmax = int(lines[2][0]), int(lines[2][1]), int(lines[2][2])
    nn = int(lines[3][1])
    rloc, cc = float(lines[3][0]), [float(x) for x in lines[3][2:2 + nn]]
    i, channels = 5, []
    for ll in range(lmax + 1):
        r, n = float(lines[i][0]), int(lines[i][1])
        rows = [[float(x) for x in lines[i][2:2 + n]]]
        i += 1
        for k in range(1, n):
            rows.append([float(x) for x in lines[i][: n - k]])
            i += 1
        if ll > 0:
            assert all(float(x) == 0.0 for k in range(n) for x in lines[i + k])  # k_ij (spin-orbit): zero
            i += n
        channels.append((r, rows if n else []))
    assert i == len([ln for ln in lines if ln]), "lines left over after the last channel"
    return {"zatom": zatom, "zion": zion, "pspcod": pspcod, "pspxc": pspxc, "rloc": rloc, "cc": cc, "channels": channels}


@pytest.mark.parametrize("element,valence", [("H", 1), ("S", 6), ("Ca", 10), ("Y", 11), ("La", 11)])
def test_conversion_keeps_every_parameter(element, valence):
    cp2k = parse_cp2k(cp2k_source(element, valence).read_text())
    psp = _read_psp10(to_psp10(cp2k))
    assert psp["pspcod"] == 10 and psp["pspxc"] == 11  # PBE
    assert psp["zion"] == valence and int(psp["zatom"]) == {"H": 1, "S": 16, "Ca": 20, "Y": 39, "La": 57}[element]
    assert psp["rloc"] == pytest.approx(cp2k.r_loc, abs=1e-8) and psp["cc"] == pytest.approx(list(cp2k.c_loc), abs=1e-8)
    got = [(r, [h for row in rows for h in row]) for r, rows in psp["channels"] if rows]
    want = [(r, [h for row in rows for h in row]) for r, rows in cp2k.channels if rows]
    assert len(got) == len(want)
    for (r1, h1), (r2, h2) in zip(got, want):
        assert r1 == pytest.approx(r2, abs=1e-8) and h1 == pytest.approx(h2, abs=1e-8)


def test_sulfur_by_hand():
    """S GTH-PBE-q6 (Krack 2005): r_loc 0.42, C1 -5.98626038; s channel r 0.36482035 with
    h11 13.14354448, h12 -4.24183045, h22 5.47617957; p channel r 0.40948048, h11 3.70089057."""
    p = parse_cp2k(cp2k_source("S", 6).read_text())
    assert p.electrons == (2, 4) and p.r_loc == 0.42 and p.c_loc == (-5.98626038,)
    assert p.channels[0] == (0.36482035, ((13.14354448, -4.24183045), (5.47617957,)))
    assert p.channels[1] == (0.40948048, ((3.70089057,),))


def test_family_is_written_offline_and_documents_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv("HTS_PSEUDO_CACHE", str(tmp_path))
    fam = load_family("gth-pbe")
    assert fam.dir == tmp_path / "gth-pbe"
    prov = fam.provenance(["H", "S", "Ca"])
    assert prov["functional"] == "PBE" and set(prov["files"]) == {"Ca", "H", "S"}
    s = prov["files"]["S"]
    assert s["file"] == "S.pbe-gth-q6.gth" and (tmp_path / "gth-pbe" / s["file"]).is_file()
    assert "psp/pbe/S-q6" in s["converted_from"] and len(s["source_md5"]) == 32 and len(s["md5"]) == 32
    assert fam.cutoffs(["H", "S"]) == (80.0, 320.0)
    with pytest.raises(MissingPseudopotential, match="no file for"):
        fam.check(["La"])  # converted fine, but fails the all-electron check (test below, README)


@pytest.mark.dft
@pytest.mark.skipif(not HAVE_PW, reason="pw.x (quantum-espresso) not installed")
@pytest.mark.parametrize("element", ["H", "B"])  # the other elements: benchmarks/pseudo_verify.py (minutes each)
def test_fcc_equation_of_state_matches_all_electron(element, tmp_path, monkeypatch):
    from hts.dft.qe import QERunner
    from hts.dft.verify import fcc_eos

    monkeypatch.setenv("HTS_PSEUDO_CACHE", str(tmp_path / "cache"))
    fam = load_family("gth-pbe")
    res = fcc_eos(fam, element, tmp_path / element, QERunner(nprocs=2), kpts=(12, 12, 12))
    e = res.energies_eV
    assert e[2] < e[0] and e[2] < e[-1]  # a minimum inside the +-6% volume range
    assert abs(res.v0_error_pct) < TOLERANCE_PCT[element], (element, res.v0_A3, res.ref_v0_A3)


# |V0 - V0(all-electron)| / V0(all-electron), percent (README "GTH-PBE" gives the measured values)
TOLERANCE_PCT = {"H": 1.0, "S": 1.0, "Ca": 1.0, "Y": 1.0, "B": 1.0}  # measured: +0.31, -0.57, +0.11, -0.07, +0.61


def test_f_channel_fix_only_for_qe6():
    from hts.dft.gth import needs_f_fix

    assert needs_f_fix("6.7MaX") and needs_f_fix("6.4.1")
    assert not needs_f_fix("7.2") and not needs_f_fix(None)
    la = parse_cp2k(cp2k_source("La", 11).read_text())
    f6 = _read_psp10(to_psp10(la, f_scale=1 / 105))["channels"][3][1][0][0]
    assert f6 == pytest.approx(la.channels[3][1][0][0] / 105, rel=1e-6)
