"""One table for learning: a row per stored candidate (every status) or per CompSC structure.

Label, provenance and feature columns are documented in ``COLUMNS`` (label/provenance) and
:data:`hts.learn.features.FEATURES`. Written as Parquet or CSV by ``hts dataset export``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from hts.learn.features import FEATURES, featurize

__all__ = ["COLUMNS", "docs_table", "store_table", "compsc_table", "write_table", "table_hash"]

COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("", "candidate id (store) or compsc-<ID>"),
    "source": ("", "'hts' (the store) or 'compsc' (literature)"),
    "campaign": ("", "campaign name (empty for CompSC)"),
    "formula": ("", "reduced formula"),
    "chemsys": ("", "elements joined by '-', sorted"),
    "role": ("", "candidate | reference"),
    "status": ("", "final status: relaxed, duplicate, off_hull, dyn_unstable, failed, tc_pending, tc_done (CompSC: tc_done)"),
    "failure_stage": ("", "stage that produced a negative status (relax, dedup, hull, phonons, dft, dfpt)"),
    "reason": ("", "why the candidate left the funnel"),
    "e_above_hull_meV": ("meV/atom", "enthalpy above the hull at the pressure (engine of the document)"),
    "dyn_stable": ("", "1 stable / 0 unstable by the phonon check (DFPT if done, else MLIP); empty when not checked"),
    "phonon_engine": ("", "engine that decided dyn_stable: mlip | dfpt | literature"),
    "lambda": ("", "electron-phonon coupling constant"),
    "omega_log_K": ("K", "logarithmic average phonon frequency"),
    "omega_2_K": ("K", "second-moment frequency"),
    "tc_ad_low_K": ("K", "Allen-Dynes Tc at the largest mu* of the range"),
    "tc_ad_high_K": ("K", "Allen-Dynes Tc at the smallest mu* of the range"),
    "engine": ("", "relaxation engine: mlip | qe | literature"),
    "engine_model": ("", "MLIP name or DFT code"),
    "protocol": ("", "DFPT protocol (screening | converged | smoke) where a Tc exists; smoke rows carry no labels"),
    "pseudopotentials": ("", "pseudopotential family used for DFPT"),
    "selected_round": ("", "surrogate round that selected it for DFPT (empty if never)"),
    "structure_json": ("", "relaxed (or initial) structure as pymatgen JSON"),
}


def _tc_labels(tc: dict) -> dict:
    ad = tc.get("tc_allen_dynes_K") or [math.nan, math.nan]
    pp = tc.get("pseudopotentials")  # a family name, or a block with one
    if tc.get("converged_protocol") is False:  # smoke runs are not labels: the row keeps its protocol, no numbers
        return {"lambda": None, "omega_log_K": None, "omega_2_K": None, "tc_ad_low_K": math.nan, "tc_ad_high_K": math.nan,
                "protocol": tc.get("protocol"), "pseudopotentials": pp.get("family") if isinstance(pp, dict) else pp}
    return {"lambda": tc.get("lambda"), "omega_log_K": tc.get("omega_log_K"), "omega_2_K": tc.get("omega_2_K"),
            "tc_ad_low_K": ad[0], "tc_ad_high_K": ad[1], "protocol": tc.get("protocol"),
            "pseudopotentials": pp.get("family") if isinstance(pp, dict) else pp}


def _dyn_stable(doc: dict) -> tuple[float, str | None]:
    tc = doc.get("tc") or {}
    if tc.get("dyn_stable") is not None and tc.get("converged_protocol") is not False:
        return float(bool(tc["dyn_stable"])), "dfpt"
    if doc.get("status") == "dyn_unstable":
        return 0.0, "mlip"
    ph = doc.get("phonon") or {}
    if ph.get("classification") in ("stable", "acoustic_noise"):
        return 1.0, "mlip"
    if ph.get("classification") == "unstable":
        return 0.0, "mlip"
    return math.nan, None


def store_table(store, campaign: str | None = None, with_features: bool = True, roles=("candidate",)) -> pd.DataFrame:
    """Every document (all statuses) of a campaign, or of the whole store, as one row each."""
    crit: dict = {"role": {"$in": list(roles)}}
    if campaign:
        crit["campaign"] = campaign
    docs = store.find(crit, sort={"id": 1})
    dos_of = store.get_data_many([d["id"] for d in docs if d.get("phonon")], "phonon_mlip") if with_features else {}
    return docs_table(docs, dos_of, with_features)


def docs_table(docs: list[dict], dos_of: dict[str, dict], with_features: bool = True) -> pd.DataFrame:
    """Candidate documents as the table (``dos_of``: their MLIP phonon arrays by id, for the features)."""
    rows = []
    for d in docs:
        s = Structure.from_dict(d.get("structure") or d["structure_initial"])
        dyn, ph_engine = _dyn_stable(d)
        eng = d.get("engine") or {}
        row = {"id": d["id"], "source": "hts", "campaign": d["campaign"], "formula": d["formula"], "chemsys": d["chemsys"],
               "role": d.get("role"), "status": d["status"], "failure_stage": d.get("stage"), "reason": d.get("reason"),
               "e_above_hull_meV": d.get("e_above_hull_meV"), "dyn_stable": dyn, "phonon_engine": ph_engine,
               "engine": eng.get("name"), "engine_model": eng.get("model"),
               "selected_round": (d.get("selection") or {}).get("round"), "structure_json": s.to_json(),
               "pressure_GPa": d["pressure_GPa"]}
        row.update(_tc_labels(d.get("tc") or {}))
        if with_features:
            row.update(featurize(s, d["pressure_GPa"], d, dos_of.get(d["id"])))
        rows.append(row)
    return _ordered(pd.DataFrame(rows))


def compsc_table(path=None, with_features: bool = True, mustar: tuple[float, float] = (0.10, 0.13)) -> pd.DataFrame:
    """CompSC as the same table: status tc_done, dynamically stable (the DFT works say so).

    Tc columns are Allen-Dynes with f1 only (CompSC gives no omega_2) over the mu* range.
    """
    from hts.learn.compsc import load_compsc
    from hts.tc.formulas import allen_dynes_tc

    rows = []
    for r in load_compsc(path):
        s = r["structure"]
        lam, wlog = r["lambda"], r["omega_log_K"]
        tcs = [allen_dynes_tc(lam, wlog, mu) for mu in mustar] if lam and wlog else [math.nan, math.nan]
        row = {"id": r["id"], "source": "compsc", "campaign": "", "formula": r["formula"],
               "chemsys": "-".join(sorted(str(e) for e in s.composition.elements)), "role": "candidate", "status": "tc_done",
               "dyn_stable": 1.0, "phonon_engine": "literature", "lambda": lam, "omega_log_K": wlog, "omega_2_K": math.nan,
               "tc_ad_low_K": min(tcs), "tc_ad_high_K": max(tcs), "engine": "literature", "engine_model": r.get("ref"),
               "structure_json": s.to_json(), "pressure_GPa": r["pressure_GPa"]}
        if with_features:
            row.update(featurize(s, r["pressure_GPa"]))
        rows.append(row)
    return _ordered(pd.DataFrame(rows))


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    for c in list(COLUMNS) + list(FEATURES):
        if c not in df.columns:
            df[c] = math.nan
    cols = list(COLUMNS) + [c for c in FEATURES] + [c for c in df.columns if c not in COLUMNS and c not in FEATURES]
    return df[list(dict.fromkeys(cols))]


def write_table(df: pd.DataFrame, out: str | Path) -> Path:
    """Parquet for .parquet/.pq, CSV otherwise."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix in (".parquet", ".pq"):
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    return out


def table_hash(df: pd.DataFrame, columns: list[str]) -> str:
    """sha1 of the training rows (ids and the given columns): identifies a training set."""
    key = df[["id"] + columns].sort_values("id").to_csv(index=False).encode()
    return hashlib.sha1(key).hexdigest()[:16]
