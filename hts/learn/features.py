"""Cheap descriptors of a candidate, from its structure and the MLIP stages.

Every feature is a float (NaN when unknown, e.g. MLIP values for literature structures);
``FEATURES`` maps each name to its unit and meaning. "Host" means the non-hydrogen atoms.
"""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Element, Structure

__all__ = ["FEATURES", "STRUCTURE_FEATURES", "MLIP_FEATURES", "structure_features", "mlip_features", "featurize"]

_ELEMENT_PROPS = {
    "Z": ("", "atomic number"),
    "mass": ("amu", "atomic mass"),
    "X": ("Pauling", "electronegativity"),
    "radius": ("A", "atomic radius"),
    "row": ("", "period"),
    "group": ("", "group 1-18"),
    "mendeleev": ("", "Pettifor Mendeleev number"),
    "valence": ("e", "valence electrons (s+p for main group, group number for d elements)"),
}

STRUCTURE_FEATURES: dict[str, tuple[str, str]] = {
    "pressure_GPa": ("GPa", "pressure of the calculation"),
    "volume_per_atom_A3": ("A^3/atom", "cell volume per atom"),
    "h_fraction": ("", "fraction of atoms that are H"),
    "h_per_host": ("", "H atoms per host atom"),
    "h_density_A3": ("1/A^3", "H atoms per cubic Angstrom"),
    "n_elements": ("", "number of elements"),
    "spacegroup": ("", "space-group number (spglib, symprec 0.1 A)"),
    "d_HH_min_A": ("A", "shortest H-H distance"),
    "d_HH_nn_mean_A": ("A", "mean over H of the nearest H distance"),
    "d_XH_min_A": ("A", "shortest host-H distance"),
    "d_XX_min_A": ("A", "shortest host-host distance"),
    "frac_H_molecular": ("", "fraction of H whose nearest H is closer than 0.9 A (H2-like units)"),
    "n_H_neigh_1p6": ("", "mean number of H neighbours within 1.6 A of an H (H-network connectivity)"),
    "valence_per_atom": ("e/atom", "mean valence electrons per atom (H counts 1)"),
    "valence_per_volume": ("e/A^3", "valence electron density"),
    **{f"host_{k}_mean": (u, f"host mean {d}") for k, (u, d) in _ELEMENT_PROPS.items()},
    **{f"host_{k}_range": (u, f"host max-min {d}") for k, (u, d) in _ELEMENT_PROPS.items()},
    "host_X_minus_H": ("Pauling", "host mean electronegativity minus that of H (2.20)"),
    "mass_weighted_sqrt_inv": ("amu^-1/2", "composition mean of 1/sqrt(mass): sets the phonon frequency scale"),
}
MLIP_FEATURES: dict[str, tuple[str, str]] = {
    "mlip_enthalpy_eV_atom": ("eV/atom", "MLIP enthalpy H = E + PV per atom"),
    "mlip_e_above_hull_meV": ("meV/atom", "MLIP enthalpy above the hull at this pressure"),
    "mlip_phonon_min_THz": ("THz", "lowest MLIP phonon frequency on the mesh (negative = imaginary)"),
    "mlip_phonon_wlog_K": ("K", "logarithmic average frequency of the MLIP phonon DOS (omega > 0)"),
    "mlip_phonon_mean_THz": ("THz", "mean frequency of the MLIP phonon DOS (omega > 0)"),
    "mlip_phonon_H_mean_THz": ("THz", "mean H frequency: real MLIP modes weighted by their eigenvector share on H"),
}
FEATURES = {**STRUCTURE_FEATURES, **MLIP_FEATURES}

_THZ_TO_K = 47.99243073


def _valence(el: Element) -> float:
    if el.symbol == "H":
        return 1.0
    g = el.group
    if el.block in ("s", "p"):
        return float(g if g <= 2 else g - 10)
    if el.block == "d":
        return float(g)
    return 3.0  # f-block: trivalent


def _prop(el: Element, key: str) -> float:
    try:
        v = {
            "Z": lambda: el.Z, "mass": lambda: float(el.atomic_mass), "X": lambda: el.X,
            "radius": lambda: float(el.atomic_radius or math.nan), "row": lambda: el.row, "group": lambda: el.group,
            "mendeleev": lambda: el.mendeleev_no, "valence": lambda: _valence(el),
        }[key]()
    except (AttributeError, TypeError, ValueError):
        return math.nan
    return float(v) if v is not None else math.nan


