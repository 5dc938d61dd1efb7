"""One round of the learning loop on a store.

retrain on everything stored (+ CompSC) -> predict the campaign's tc_pending candidates
that have no DFPT result -> select by acquisition -> mark ``selection`` on their documents
and ``prediction`` on every ranked one -> record the round (model error on the targets the
previous round selected that now have DFPT labels, best Tc found) in the store.

The DFPT stage then computes the selected candidates; the next round sees their labels
(and their negatives: dynamically unstable, failed) and re-ranks what is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hts.config import LearningSettings
from hts.learn.acquisition import select_targets
from hts.learn.dataset import compsc_table, docs_table, store_table
from hts.learn.surrogate import Surrogate, train_surrogate
from hts.store.documents import now

__all__ = ["RoundResult", "history", "plan_round", "run_round", "training_table"]

HISTORY_ID = "campaign:{}"


@dataclass
class RoundResult:
    round: int
    model_path: str
    n_train: int
    n_train_store: int
    n_stability: int
    n_unstable: int
    ranked: int
    selected: list[str]
    buckets: dict
    best_tc_K: float | None
    model_error: dict


@lru_cache(maxsize=4)
def _compsc(path: str | None) -> pd.DataFrame:
    """CompSC rows with features (about 15 s), computed once per process."""
    return compsc_table(path)


def training_table(store, settings: LearningSettings) -> pd.DataFrame:
    """Everything stored (all campaigns, all statuses) plus CompSC when enabled."""
    return _with_compsc(store_table(store), settings)


def _with_compsc(table: pd.DataFrame, settings: LearningSettings) -> pd.DataFrame:
    parts = [table] + ([_compsc(settings.compsc_path)] if settings.compsc else [])
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else table


def history(store, campaign: str) -> list[dict]:
    """Recorded rounds of a campaign, oldest first (``store``: anything with ``data_of``)."""
    return sorted(store.data_of(HISTORY_ID.format(campaign)).values(), key=lambda r: r["round"])


def _best_tc(table: pd.DataFrame, campaign: str) -> float | None:
    mine = table[(table["source"] == "hts") & (table["campaign"] == campaign)]
    vals = pd.to_numeric(mine["tc_ad_high_K"], errors="coerce").dropna()
    return float(vals.max()) if len(vals) else None


def _previous_error(docs: list[dict], campaign: str) -> dict:
    """Error of the stored predictions on selected candidates that now have DFPT labels."""
    done = ("tc_done", "dyn_unstable", "failed")
    lam_e, w_e, tc_e, n_neg = [], [], [], 0
    for d in docs:
        if d["campaign"] != campaign or not d.get("selection") or d["status"] not in done:
            continue
        pred, tc = d["selection"].get("predicted", {}), d.get("tc") or {}
        if tc.get("lambda") is None:
            n_neg += 1
            continue
        lam_e.append(abs(pred["lambda"] - tc["lambda"]))
        w_e.append(abs(pred["omega_log_K"] - tc["omega_log_K"]))
        if tc.get("tc_allen_dynes_K"):
            tc_e.append(abs(pred["tc_K"] - max(tc["tc_allen_dynes_K"])))
    f = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return {"n_labelled": len(lam_e), "n_negative": n_neg, "lambda_mae": f(lam_e), "omega_log_mae_K": f(w_e), "tc_mae_K": f(tc_e)}


def plan_round(docs: list[dict], data, campaign: str, settings: LearningSettings,
               n: int | None = None) -> tuple[RoundResult, list[dict], tuple[str, str, dict]]:
    """One round on ``docs`` (every candidate document of the store) and ``data`` (read-only: the store's
    ``get_data_many`` and ``data_of``): the result, the documents it changed and the history record.
    Writes only the model file."""
    past = history(data, campaign)
    k = (past[-1]["round"] + 1) if past else 1
    docs = sorted(docs, key=lambda d: d["id"])
    table = _with_compsc(docs_table(docs, data.get_data_many([d["id"] for d in docs if d.get("phonon")], "phonon_mlip")),
                         settings)
    model = train_surrogate(table, kind=settings.model, seed=settings.seed)
    path = Path(settings.model_dir) / f"{campaign}-round{k:03d}.skops"
    model.meta.update(campaign=campaign, round=k)
    model.save(path)

    pool_docs = {d["id"]: d for d in docs if d["campaign"] == campaign and d["status"] == "tc_pending"
                 and not (d.get("tc") or {}).get("lambda") and not d.get("selection")}
    pool = table[(table["source"] == "hts") & table["id"].isin(list(pool_docs))]
    best = _best_tc(table, campaign)
    chosen, updates = pd.DataFrame(), []
    if len(pool):
        pred = model.predict(pool, mustar=settings.mustar)
        chosen = select_targets(pred, n or settings.n_per_round, settings.rule, settings.kappa, settings.exploration_share,
                                best, seed=settings.seed + k)
        chosen_ids = set(chosen["id"])
        for _, row in pred.iterrows():
            d = pool_docs[row["id"]]
            p = {"round": k, "model": str(path), "lambda": float(row["lambda_pred"]), "lambda_90": [float(row["lambda_lo90"]), float(row["lambda_hi90"])],
                 "omega_log_K": float(row["omega_log_pred_K"]), "tc_K": float(row["tc_pred_K"]), "tc_sd_K": float(row["tc_sd_K"]),
                 "tc_90_K": [float(row["tc_lo90_K"]), float(row["tc_hi90_K"])], "mustar": settings.mustar,
                 "p_stable": None if not math.isfinite(row["p_stable"]) else float(row["p_stable"])}
            d["prediction"] = p
            if row["id"] in chosen_ids:
                c = chosen[chosen["id"] == row["id"]].iloc[0]
                d["selection"] = {"round": k, "bucket": c["bucket"], "score": float(c["score"]), "rule": settings.rule,
                                  "training_hash": model.meta["training_hash"], "predicted": p, "at": now()}
            updates.append(d)
    buckets = chosen["bucket"].value_counts().to_dict() if len(chosen) else {}
    res = RoundResult(
        round=k, model_path=str(path), n_train=model.meta["n_train"],
        n_train_store=sum(not i.startswith("compsc-") for i in model.meta["train_ids"]),
        n_stability=model.meta["n_stability"], n_unstable=model.meta["n_unstable"], ranked=int(len(pool)),
        selected=sorted(chosen["id"]) if len(chosen) else [], buckets=buckets, best_tc_K=best,
        model_error=_previous_error(docs, campaign),
    )
    record = (HISTORY_ID.format(campaign), f"learning_round_{k:03d}",
              {**res.__dict__, "training_hash": model.meta["training_hash"], "at": now()})
    return res, updates, record


def run_round(store, campaign: str, settings: LearningSettings, n: int | None = None) -> RoundResult:
    """Retrain, rank the campaign's open candidates, select ``n`` for DFPT and record the round."""
    res, updates, record = plan_round(store.find({"role": "candidate"}), store, campaign, settings, n)
    store.upsert(updates)
    store.put_data_many([record])
    return res


def load_for_prediction(path: str | Path) -> Surrogate:
    """A saved model, refused if its feature schema is not this hts version's."""
    from hts.learn.surrogate import check_schema

    m = Surrogate.load(path)
    check_schema(m, path)
    return m
