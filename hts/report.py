"""Campaign report: the funnel (how many candidates reached and left each stage, and why)
and one enthalpy-hull plot per chemical system and pressure."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
from pymatgen.core import Composition

from hts.stability.hull import enthalpy_hull
from hts.store.documents import NEGATIVE_STATUSES
from hts.store.store import CandidateStore

__all__ = ["a2f_plot", "dft_vs_mlip", "funnel", "format_funnel", "hull_data", "hull_plots", "learning_report"]

_ALIASES = {"dfpt": "tc"}  # stage names negatives were recorded under -> the stage table's names
_PENDING = {"generated": "not yet relaxed", "tc_pending": "awaiting DFPT"}  # open statuses counted where they wait


def _reason_code(status: str, reason: str | None) -> str:
    """The reason's code: its status and its text without numbers, ids and formulas (the group key)."""
    if not reason:
        return f"{status}: (no reason)"
    r = re.sub(r"hts-[0-9a-f]+", "<id>", reason)
    r = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", r)
    r = re.sub(r"decomposes to .*", "decomposes to ...", r)
    return f"{status}: {r[:90]}"


def funnel(store: CandidateStore, campaign: str) -> dict:
    """Candidates that reached and left each stage of the stage table (its ``funnel`` rows), and why."""
    from hts.stages.table import STAGES

    rows_of = [st for st in STAGES if st.funnel]
    docs = store.find({"campaign": campaign, "role": "candidate"}, properties=["status", "stage", "reason", "tc.converged_protocol"])
    n = len(docs)
    lost: dict[str, Counter] = {st.name: Counter() for st in rows_of}
    example: dict[str, str] = {}  # reason code -> one reason with its numbers
    for d in docs:
        if d["status"] in NEGATIVE_STATUSES:
            where = _ALIASES.get(d.get("stage") or "relax", d.get("stage") or "relax")
            code = _reason_code(d["status"], d.get("reason"))
            example.setdefault(code, f"{d['status']}: {d.get('reason') or '(no reason)'}")
        elif d["status"] in _PENDING:
            where = next(st.name for st in reversed(rows_of) if d["status"] in st.inputs)
            code = example.setdefault(f"pending: {_PENDING[d['status']]}", f"pending: {_PENDING[d['status']]}")
        else:
            continue
        lost.setdefault(where, Counter())[code] += 1
    rows, remaining = [], n
    for st in rows_of:
        left = sum(lost[st.name].values())
        remaining -= left
        why = [{"code": c, "n": k, "example": example[c]} for c, k in lost[st.name].most_common()]
        rows.append({"stage": st.funnel, "reached": remaining, "left": left, "why": why})
    statuses = Counter(d["status"] for d in docs)
    smoke = sum(1 for d in docs if d["status"] == "tc_done" and (d.get("tc") or {}).get("converged_protocol") is False)
    return {"campaign": campaign, "candidates": n, "rows": rows, "statuses": dict(statuses), "tc_unconverged": smoke,
            "dft_vs_mlip": dft_vs_mlip(store, campaign)}


def dft_vs_mlip(store: CandidateStore, campaign: str) -> dict | None:
    """Per campaign: e_above_hull (DFT re-screen) minus e_above_hull (MLIP), meV/atom, over re-screened candidates."""
    deltas = [d["dft_hull"]["delta_meV"] for d in store.find({"campaign": campaign, "dft_hull.delta_meV": {"$ne": None}},
                                                             properties=["dft_hull"])
              if (d.get("dft_hull") or {}).get("delta_meV") is not None]
    if not deltas:
        return None
    a = np.asarray(deltas, dtype=float)
    return {"n": int(a.size), "mean_meV": float(a.mean()), "median_meV": float(np.median(a)), "max_abs_meV": float(np.abs(a).max())}