def structure_features(structure: Structure, pressure_GPa: float) -> dict[str, float]:
    """Composition, geometry and symmetry descriptors (see STRUCTURE_FEATURES for units)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    comp = structure.composition
    n = structure.num_sites
    n_h = comp["H"] if "H" in [e.symbol for e in comp.elements] else 0.0
    hosts = [e for e in comp.elements if e.symbol != "H"]
    host_w = np.array([comp[e] for e in hosts], dtype=float)
    f: dict[str, float] = {
        "pressure_GPa": float(pressure_GPa),
        "volume_per_atom_A3": structure.volume / n,
        "h_fraction": n_h / n,
        "h_per_host": n_h / host_w.sum() if host_w.sum() else math.nan,
        "h_density_A3": n_h / structure.volume,
        "n_elements": float(len(comp.elements)),
    }
    try:
        f["spacegroup"] = float(SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_number())
    except Exception:
        f["spacegroup"] = math.nan
    for k in _ELEMENT_PROPS:
        vals = np.array([_prop(e, k) for e in hosts])
        if len(hosts) and np.isfinite(vals).any():
            ok = np.isfinite(vals)
            f[f"host_{k}_mean"] = float(np.average(vals[ok], weights=host_w[ok]))
            f[f"host_{k}_range"] = float(vals[ok].max() - vals[ok].min())
        else:
            f[f"host_{k}_mean"] = f[f"host_{k}_range"] = math.nan
    f["host_X_minus_H"] = f["host_X_mean"] - 2.20
    masses = np.array([float(s.specie.atomic_mass) for s in structure])
    f["mass_weighted_sqrt_inv"] = float(np.mean(1.0 / np.sqrt(masses)))
    val = sum(_valence(e) * comp[e] for e in comp.elements)
    f["valence_per_atom"] = val / n
    f["valence_per_volume"] = val / structure.volume
    f.update(_distances(structure))
    return f


def _distances(structure: Structure, rmax: float = 4.0) -> dict[str, float]:
    is_h = np.array([s.specie.symbol == "H" for s in structure])
    nbrs = structure.get_all_neighbors(rmax)
    hh, xh, xx, hh_nn, n16 = [], [], [], [], []
    for i, lst in enumerate(nbrs):
        d_h = [nb.nn_distance for nb in lst if is_h[nb.index]]
        d_x = [nb.nn_distance for nb in lst if not is_h[nb.index]]
        if is_h[i]:
            if d_h:
                hh.append(min(d_h))
                hh_nn.append(min(d_h))
            n16.append(sum(d < 1.6 for d in d_h))
            if d_x:
                xh.append(min(d_x))
        elif d_x:
            xx.append(min(d_x))
    nan = math.nan
    return {
        "d_HH_min_A": min(hh) if hh else nan,
        "d_HH_nn_mean_A": float(np.mean(hh_nn)) if hh_nn else nan,
        "d_XH_min_A": min(xh) if xh else nan,
        "d_XX_min_A": min(xx) if xx else nan,
        "frac_H_molecular": float(np.mean(np.array(hh_nn) < 0.9)) if hh_nn else (0.0 if is_h.any() else nan),
        "n_H_neigh_1p6": float(np.mean(n16)) if n16 else nan,
    }


def mlip_features(doc: dict, phonon_dos: dict | None = None) -> dict[str, float]:
    """Descriptors from the MLIP stages of a stored candidate (NaN where a stage did not run)."""
    nan = math.nan
    ph = doc.get("phonon") or {}
    f = {
        "mlip_enthalpy_eV_atom": doc.get("enthalpy_eV_per_atom") if doc.get("engine", {}) and doc["engine"].get("name") == "mlip" else nan,
        "mlip_e_above_hull_meV": doc.get("e_above_hull_meV"),
        "mlip_phonon_min_THz": ph.get("min_frequency_THz"),
        "mlip_phonon_wlog_K": nan,
        "mlip_phonon_mean_THz": nan,
        "mlip_phonon_H_mean_THz": ph.get("h_mean_frequency_THz"),
    }
    if phonon_dos and phonon_dos.get("dos_frequencies_THz") is not None:
        w = np.asarray(phonon_dos["dos_frequencies_THz"], float)
        g = np.asarray(phonon_dos["dos"], float)
        pos = (w > 0.05) & (g > 0)
        if pos.sum() > 2:
            norm = np.trapezoid(g[pos] / w[pos], w[pos])
            f["mlip_phonon_wlog_K"] = float(math.exp(np.trapezoid(np.log(w[pos]) * g[pos] / w[pos], w[pos]) / norm) * _THZ_TO_K)
            f["mlip_phonon_mean_THz"] = float(np.trapezoid(w[pos] * g[pos], w[pos]) / np.trapezoid(g[pos], w[pos]))
    return {k: (float(v) if v is not None else nan) for k, v in f.items()}  # a missing value (None) is NaN


def featurize(structure: Structure, pressure_GPa: float, doc: dict | None = None, phonon_dos: dict | None = None) -> dict[str, float]:
    """All FEATURES for one structure; MLIP features are NaN without a stored document."""
    f = structure_features(structure, pressure_GPa)
    f.update(mlip_features(doc or {}, phonon_dos))
    return f
