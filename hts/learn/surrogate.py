"""Surrogate models: lambda and omega_log with predictive uncertainty, Tc by Allen-Dynes.

Regressors work on log(lambda) and log(omega_log) (both positive, spread over a decade):
- ``gp``: scikit-learn Gaussian process, Matern(nu=5/2) with one length scale per feature
  plus a white-noise term, on standardised, median-imputed features;
- ``forest``: an extra-trees ensemble; the spread of the per-tree predictions plus the
  out-of-bag residual variance is the predictive standard deviation.
Point predictions are medians (exp of the log-space mean; the MAE-optimal point of a
log-normal). Tc (K) is propagated by Monte Carlo through the vectorised Allen-Dynes
formula (f1 only), giving a median, mean, standard deviation and a 90% interval. A classifier for dynamical
stability is trained when the data hold both stable and unstable examples.

A saved model carries its feature list, training-set hash, metrics and library versions;
loading it for a table whose features differ raises ``ModelMismatch``. Models are saved with skops
(``.skops``), which reconstructs objects without running code from the file; a file that names any
type outside :data:`TRUSTED_TYPES` is refused, and pickle/joblib files are refused outright.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hts.learn.dataset import table_hash
from hts.learn.features import FEATURES
from hts.tc.formulas import allen_dynes_tc_array

__all__ = ["TRUSTED_TYPES", "ModelMismatch", "Surrogate", "check_schema", "feature_schema", "train_surrogate", "usable_features"]

Z90 = 1.6448536269514722  # two-sided 90% interval of a normal

# the only non-default types a saved surrogate may name (skops.io.get_untrusted_types of our own models)
TRUSTED_TYPES = (
    "hts.learn.surrogate.Surrogate", "hts.learn.surrogate._LogRegressor", "numpy.dtype", "sklearn.tree._tree.Tree",
    "sklearn.gaussian_process.kernels.ConstantKernel", "sklearn.gaussian_process.kernels.Matern",
    "sklearn.gaussian_process.kernels.Product", "sklearn.gaussian_process.kernels.Sum",
    "sklearn.gaussian_process.kernels.WhiteKernel",
)


class ModelMismatch(ValueError):
    """A saved model was asked to predict from a table whose features differ."""


def usable_features(df: pd.DataFrame, candidates: list[str] | None = None, min_fraction: float = 0.5) -> list[str]:
    """Features present (not NaN) in at least ``min_fraction`` of the rows and not constant."""
    out = []
    for c in candidates or list(FEATURES):
        if c not in df.columns:
            continue
        col = pd.to_numeric(df[c], errors="coerce")
        if col.notna().mean() >= min_fraction and col.nunique(dropna=True) > 1:
            out.append(c)
    return out


class _LogRegressor:
    """Regressor of log(y) with mean and standard deviation in log space."""

    def __init__(self, kind: str, seed: int = 0):
        self.kind = kind
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> "_LogRegressor":
        t = np.log(y)
        self.prep = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
        Z = self.prep.fit_transform(X)
        if self.kind == "gp":
            kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(length_scale=np.full(Z.shape[1], 3.0),
                                                                length_scale_bounds=(0.1, 1e3), nu=2.5) \
                + WhiteKernel(0.05, (1e-4, 1.0))
            self.model = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, random_state=self.seed)
            self.model.fit(Z, t)
        elif self.kind == "forest":
            self.model = ExtraTreesRegressor(n_estimators=300, min_samples_leaf=2, max_features=0.5, bootstrap=True,
                                             oob_score=True, random_state=self.seed, n_jobs=1)
            self.model.fit(Z, t)
            oob = self.model.oob_prediction_
            self.resid_var = float(np.nanmean((oob - t) ** 2))
        else:
            raise ValueError(f"unknown surrogate kind {self.kind!r} (gp | forest)")
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self.prep.transform(X)
        if self.kind == "gp":
            mu, sd = self.model.predict(Z, return_std=True)
            return mu, sd
        per_tree = np.stack([t.predict(Z) for t in self.model.estimators_])
        mu = per_tree.mean(axis=0)
        sd = np.sqrt(per_tree.var(axis=0) + self.resid_var)
        return mu, sd


@dataclass
class Surrogate:
    """Fitted lambda / omega_log regressors (+ optional stability classifier) and their metadata."""

    features: list[str]
    lam: _LogRegressor
    wlog: _LogRegressor
    stability: object | None = None
    meta: dict = field(default_factory=dict)

    def _X(self, df: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise ModelMismatch(f"table lacks the model's features {missing}; retrain or export with the same hts version")
        return df[self.features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)

    def predict(self, df: pd.DataFrame, mustar: float = 0.10, n_samples: int = 512, seed: int = 0) -> pd.DataFrame:
        """Per row: lambda, omega_log (K) and Tc (K) medians and 90% intervals, Tc mean and sd; p_stable."""
        X = self._X(df)
        lm, ls = self.lam.predict(X)
        wm, ws = self.wlog.predict(X)
        rng = np.random.default_rng(seed)
        lam_s = np.exp(lm[:, None] + ls[:, None] * rng.standard_normal((len(df), n_samples)))
        w_s = np.exp(wm[:, None] + ws[:, None] * rng.standard_normal((len(df), n_samples)))
        tc_s = allen_dynes_tc_array(lam_s, w_s, mustar)
        out = pd.DataFrame({
            "id": df["id"].to_numpy() if "id" in df else np.arange(len(df)),
            "lambda_pred": np.exp(lm), "lambda_lo90": np.exp(lm - Z90 * ls), "lambda_hi90": np.exp(lm + Z90 * ls),
            "lambda_log_sd": ls,
            "omega_log_pred_K": np.exp(wm), "omega_log_lo90_K": np.exp(wm - Z90 * ws),
            "omega_log_hi90_K": np.exp(wm + Z90 * ws), "omega_log_log_sd": ws,
            "tc_pred_K": np.median(tc_s, axis=1), "tc_mean_K": tc_s.mean(axis=1), "tc_sd_K": tc_s.std(axis=1),
            "tc_lo90_K": np.percentile(tc_s, 5, axis=1), "tc_hi90_K": np.percentile(tc_s, 95, axis=1),
        })
        if self.stability is not None:
            out["p_stable"] = self.stability.predict_proba(X)[:, list(self.stability.classes_).index(1)]
        else:
            out["p_stable"] = np.nan
        out.attrs["mustar"] = mustar
        return out

    # -- persistence -------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model as a skops file (``.skops``; no pickle)."""
        import skops.io as sio

        path = Path(path)
        if path.suffix != ".skops":
            raise ValueError(f"{path}: surrogate models are saved as .skops files")
        path.parent.mkdir(parents=True, exist_ok=True)
        sio.dump(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path, features: list[str] | None = None) -> "Surrogate":
        """Load a saved model; with ``features`` given, refuse one trained on a different list.

        Nothing in the file is executed: skops rebuilds only the types in :data:`TRUSTED_TYPES` (and its
        own defaults); a file naming any other type, or a pickle/joblib file, raises ``ModelMismatch``."""
        import zipfile

        import skops.io as sio

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} not found")
        if not zipfile.is_zipfile(path):
            raise ModelMismatch(f"{path} is not a skops model file; pickle/joblib models are refused because loading "
                                "them can run code: retrain with `hts train --out MODEL.skops`")
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 (a damaged archive raises many types)
            raise ModelMismatch(f"{path} is not a readable skops model ({type(exc).__name__})") from None
        foreign = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if foreign:
            raise ModelMismatch(f"{path} names types an hts surrogate never holds: {foreign[:5]}; refused")
        obj = sio.load(path, trusted=list(untrusted))
        if not isinstance(obj, cls):
            raise ModelMismatch(f"{path} is not an hts surrogate model")
        if features is not None and list(features) != list(obj.features):
            extra = sorted(set(features) - set(obj.features))
            lack = sorted(set(obj.features) - set(features))
            raise ModelMismatch(f"{path}: feature list differs from the model's (not in model: {extra}; missing: {lack})")
        return obj