def format_funnel(f: dict) -> str:
    lines = [f"Campaign {f['campaign']}: {f['candidates']} candidates",
             f"{'stage':<22}{'reached':>8}{'left':>6}  why"]
    for r in f["rows"]:
        lines.append(f"{r['stage']:<22}{r['reached']:>8}{r['left']:>6}")
        for w in r["why"]:
            lines.append(f"{'':<36}{w['n']:>4} x  {w['example'] if w['n'] == 1 else 'e.g. ' + w['example']}")
    lines.append("statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(f["statuses"].items())))
    if f.get("dft_vs_mlip"):
        x = f["dft_vs_mlip"]
        lines.append(f"DFT re-screen of {x['n']} candidate(s): e_above_hull(DFT) - e_above_hull(MLIP) mean {x['mean_meV']:+.1f}, "
                     f"median {x['median_meV']:+.1f}, max |.| {x['max_abs_meV']:.1f} meV/atom")
    if f.get("tc_unconverged"):
        lines.append(f"note: {f['tc_unconverged']} tc_done result(s) come from the unconverged smoke protocol (not physics)")
    return "\n".join(lines)


def hull_data(store: CandidateStore, campaign: str) -> list[dict]:
    """Per (system, pressure) of the campaign: every phase on the enthalpy hull's diagram with its formula,
    id, composition, formation enthalpy and e_above_hull (meV/atom), and the hull's stable formulas."""
    mine = store.find({"campaign": campaign}, properties=["system", "pressure_GPa", "engine"])
    keys = sorted({(d["system"], d["pressure_GPa"]) for d in mine if d.get("engine")})
    model = next((d["engine"]["model"] for d in mine if d.get("engine")), None)
    out = []
    for system, p in keys:
        names = set(system.split("-"))
        els = sorted(names - {"H"}) + ["H"] * ("H" in names)  # hydrogen last: the x axis (binary) or the apex
        pool = [d for d in store.find({"pressure_GPa": p, "engine.model": model, "enthalpy_eV_per_atom": {"$ne": None},
                                       "status": {"$nin": ["failed", "duplicate", "generated"]}},
                                      properties=["id", "formula", "chemsys", "enthalpy_eV_per_atom", "role", "status"])
                if set(d["chemsys"].split("-")) <= set(els)]
        entries = {d["id"]: (Composition(d["formula"]), d["enthalpy_eV_per_atom"] * Composition(d["formula"]).num_atoms)
                   for d in pool}
        try:
            pd, res = enthalpy_hull(entries)
        except Exception:  # an element without a relaxed reference: no hull to draw
            continue
        by_id = {e.entry_id: e for e in pd.all_entries}
        points = []
        for d in pool:
            comp = Composition(d["formula"])
            points.append({"id": d["id"], "formula": comp.reduced_formula, "role": d["role"], "status": d["status"],
                           "fractions": [comp.get_atomic_fraction(e) for e in els],
                           "formation_meV_per_atom": 1000 * pd.get_form_energy_per_atom(by_id[d["id"]]),
                           "e_above_hull_meV": res[d["id"]].e_above_hull_meV})
        stable = sorted({pt["formula"] for pt in points if pt["e_above_hull_meV"] < 1e-3})
        out.append({"system": system, "elements": els, "pressure_GPa": p, "model": model, "points": points,
                    "stable": stable})
    return out


def _xy(fr: list[float]) -> tuple[float, float]:
    """Binary: fraction of the second element; ternary: the composition triangle."""
    if len(fr) == 2:
        return fr[1], 0.0
    return fr[1] + fr[2] / 2, fr[2] * 3**0.5 / 2


def hull_plots(store: CandidateStore, campaign: str, out_dir: str | Path, data: list[dict] | None = None) -> list[Path]:
    """One PNG per (system, pressure): stable phases named by formula on the hull, the others coloured by
    e_above_hull (binary: formation enthalpy against composition; ternary: the composition triangle)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for h in data if data is not None else hull_data(store, campaign):
        if len(h["elements"]) > 3:
            continue
        fig, ax = plt.subplots(figsize=(7, 5))
        pts = h["points"]
        stable = sorted((p for p in pts if p["e_above_hull_meV"] < 1e-3), key=lambda p: _xy(p["fractions"]))
        others = [p for p in pts if p["e_above_hull_meV"] >= 1e-3]
        binary = len(h["elements"]) == 2
        y_of = (lambda p: p["formation_meV_per_atom"]) if binary else (lambda p: _xy(p["fractions"])[1])
        if others:
            sc = ax.scatter([_xy(p["fractions"])[0] for p in others], [y_of(p) for p in others],
                            c=[min(p["e_above_hull_meV"], 300) for p in others], cmap="viridis_r", s=22, zorder=2)
            fig.colorbar(sc, ax=ax, label="e_above_hull (meV/atom, capped at 300)")
        if binary:
            ax.plot([_xy(p["fractions"])[0] for p in stable], [y_of(p) for p in stable], "k-", lw=1, zorder=1)
            ax.set(xlabel=f"atomic fraction of {h['elements'][1]}", ylabel="formation enthalpy (meV/atom)")
        else:
            ax.plot([0, 1, 0.5, 0], [0, 0, 3**0.5 / 2, 0], "k-", lw=0.8)
            ax.set_aspect("equal")
            ax.axis("off")
        done = set()
        for p in stable:
            x, y = _xy(p["fractions"])[0], y_of(p)
            ax.scatter([x], [y], color="k", s=30, zorder=3)
            if p["formula"] not in done:
                done.add(p["formula"])
                ax.annotate(p["formula"], (x, y), textcoords="offset points", xytext=(0, -12 if binary else 6),
                            ha="center", fontsize=9)
        ax.set_title(f"{'-'.join(h['elements'])} at {h['pressure_GPa']:g} GPa ({h['model']}): "
                     f"{len(h['stable'])} stable, {len(others)} above the hull", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"hull_{campaign}_{h['system']}_{h['pressure_GPa']:g}GPa.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def learning_report(store: CandidateStore, campaign: str, out_dir: str | Path) -> tuple[str, Path | None]:
    """The learning loop's history (round, training size, model error, best Tc) and a parity plot
    of the predictions made at selection time against the DFPT results (lambda, omega_log, Tc)."""
    from hts.learn.loop import history

    rounds = history(store, campaign)
    if not rounds:
        return "", None
    lines = ["learning loop:", f"{'round':>5} {'trained on':>10} {'unstable':>8} {'ranked':>6} {'selected':>8} "
             f"{'lambda MAE':>10} {'Tc MAE (K)':>10} {'best Tc (K)':>11}"]
    for r in rounds:
        e = r.get("model_error") or {}
        fmt = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
        lines.append(f"{r['round']:>5} {r['n_train']:>10} {r['n_unstable']:>8} {r['ranked']:>6} {len(r['selected']):>8} "
                     f"{fmt(e.get('lambda_mae')):>10} {fmt(e.get('tc_mae_K')):>10} {fmt(r.get('best_tc_K')):>11}")
    docs = [d for d in store.find({"campaign": campaign, "selection": {"$ne": None}, "status": "tc_done"})
            if (d.get("tc") or {}).get("lambda") is not None]
    if not docs:
        return "\n".join(lines), None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (key, tkey, label) in zip(axes, (("lambda", "lambda", "lambda"), ("omega_log_K", "omega_log_K", "omega_log (K)"),
                                             ("tc_K", "tc_allen_dynes_K", "Tc Allen-Dynes (K)"))):
        pred = [d["selection"]["predicted"][key] for d in docs]
        true = [max(d["tc"][tkey]) if isinstance(d["tc"][tkey], list) else d["tc"][tkey] for d in docs]
        ax.scatter(true, pred, c=[d["selection"]["round"] for d in docs], cmap="viridis")
        lim = [0, max(true + pred) * 1.05]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set(xlabel=f"DFPT {label}", ylabel=f"predicted {label}", xlim=lim, ylim=lim)
    fig.suptitle(f"{campaign}: surrogate at selection time vs DFPT (colour: round)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"parity_{campaign}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "\n".join(lines), path


def a2f_plot(store, doc_id: str, out_dir) -> Path:
    """alpha2F(omega) of one candidate with cumulative lambda(omega); H and heavy-atom parts shaded.

    Reads the arrays the DFPT stage put in the data store (selected smearing); writes
    ``<out_dir>/a2f_<id>.png`` and returns the path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hts.units import RY_TO_CMINV

    doc = store.get(doc_id)
    arr = store.get_data(doc_id, "a2f")
    if doc is None or arr is None:
        raise LookupError(f"no DFPT alpha2F stored for {doc_id!r}")
    tc = doc.get("tc") or {}
    i = arr["sigma_Ry"].index(tc["selected_sigma_Ry"]) if tc.get("selected_sigma_Ry") in arr["sigma_Ry"] else 0
    w = np.asarray(arr["omega_Ry"]) * RY_TO_CMINV
    f = np.asarray(arr["a2f_by_sigma"][i])
    pos = w > 0
    lam_cum = np.zeros_like(w)
    lam_cum[pos] = 2 * np.concatenate([[0.0], np.cumsum(0.5 * (f[pos][1:] / w[pos][1:] + f[pos][:-1] / w[pos][:-1]) * np.diff(w[pos]))])
    fig, ax = plt.subplots(figsize=(6, 4))
    if "w_H" in arr:
        wh = np.asarray(arr["w_H"])
        ax.fill_between(w, 0, f * (1 - wh), color="tab:gray", alpha=0.5, label="heavy atoms")
        ax.fill_between(w, f * (1 - wh), f, color="tab:blue", alpha=0.4, label="H")
    ax.plot(w, f, color="k", lw=1, label=r"$\alpha^2F(\omega)$")
    ax.set_xlabel(r"$\omega$ (cm$^{-1}$)")
    ax.set_ylabel(r"$\alpha^2F(\omega)$")
    ax2 = ax.twinx()
    ax2.plot(w, lam_cum, color="tab:red", lw=1.2, label=r"$\lambda(\omega)$")
    ax2.set_ylabel(r"cumulative $\lambda(\omega)$", color="tab:red")
    label = " [unconverged: smoke protocol]" if tc.get("converged_protocol") is False else ""
    ax.set_title(f"{doc['formula']} {doc['pressure_GPa']:g} GPa: lambda={tc.get('lambda', float('nan')):.2f}, "
                 f"sigma={arr['sigma_Ry'][i]:g} Ry{label}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"a2f_{doc_id}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
