"""Volumes at pressure calibrated on hts's own DFT labels.

The a-priori estimates (:mod:`hts.generate.volume`, Murnaghan with ambient B0 and B0' = 4) put Ca, Sr, Ba and Y
cells meant for 300 GPa at 28-94 GPa, so labels would cluster far below the pressures the potential must learn.
Each element's labels (cells of that element alone, any phase) give pressure against volume per atom; a Vinet
equation of state fitted to them is inverted for the volume at the target pressure. A compound's volume is the
sum of its elements' volumes at that pressure (volume additivity, good to a few per cent for hydrides). Hydrogen in
a hydride is denser than solid hydrogen (by about 1.7x, Loubeyre et al. 1996), so it has a fit of its own: the
volume of hydride labels less their metal's volume, per H atom; the a-priori estimate until such labels exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["VinetFit", "CalibratedVolumes", "fit_vinet"]


@dataclass(frozen=True)
class VinetFit:
    v0_A3: float
    b0_GPa: float
    b0_prime: float
    n_labels: int
    p_range_GPa: tuple[float, float]

    def pressure(self, v_A3):
        x = (np.asarray(v_A3, dtype=float) / self.v0_A3) ** (1 / 3)
        return 3 * self.b0_GPa * (1 - x) / x**2 * np.exp(1.5 * (self.b0_prime - 1) * (1 - x))

    def volume(self, p_GPa: float) -> float:
        """Volume per atom (A^3) at ``p_GPa``: the root of P(V) = p between 0.05 V0 and 1.5 V0 (ValueError if
        the fit does not reach that pressure there)."""
        from scipy.optimize import brentq

        lo, hi = 0.05 * self.v0_A3, 1.5 * self.v0_A3
        if not float(self.pressure(hi)) <= p_GPa <= float(self.pressure(lo)):
            raise ValueError(f"{p_GPa} GPa is outside this fit's range between {lo:.2f} and {hi:.2f} A^3")
        return float(brentq(lambda v: float(self.pressure(v)) - p_GPa, lo, hi))


def fit_vinet(volumes_A3, pressures_GPa, robust: bool = False) -> VinetFit:
    """Vinet fit of P(V) points (at least 3, of which 2 distinct volumes). ``robust``: residuals relative to
    max(P, 20 GPa) under a Cauchy loss, so that scattered points (the per-H volume of hydrides) and the many
    points at high pressure do not pull the fit away from the bulk of the data at 50-300 GPa."""
    from scipy.optimize import least_squares

    v = np.asarray(volumes_A3, dtype=float)
    p = np.asarray(pressures_GPa, dtype=float)
    if len(v) < 3 or len(set(np.round(v, 3))) < 2:
        raise ValueError(f"a Vinet fit needs 3 points at 2 volumes or more, got {len(v)}")
    scale = np.maximum(np.abs(p), 20.0) if robust else 1.0

    def residual(x):
        return (VinetFit(*x, 0, (0, 0)).pressure(v) - p) / scale

    res = least_squares(residual, x0=(float(v.max()) * 1.6, 30.0, 4.0),
                        bounds=([v.max(), 1.0, 2.0], [6 * v.max(), 800.0, 8.0]),
                        loss="cauchy" if robust else "linear", f_scale=0.1 if robust else 1.0, max_nfev=20000)
    if not res.success:
        raise RuntimeError(f"Vinet fit did not converge: {res.message}")
    return VinetFit(*(float(x) for x in res.x), n_labels=len(v), p_range_GPa=(float(p.min()), float(p.max())))


class CalibratedVolumes:
    """Volume of a composition at pressure from per-element Vinet fits of labels, else the a-priori estimate."""

    def __init__(self, fits: dict[str, VinetFit], hydride_h: VinetFit | None = None):
        self.fits = dict(fits)
        self.hydride_h = hydride_h  # volume per H atom in hydrides

    @classmethod
    def from_labels(cls, labels: list[dict], min_labels: int = 4, anchors: bool = True) -> CalibratedVolumes:
        """Fits for every element with ``min_labels`` ok single-element labels (exported label rows); with
        ``anchors``, the all-electron PBE zero-pressure volume of the fcc crystal (ACWF) is one more point, so
        the fit stays physical between ambient and the labels (not for H, whose solid is molecular)."""
        from hts.dft.verify import ACWF_FCC_V0

        points: dict[str, list[tuple[float, float]]] = {}
        for r in labels:
            if r.get("status") != "ok" or len(set(r["species"])) != 1 or r.get("pressure_GPa") is None:
                continue
            v = abs(float(np.linalg.det(np.asarray(r["lattice_A"])))) / len(r["species"])
            points.setdefault(r["species"][0], []).append((v, float(r["pressure_GPa"])))
        fits = {}
        for el, pts in points.items():
            if anchors and el != "H" and el in ACWF_FCC_V0:
                pts = [*pts, (ACWF_FCC_V0[el], 0.0)]
            if len(pts) >= min_labels:
                try:
                    fits[el] = fit_vinet(*zip(*pts))
                except (ValueError, RuntimeError):
                    continue  # too few or degenerate points: the a-priori estimate stays
        h_pts = []  # binary hydrides of a fitted metal: the volume left for each H atom
        for r in labels:
            els = set(r.get("species") or [])
            if r.get("status") != "ok" or r.get("pressure_GPa") is None or len(els) != 2 or "H" not in els:
                continue
            (metal,) = els - {"H"}
            if metal not in fits or not 5.0 <= r["pressure_GPa"] <= 1000.0:
                continue
            v = abs(float(np.linalg.det(np.asarray(r["lattice_A"]))))
            n_h = r["species"].count("H")
            try:
                v_h = (v - (len(r["species"]) - n_h) * fits[metal].volume(r["pressure_GPa"])) / n_h
            except ValueError:
                continue
            if v_h > 0:
                h_pts.append((v_h, float(r["pressure_GPa"])))
        hydride_h = None
        if len(h_pts) >= min_labels:
            try:
                hydride_h = fit_vinet(*zip(*h_pts), robust=True)
            except (ValueError, RuntimeError):
                hydride_h = None
        return cls(fits, hydride_h)

    def atomic_volume(self, element: str, p_GPa: float) -> float:
        from hts.generate.volume import atomic_volume

        fit = self.fits.get(element)
        return fit.volume(p_GPa) if fit is not None else atomic_volume(element, p_GPa)

    def volume(self, composition, p_GPa: float) -> float:
        """Sum of the elements' volumes (A^3) for a pymatgen Composition at ``p_GPa`` (H in a compound: its
        hydride volume)."""
        from hts.generate.volume import atomic_volume

        if len(composition.elements) == 1:
            return composition.num_atoms * self.atomic_volume(str(composition.elements[0]), p_GPa)
        total = 0.0
        for el, n in composition.items():
            if str(el) == "H":
                total += n * (self.hydride_h.volume(p_GPa) if self.hydride_h else atomic_volume("H", p_GPa))
            else:
                total += n * self.atomic_volume(str(el), p_GPa)
        return total