def train_surrogate(df: pd.DataFrame, kind: str = "gp", features: list[str] | None = None, seed: int = 0) -> Surrogate:
    """Fit on rows with positive lambda and omega_log; stability classifier on rows with dyn_stable."""
    import sklearn

    lab = df[(pd.to_numeric(df["lambda"], errors="coerce") > 0) & (pd.to_numeric(df["omega_log_K"], errors="coerce") > 0)]
    if len(lab) < 5:
        raise ValueError(f"only {len(lab)} rows with lambda and omega_log: too few to train")
    features = features or usable_features(lab)
    X = lab[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    lam = _LogRegressor(kind, seed).fit(X, lab["lambda"].to_numpy(float))
    wlog = _LogRegressor(kind, seed).fit(X, lab["omega_log_K"].to_numpy(float))
    stab = None
    cls = df[pd.to_numeric(df.get("dyn_stable"), errors="coerce").isin([0.0, 1.0])] if "dyn_stable" in df else df.iloc[:0]
    n_unstable = int((cls["dyn_stable"] == 0).sum()) if len(cls) else 0
    if len(cls) and 0 < n_unstable < len(cls):
        stab = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             RandomForestClassifier(n_estimators=200, min_samples_leaf=2, class_weight="balanced", random_state=seed))
        stab.fit(cls[features].apply(pd.to_numeric, errors="coerce").to_numpy(float), cls["dyn_stable"].astype(int).to_numpy())
    meta = {
        "kind": kind, "n_train": int(len(lab)), "n_stability": int(len(cls)), "n_unstable": n_unstable,
        "training_hash": table_hash(lab, ["lambda", "omega_log_K"]),
        "stability_hash": table_hash(cls, ["dyn_stable"]) if len(cls) else None,
        "sources": sorted(map(str, lab["source"].dropna().unique())) if "source" in lab else [],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sklearn": sklearn.__version__,
        "train_ids": sorted(lab["id"].astype(str)),
        "feature_schema": feature_schema(),
    }
    return Surrogate(features, lam, wlog, stab, meta)


def feature_schema() -> str:
    """Hash of this hts version's feature names and units: a model trained elsewhere must match it."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(FEATURES, sort_keys=True).encode()).hexdigest()[:12]


def check_schema(model: Surrogate, path="model") -> None:
    """Refuse a model whose features are not computed (or not computed the same way) by this hts."""
    unknown = [f for f in model.features if f not in FEATURES]
    if unknown:
        raise ModelMismatch(f"{path}: features {unknown} are not computed by this hts version")
    if model.meta.get("feature_schema") != feature_schema():
        raise ModelMismatch(f"{path}: feature schema {model.meta.get('feature_schema')} differs from this hts version's "
                            f"{feature_schema()} (features changed meaning or unit); retrain with `hts train`")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    e = np.asarray(y_pred, float) - np.asarray(y_true, float)
    return {"mae": float(np.mean(np.abs(e))), "rmse": float(math.sqrt(np.mean(e**2)))}
