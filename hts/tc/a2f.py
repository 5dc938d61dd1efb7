"""Reading QE's electron-phonon output and turning alpha2F(omega) into lambda, omega_log and Tc.

Files (QE 6.7, written in the ph.x/matdyn.x working directory):
- ``a2F.dos{i}`` (matdyn.x, la2F): omega (Ry), alpha2F total, then one column per phonon branch,
  for the i-th electronic smearing el_ph_sigma * i.
- ``phonon.dos`` (matdyn.x, dos): omega (cm^-1), total DOS, then the DOS projected on each atom.
- ``elph_dir/elph.inp_lambda.{iq}`` (ph.x): q, omega^2 per mode (Ry^2), then per smearing N(E_F)
  and lambda_{q nu}.

The acoustic sum rule is imposed by matdyn.x (``asr``); moments integrate omega > 0 only.
lambda_H and lambda_M use the atom-projected phonon DOS: alpha2F(omega) is split with the
weight w_H(omega) = PDOS_H(omega) / PDOS(omega) (an approximation that assumes the coupling of
a mode is shared in proportion to its atomic weight; exact when H and metal modes are separated
by a gap, as in most hydrides).
"""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path

import numpy as np

from hts.tc.eliashberg import eliashberg_tc
from hts.tc.formulas import a2f_moments, allen_dynes_tc, mcmillan_allen_dynes_tc
from hts.units import CMINV_TO_K, RY_TO_CMINV, RY_TO_K

__all__ = ["analyse_a2f", "read_a2f_dos", "read_elph_lambda", "read_phonon_dos"]

_NUM = re.compile(r"^\s*[-+]?\d")


def read_a2f_dos(path) -> dict:
    """{'omega_Ry', 'a2f', 'a2f_modes' (n_omega x n_branch), 'lambda_matdyn'} from one a2F.dos file."""
    rows, lam = [], None
    for line in Path(path).read_text().splitlines():
        if "lambda" in line:
            m = re.search(r"lambda\s*=\s*([-+\d.Ee]+)", line)
            lam = float(m.group(1)) if m else None
        elif _NUM.match(line):
            rows.append([float(x) for x in line.split()])
    arr = np.array(rows)
    return {"omega_Ry": arr[:, 0], "a2f": arr[:, 1], "a2f_modes": arr[:, 2:], "lambda_matdyn": lam}


def read_phonon_dos(path) -> dict:
    """{'omega_cm1', 'dos', 'pdos' (n_omega x n_atoms)} from matdyn's fldos file."""
    arr = np.loadtxt(path, comments="#")
    return {"omega_cm1": arr[:, 0], "dos": arr[:, 1], "pdos": arr[:, 2:] if arr.shape[1] > 2 else arr[:, 1:2]}


def read_elph_lambda(workdir) -> dict:
    """Per irreducible q: q (2pi/alat), frequencies (cm^-1, negative = imaginary), and per smearing
    sigma (Ry), N(E_F) (states/spin/Ry/cell) and lambda_{q nu}."""
    files = sorted(glob.glob(str(Path(workdir) / "elph_dir" / "elph.inp_lambda.*")), key=lambda f: int(f.rsplit(".", 1)[1]))
    qs, freqs, lam, dos, sig = [], [], [], [], []
    for f in files:
        lines = Path(f).read_text().splitlines()
        head = lines[0].split()
        q, nsig, nmodes = [float(x) for x in head[:3]], int(head[3]), int(head[4])
        w2 = []
        i = 1
        while len(w2) < nmodes:
            w2 += [float(x) for x in lines[i].split()]
            i += 1
        w2 = np.array(w2)
        qs.append(q)
        freqs.append((np.sign(w2) * np.sqrt(np.abs(w2)) * RY_TO_CMINV).tolist())
        ls, ds, ss = [], [], []
        for _ in range(nsig):
            ss.append(float(re.search(r"Broadening:\s*([\d.]+)", lines[i]).group(1)))
            ds.append(float(re.search(r"DOS\s*=\s*([-+\d.Ee]+)", lines[i + 1]).group(1)))
            ls.append([float(re.search(r"=\s*([-+\d.Ee]+)", lines[i + 2 + m]).group(1)) for m in range(nmodes)])
            i += 2 + nmodes
        lam.append(ls)
        dos.append(ds)
        sig = ss
    return {"q": qs, "frequencies_cm1": freqs, "lambda_qnu": lam, "sigma_Ry": sig,
            "n_ef_states_per_spin_Ry": dos[0] if dos else []}


