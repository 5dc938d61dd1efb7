"""Isotropic Eliashberg Tc: the linearised gap equation on the Matsubara axis.

For n >= 0 and even gap Delta_n, with omega_n = pi T (2n + 1) and bosonic
lambda(k) = 2 int dw alpha2F(w) w / (w^2 + (2 pi T k)^2):

    Z_n Delta_n = sum_{m>=0, |w_m|<w_c} [lambda(n-m) + lambda(n+m+1) - 2 mu*] Delta_m / (2m+1)
    Z_n = 1 + [lambda(0) + 2 sum_{k=1..n} lambda(k)] / (2n+1)

Tc is the temperature where the largest eigenvalue of the symmetrised kernel
minus diag(Z) crosses zero (Allen & Dynes, Phys. Rev. B 12, 905 (1975), sec. II).
mu* is taken at the cutoff w_c (default 10 x the highest phonon frequency).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

__all__ = ["eliashberg_tc", "gap_eigenvalue"]


def _lambda_bosonic(omega: np.ndarray, a2f: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """lambda(k) for bosonic Matsubara frequencies nu_k = 2 pi T k (same unit as omega)."""
    kern = omega[None, :] / (omega[None, :] ** 2 + nu[:, None] ** 2)
    return 2.0 * np.trapezoid(a2f[None, :] * kern, omega, axis=1)


def gap_eigenvalue(
    omega: np.ndarray, a2f: np.ndarray, temperature: float, mustar: float, cutoff: float
) -> float:
    """Largest eigenvalue of (K - diag Z) at temperature T (K); positive below Tc."""
    nmax = max(int(cutoff / (2.0 * math.pi * temperature) - 0.5), 1) + 1
    n = np.arange(nmax)
    lam_k = _lambda_bosonic(omega, a2f, 2.0 * math.pi * temperature * np.arange(2 * nmax + 1))
    diff = np.abs(n[:, None] - n[None, :])
    summ = n[:, None] + n[None, :] + 1
    two_n1 = 2.0 * n + 1.0
    kernel = (lam_k[diff] + lam_k[summ] - 2.0 * mustar) / np.sqrt(np.outer(two_n1, two_n1))
    cum = np.concatenate([[0.0], np.cumsum(lam_k[1:nmax])])  # sum_{k=1..n} lambda(k)
    z = 1.0 + (lam_k[0] + 2.0 * cum[:nmax]) / two_n1
    return float(np.linalg.eigvalsh(kernel - np.diag(z))[-1])


def eliashberg_tc(
    omega: np.ndarray,
    a2f: np.ndarray,
    mustar: float,
    cutoff_factor: float = 10.0,
    t_min: float = 0.05,
) -> float:
    """Tc (K) of the isotropic linearised Eliashberg equations; omega in K.

    Returns 0.0 when no Tc exists above ``t_min`` (K).
    """
    omega = np.asarray(omega, dtype=float)
    a2f = np.asarray(a2f, dtype=float)
    keep = omega > 0
    omega, a2f = omega[keep], a2f[keep]
    cutoff = cutoff_factor * omega.max()

    def f(log_t: float) -> float:
        return gap_eigenvalue(omega, a2f, math.exp(log_t), mustar, cutoff)

    # Walk down from the highest phonon frequency (small matrices first) until the
    # gap equation has a solution, then refine between the last two temperatures.
    t_hi = omega.max()
    while f(math.log(t_hi)) > 0:
        t_hi *= 2.0
    t_lo = t_hi / 2.0
    while f(math.log(t_lo)) <= 0:
        t_hi, t_lo = t_lo, t_lo / 2.0
        if t_lo < t_min:
            return 0.0
    return math.exp(brentq(f, math.log(t_lo), math.log(t_hi), xtol=1e-5))
