"""Grouped cross-validation (no composition in both train and test) of the surrogate."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.model_selection import GroupKFold, KFold

from hts.learn.surrogate import regression_metrics, train_surrogate, usable_features
from hts.tc.formulas import allen_dynes_tc_array

__all__ = ["grouped_cv", "random_fold_log_rmse"]


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    lam, wlog = pd.to_numeric(table["lambda"], errors="coerce"), pd.to_numeric(table["omega_log_K"], errors="coerce")
    return table[(lam > 0) & (wlog > 0)].reset_index(drop=True)


def grouped_cv(table: pd.DataFrame, kind: str = "forest", folds: int = 5, mustar: float = 0.10, seed: int = 0) -> dict:
    """MAE/RMSE of lambda, omega_log (K), Tc (K) for the model and the train-mean baseline; Spearman of Tc;
    coverage of the 90% lambda interval. Folds are grouped by reduced formula."""
    df = _labelled(table)
    folds = min(folds, df["formula"].nunique())
    feats = usable_features(df)
    tc_true = allen_dynes_tc_array(df["lambda"], df["omega_log_K"], mustar)
    cols = ["lam", "lo", "hi", "wlog", "tc", "b_lam", "b_wlog", "b_tc"]
    pred = pd.DataFrame(np.nan, index=df.index, columns=cols)
    for tr, te in GroupKFold(folds).split(df, groups=df["formula"]):
        m = train_surrogate(df.iloc[tr], kind=kind, features=feats, seed=seed)
        p = m.predict(df.iloc[te], mustar=mustar)
        pred.loc[te, ["lam", "lo", "hi", "wlog", "tc"]] = p[["lambda_pred", "lambda_lo90", "lambda_hi90", "omega_log_pred_K", "tc_pred_K"]].to_numpy()
        pred.loc[te, ["b_lam", "b_wlog", "b_tc"]] = [df["lambda"].iloc[tr].mean(), df["omega_log_K"].iloc[tr].mean(), tc_true[tr].mean()]
    out = {"n": int(len(df)), "folds": folds, "n_formulas": int(df["formula"].nunique())}
    for name, true, mod, base in (("lambda", df["lambda"], pred["lam"], pred["b_lam"]),
                                  ("omega_log_K", df["omega_log_K"], pred["wlog"], pred["b_wlog"]),
                                  ("tc_K", tc_true, pred["tc"], pred["b_tc"])):
        mm, bm = regression_metrics(true, mod), regression_metrics(true, base)
        out.update({f"{name}_mae": mm["mae"], f"{name}_rmse": mm["rmse"], f"{name}_baseline_mae": bm["mae"],
                    f"{name}_baseline_rmse": bm["rmse"], f"{name}_mae_ratio": mm["mae"] / bm["mae"]})
    out["tc_spearman"] = float(spearmanr(tc_true, pred["tc"]).statistic)
    out.update(_log_errors(df, pred["lam"], pred["wlog"]))
    out["lambda_coverage90"] = float(np.mean((df["lambda"] >= pred["lo"]) & (df["lambda"] <= pred["hi"])))
    return out


def random_fold_log_rmse(table: pd.DataFrame, kind: str = "forest", folds: int = 5, seed: int = 42) -> dict:
    """Per-fold test RMSE of ln(lambda) and of omega_log divided by its range (max - min over the table) under
    shuffled, ungrouped K-fold CV: the protocol of Tran & Vu's GPR (their matsML notebook prints these two
    numbers per fold), so the same formula at another pressure may sit in the training folds."""
    df = _labelled(table)
    feats = usable_features(df)
    per_fold = []
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(df):
        p = train_surrogate(df.iloc[tr], kind=kind, features=feats, seed=0).predict(df.iloc[te])
        per_fold.append(_log_errors(df, p["lambda_pred"], p["omega_log_pred_K"], rows=te))
    return {"ln_lambda_rmse": [f["ln_lambda_rmse"] for f in per_fold],
            "omega_log_rmse_over_range": [f["omega_log_rmse_over_range"] for f in per_fold],
            "omega_log_range_K": _omega_log_span(df)}


def _omega_log_span(df: pd.DataFrame) -> float:
    return float(df["omega_log_K"].max() - df["omega_log_K"].min())


def _log_errors(df: pd.DataFrame, lam_pred, wlog_pred, rows=None) -> dict:
    """RMSE of ln(lambda), and RMSE of omega_log over its range in the whole table, for ``rows`` (all)."""
    sel = df if rows is None else df.iloc[rows]
    ln_rmse = regression_metrics(np.log(sel["lambda"].to_numpy(float)), np.log(np.asarray(lam_pred, float)))["rmse"]
    w_rmse = regression_metrics(sel["omega_log_K"].to_numpy(float), np.asarray(wlog_pred, float))["rmse"]
    return {"ln_lambda_rmse": ln_rmse, "omega_log_rmse_over_range": w_rmse / _omega_log_span(df)}
