"""Moments of the Eliashberg function and closed-form Tc formulas.

All frequencies are in kelvin (k_B = 1) unless a function says otherwise; use
:data:`hts.units` conversions (THz, meV, cm^-1 -> K) before calling.

References
----------
- W. L. McMillan, Phys. Rev. 167, 331 (1968).
- P. B. Allen and R. C. Dynes, Phys. Rev. B 12, 905 (1975), eqs. (34)-(38).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "A2FMoments",
    "a2f_moments",
    "allen_dynes_tc",
    "allen_dynes_tc_array",
    "mcmillan_allen_dynes_tc",
    "mcmillan_tc",
    "tc_summary",
]


@dataclass(frozen=True)
class A2FMoments:
    """lambda (dimensionless), omega_log and omega_2 (same unit as the input omega)."""

    lam: float
    omega_log: float
    omega_2: float

    def as_dict(self) -> dict:
        return asdict(self)


def a2f_moments(omega: np.ndarray, a2f: np.ndarray) -> A2FMoments:
    """lambda, omega_log, omega_2 of alpha2F(omega) by trapezoidal integration.

    Only omega > 0 contributes (imaginary modes, printed as negative frequencies by
    most codes, and the omega = 0 point are excluded).
    """
    omega = np.asarray(omega, dtype=float)
    a2f = np.asarray(a2f, dtype=float)
    if omega.shape != a2f.shape or omega.ndim != 1:
        raise ValueError("omega and a2f must be 1-D arrays of the same length")
    pos = omega > 0
    w, f = omega[pos], a2f[pos]
    if w.size < 2:
        raise ValueError("alpha2F needs at least two points with omega > 0")
    lam = 2.0 * np.trapezoid(f / w, w)
    if lam <= 0:
        raise ValueError(f"lambda = {lam:.4g} <= 0: alpha2F has no positive weight")
    omega_log = math.exp(2.0 / lam * np.trapezoid(np.log(w) * f / w, w))
    omega_2 = math.sqrt(2.0 / lam * np.trapezoid(w * f, w))
    return A2FMoments(float(lam), float(omega_log), float(omega_2))


def _exponent(lam: float, mustar: float) -> float:
    denom = lam - mustar * (1.0 + 0.62 * lam)
    if denom <= 0:
        return -math.inf
    return -1.04 * (1.0 + lam) / denom


def mcmillan_tc(lam: float, theta_d: float, mustar: float) -> float:
    """McMillan's original formula, prefactor Theta_D / 1.45 (K)."""
    e = _exponent(lam, mustar)
    return 0.0 if e == -math.inf else theta_d / 1.45 * math.exp(e)


def mcmillan_allen_dynes_tc(lam: float, omega_log: float, mustar: float) -> float:
    """McMillan's formula with Allen-Dynes' prefactor omega_log / 1.2 (K)."""
    e = _exponent(lam, mustar)
    return 0.0 if e == -math.inf else omega_log / 1.2 * math.exp(e)


def allen_dynes_f1(lam: float, mustar: float) -> float:
    """Strong-coupling correction f1 (Allen-Dynes eq. 36)."""
    lam1 = 2.46 * (1.0 + 3.8 * mustar)
    return (1.0 + (lam / lam1) ** 1.5) ** (1.0 / 3.0)


def allen_dynes_f2(lam: float, mustar: float, omega_log: float, omega_2: float) -> float:
    """Shape correction f2 (Allen-Dynes eq. 37)."""
    ratio = omega_2 / omega_log
    lam2 = 1.82 * (1.0 + 6.3 * mustar) * ratio
    return 1.0 + (ratio - 1.0) * lam**2 / (lam**2 + lam2**2)


def allen_dynes_tc(
    lam: float, omega_log: float, mustar: float, omega_2: float | None = None
) -> float:
    """Allen-Dynes Tc with f1 and, when omega_2 is given, f2 (K).

    Without omega_2 only f1 is applied (f2 = 1), which is what most papers that
    quote no omega_2 do.
    """
    tc = mcmillan_allen_dynes_tc(lam, omega_log, mustar) * allen_dynes_f1(lam, mustar)
    if omega_2 is not None:
        tc *= allen_dynes_f2(lam, mustar, omega_log, omega_2)
    return tc


def tc_summary(
    lam: float,
    omega_log: float,
    mustar_values: tuple[float, ...] = (0.10, 0.13),
    omega_2: float | None = None,
) -> dict:
    """Tc by every closed formula for each mu*: {'mu*': {...}} plus [low, high] ranges."""
    per_mu = {}
    for mu in mustar_values:
        per_mu[f"{mu:g}"] = {
            "mcmillan_allen_dynes": mcmillan_allen_dynes_tc(lam, omega_log, mu),
            "allen_dynes": allen_dynes_tc(lam, omega_log, mu, omega_2),
        }
    out = {"lambda": lam, "omega_log_K": omega_log, "omega_2_K": omega_2, "by_mustar": per_mu}
    for key in ("mcmillan_allen_dynes", "allen_dynes"):
        vals = [v[key] for v in per_mu.values()]
        out[f"tc_{key}_K"] = [min(vals), max(vals)]
    return out


def allen_dynes_tc_array(lam, omega_log, mustar: float) -> np.ndarray:
    """Vectorised Allen-Dynes Tc with f1 only (K); 0 where lambda <= mu*(1 + 0.62 lambda)."""
    lam = np.asarray(lam, dtype=float)
    omega_log = np.asarray(omega_log, dtype=float)
    denom = lam - mustar * (1.0 + 0.62 * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        expo = np.where(denom > 0, -1.04 * (1.0 + lam) / np.where(denom > 0, denom, 1.0), -np.inf)
    lam1 = 2.46 * (1.0 + 3.8 * mustar)
    f1 = (1.0 + (np.clip(lam, 0, None) / lam1) ** 1.5) ** (1.0 / 3.0)
    return omega_log / 1.2 * np.exp(expo) * f1
