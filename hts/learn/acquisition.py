"""Which candidates get DFPT next: an acquisition rule plus an exploration share.

Following Shipley et al. (2021), most of a round goes to the best-scored candidates and a
configurable share to middling and low predictions, so the model also learns low-Tc data.
Scores are in kelvin: UCB = mean Tc + kappa * sd; EI = expected improvement over the best
DFPT Tc so far (normal approximation). Both are multiplied by the predicted probability
of dynamical stability when a stability classifier exists.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["acquisition_score", "select_targets"]


def acquisition_score(pred: pd.DataFrame, rule: str = "ucb", kappa: float = 1.0, best_tc_K: float | None = None) -> np.ndarray:
    mu = pred["tc_mean_K"].to_numpy(float)
    sd = np.maximum(pred["tc_sd_K"].to_numpy(float), 1e-9)
    if rule == "ucb":
        score = mu + kappa * sd
    elif rule == "ei":
        best = 0.0 if best_tc_K is None or not math.isfinite(best_tc_K) else best_tc_K
        z = (mu - best) / sd
        score = (mu - best) * norm.cdf(z) + sd * norm.pdf(z)
    elif rule == "greedy":
        score = mu
    else:
        raise ValueError(f"unknown acquisition rule {rule!r} (ucb | ei | greedy)")
    p = pred["p_stable"].to_numpy(float) if "p_stable" in pred else np.full(len(pred), np.nan)
    return score * np.where(np.isfinite(p), p, 1.0)


def select_targets(pred: pd.DataFrame, n: int, rule: str = "ucb", kappa: float = 1.0, exploration_share: float = 0.3,
                   best_tc_K: float | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows of ``pred`` chosen for DFPT with columns ``score`` and ``bucket`` (exploit | middle | low)."""
    if not 0.0 <= exploration_share <= 1.0:
        raise ValueError("exploration_share must be in [0, 1]")
    pred = pred.copy()
    pred["score"] = acquisition_score(pred, rule, kappa, best_tc_K)
    n = min(n, len(pred))
    n_explore = int(round(n * exploration_share))
    exploit = pred.sort_values(["score", "id"], ascending=[False, True]).head(n - n_explore).assign(bucket="exploit")
    rest = pred.drop(exploit.index).sort_values(["tc_pred_K", "id"])
    rng = np.random.default_rng(seed)
    thirds = np.array_split(np.arange(len(rest)), 3) if len(rest) else [np.array([], int)] * 3
    n_low = n_explore // 2
    n_mid = n_explore - n_low
    picks = []
    for bucket, idx, k in (("low", thirds[0], n_low), ("middle", thirds[1], n_mid)):
        k = min(k, len(idx))
        if k:
            picks.append(rest.iloc[rng.choice(idx, size=k, replace=False)].assign(bucket=bucket))
    chosen = pd.concat([exploit, *picks])
    short = n - len(chosen)  # too few in a tercile: fill from the best of what is left
    if short > 0:
        left = pred.drop(chosen.index).sort_values(["score", "id"], ascending=[False, True]).head(short)
        chosen = pd.concat([chosen, left.assign(bucket="exploit")])
    return chosen