def _weighted_moments(w_K: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    pos = w_K > 0
    w, g = w_K[pos], f[pos]
    lam = 2.0 * np.trapezoid(g / w, w)
    if lam <= 0:
        return float(lam), math.nan
    return float(lam), float(math.exp(2.0 / lam * np.trapezoid(np.log(w) * g / w, w)))


def analyse_a2f(workdir, symbols: list[str], mustar=(0.10, 0.13), selected_sigma_Ry: float = 0.02,
                sigma_step_Ry: float = 0.005, eliashberg: bool = True) -> tuple[dict, dict]:
    """The ``tc`` block and the arrays for the store from the a2F.dos* files in ``workdir``.

    ``symbols``: chemical symbol of each atom (order of the pw.x input), for the H / heavy split.
    """
    files = sorted(glob.glob(str(Path(workdir) / "a2F.dos*")), key=lambda f: int(re.search(r"(\d+)$", f).group(1)))
    if not files:
        raise FileNotFoundError(f"no a2F.dos* files in {workdir} (matdyn.x with la2F)")
    sets = [read_a2f_dos(f) for f in files]
    sigmas = [round(sigma_step_Ry * int(re.search(r"(\d+)$", f).group(1)), 6) for f in files]
    per = []
    for s in sets:
        m = a2f_moments(s["omega_Ry"] * RY_TO_K, s["a2f"])
        per.append(m)
    isel = int(np.argmin([abs(s - selected_sigma_Ry) for s in sigmas]))
    sel = sets[isel]
    omega_K = sel["omega_Ry"] * RY_TO_K
    mom = per[isel]

    # H / heavy-atom split with the atom-projected phonon DOS
    split = {}
    pdos_path = Path(workdir) / "phonon.dos"
    is_h = np.array([s == "H" for s in symbols])
    if pdos_path.is_file() and is_h.any() and (~is_h).any():
        pd = read_phonon_dos(pdos_path)
        if pd["pdos"].shape[1] == len(symbols):
            ph_w = pd["omega_cm1"] * CMINV_TO_K
            tot = pd["pdos"].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                wh = np.where(tot > 0, pd["pdos"][:, is_h].sum(axis=1) / tot, 0.0)
            w_h = np.interp(omega_K, ph_w, wh, left=0.0, right=1.0)
            lam_h, wlog_h = _weighted_moments(omega_K, sel["a2f"] * w_h)
            lam_m, wlog_m = _weighted_moments(omega_K, sel["a2f"] * (1 - w_h))
            split = {"lambda_H": lam_h, "lambda_M": lam_m, "omega_log_H_K": wlog_h, "omega_log_M_K": wlog_m,
                     "split_method": "atom-projected phonon DOS weight (matdyn phonon.dos)"}

    by_mu = {}
    for mu in mustar:
        row = {"mcmillan_allen_dynes": mcmillan_allen_dynes_tc(mom.lam, mom.omega_log, mu),
               "allen_dynes": allen_dynes_tc(mom.lam, mom.omega_log, mu, mom.omega_2)}
        if eliashberg:
            row["eliashberg"] = eliashberg_tc(omega_K, np.clip(sel["a2f"], 0, None), mu)
        by_mu[f"{mu:g}"] = row
    lams = [m.lam for m in per]
    block = {
        "lambda": mom.lam, "omega_log_K": mom.omega_log, "omega_2_K": mom.omega_2, **split,
        "selected_sigma_Ry": sigmas[isel], "sigma_Ry": sigmas,
        "lambda_by_sigma": lams, "omega_log_by_sigma_K": [m.omega_log for m in per],
        "lambda_spread": float(max(lams) - min(lams)), "lambda_matdyn": sel["lambda_matdyn"],
        "mustar": list(mustar), "by_mustar": by_mu,
    }
    for key in ("mcmillan_allen_dynes", "allen_dynes", "eliashberg"):
        vals = [v[key] for v in by_mu.values() if key in v]
        if vals:
            block[f"tc_{key}_K"] = [min(vals), max(vals)]
    arrays = {"omega_Ry": sel["omega_Ry"].tolist(), "sigma_Ry": sigmas,
              "a2f_by_sigma": [s["a2f"].tolist() for s in sets],
              "a2f_modes_selected": sel["a2f_modes"].tolist()}
    if split:
        arrays["w_H"] = w_h.tolist()
    return block, arrays
