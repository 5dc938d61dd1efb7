"""``hts report CAMPAIGN --html``: one self-contained HTML page (no network needed to view it).

Funnel (bars and reasons), one enthalpy hull per system and pressure as inline SVG (stable phases named by
formula; every point's id, formula and e_above_hull in its hover title), Tc against pressure with the mu*
range as error bars, a sortable Tc table, and per-candidate details (CIF text, reason for negatives).
Sorting is plain JavaScript; ``report.html#sort=COLUMN`` (or ``#sort=-COLUMN``, descending) opens it sorted.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from hts.report import funnel, hull_data

__all__ = ["html_report"]

MAX_DETAILS = 500
_COLS = [("formula", "formula"), ("pressure", "pressure (GPa)"), ("ehull", "e_above_hull (meV/atom)"),
         ("lambda", "lambda"), ("wlog", "omega_log (K)"), ("tc", "Tc Allen-Dynes (K)"), ("protocol", "protocol"),
         ("status", "status")]
_CSS = """body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{cursor:pointer;background:#eee}
.bar{background:#4a7;height:14px}.why{color:#555;font-size:12px}svg text{font-size:11px}
details{margin:2px 0}pre{font-size:11px;background:#f6f6f6;padding:6px}"""
_JS = """function sortTable(col){var desc=col[0]==='-';if(desc)col=col.slice(1);
var t=document.getElementById('tc-table');var rows=Array.from(t.tBodies[0].rows);
rows.sort(function(a,b){var x=a.dataset[col],y=b.dataset[col];var fx=parseFloat(x),fy=parseFloat(y);
var c=(!isNaN(fx)&&!isNaN(fy))?fx-fy:String(x).localeCompare(String(y));return desc?-c:c;});
rows.forEach(function(r){t.tBodies[0].appendChild(r);});t.dataset.sorted=(desc?'-':'')+col;}
document.querySelectorAll('#tc-table th').forEach(function(th){th.addEventListener('click',function(){
var t=document.getElementById('tc-table');var c=th.dataset.col;sortTable(t.dataset.sorted===c?'-'+c:c);});});
var m=location.hash.match(/sort=(-?[a-z]+)/);if(m){sortTable(m[1]);}"""


def _e(x) -> str:
    return html.escape(str(x))


def _svg_hull(h: dict, w: int = 520, ht: int = 340) -> str:
    """The hull as SVG: binary (composition, formation enthalpy) or ternary (triangle)."""
    pts, pad = h["points"], 40
    binary = len(h["elements"]) == 2
    if binary:
        ys = [p["formation_meV_per_atom"] for p in pts] + [0.0]
        lo, hi = min(ys), max(max(ys), 1.0)

        def xy(p):
            return pad + p["fractions"][1] * (w - 2 * pad), pad + (hi - p["formation_meV_per_atom"]) / (hi - lo or 1) * (ht - 2 * pad)
    else:
        def xy(p):
            f = p["fractions"]
            return pad + (f[1] + f[2] / 2) * (w - 2 * pad), ht - pad - f[2] * 0.866 * (ht - 2 * pad)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{ht}" class="hull">']
    stable = sorted((p for p in pts if p["e_above_hull_meV"] < 1e-3), key=lambda p: xy(p)[0])
    if binary and stable:
        parts.append('<polyline fill="none" stroke="black" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, stable)) + '"/>')
    for p in sorted(pts, key=lambda p: -p["e_above_hull_meV"]):
        x, y = xy(p)
        e = p["e_above_hull_meV"]
        col = "black" if e < 1e-3 else f"hsl({max(0, 220 - min(e, 300) * 0.7):.0f},70%,45%)"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{col}"><title>{_e(p["formula"])} {_e(p["id"])}: '
                     f'{e:.1f} meV/atom above the hull ({_e(p["status"])})</title></circle>')
    named = set()
    for p in stable:
        if p["formula"] not in named:
            named.add(p["formula"])
            x, y = xy(p)
            parts.append(f'<text class="phase" x="{x:.1f}" y="{y + 16:.1f}" text-anchor="middle">{_e(p["formula"])}</text>')
    axis = (f"x: atomic fraction of {h['elements'][-1]}, 0 to 1; y: formation enthalpy, {lo:.0f} to {hi:.0f} meV/atom"
            if binary else f"corners: {', '.join(h['elements'])} (apex)")
    parts.append(f'<text x="{w / 2:.0f}" y="{ht - 8}" text-anchor="middle">{_e(axis)}</text>')
    parts.append(f'<text x="{w / 2:.0f}" y="16" text-anchor="middle">{_e("-".join(h["elements"]))} at {h["pressure_GPa"]:g} GPa '
                 f'({_e(h["model"])}); grey-blue to red: further above the hull</text></svg>')
    return "".join(parts)


def _tc_plot(rows: list[dict]) -> str:
    """Tc (Allen-Dynes) against pressure, the mu* range as error bars, as an embedded PNG (or '')."""
    done = [r for r in rows if r["tc_range"]]
    if not done:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in done:
        lo, hi = r["tc_range"]
        ax.errorbar([r["pressure"]], [(lo + hi) / 2], yerr=[[(hi - lo) / 2], [(hi - lo) / 2]], fmt="o", capsize=3)
        ax.annotate(r["formula"], (r["pressure"], hi), textcoords="offset points", xytext=(4, 2), fontsize=8)
    ax.set(xlabel="pressure (GPa)", ylabel="Tc Allen-Dynes (K), mu* range")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return f'<img alt="Tc against pressure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _tc_rows(docs: list[dict]) -> list[dict]:
    rows = []
    for d in docs:
        tc = d.get("tc") or {}
        ad = tc.get("tc_allen_dynes_K")
        rows.append({"id": d["id"], "formula": d["formula"], "pressure": d["pressure_GPa"],
                     "ehull": d.get("e_above_hull_meV"), "lambda": tc.get("lambda"), "wlog": tc.get("omega_log_K"),
                     "tc_range": [min(ad), max(ad)] if ad else None, "tc": max(ad) if ad else None,
                     "protocol": tc.get("protocol") or "", "status": d["status"]})
    return rows


def _fmt(v, nd=2) -> str:
    return "" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def html_report(store, campaign: str, path: str | Path) -> Path:
    """Write the campaign's report page to ``path``; returns it."""
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    f = funnel(store, campaign)
    hulls = hull_data(store, campaign)
    cands = store.find({"campaign": campaign, "role": "candidate"})
    tc_docs = [d for d in cands if d["status"] in ("tc_done", "tc_pending") or (d.get("tc") or {}).get("protocol")]
    rows = _tc_rows(tc_docs)
    n = max(f["candidates"], 1)
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>hts report {_e(campaign)}</title>"
           f"<style>{_CSS}</style></head><body><h1>Campaign {_e(campaign)}</h1>",
           f"<p>{f['candidates']} candidates; statuses: {_e(json.dumps(f['statuses']))}</p><h2>Funnel</h2><table>"
           "<tr><th>stage</th><th>reached</th><th></th><th>left, and why</th></tr>"]
    for r in f["rows"]:
        why = "<br>".join(f"{w['n']} x {_e(w['example'])}" for w in r["why"])
        out.append(f"<tr><td>{_e(r['stage'])}</td><td>{r['reached']}</td><td><div class='bar' style='width:"
                   f"{200 * r['reached'] / n:.0f}px'></div></td><td class='why'>{r['left']}<br>{why}</td></tr>")
    out.append("</table><h2>Enthalpy hulls</h2>")
    out += [_svg_hull(h) for h in hulls if len(h["elements"]) <= 3] or ["<p>no hull yet</p>"]
    out.append("<h2>Tc</h2>" + _tc_plot(rows))
    out.append("<table id='tc-table'><thead><tr>" + "".join(f"<th data-col='{c}'>{_e(t)}</th>" for c, t in _COLS)
               + "</tr></thead><tbody>")
    for r in rows:
        attrs = " ".join(f"data-{c}='{_e(_fmt(r[c], 6))}'" for c, _ in _COLS)
        tc = "" if not r["tc_range"] else f"{r['tc_range'][0]:.1f}-{r['tc_range'][1]:.1f}"
        cells = [r["formula"], _fmt(r["pressure"], 0), _fmt(r["ehull"], 1), _fmt(r["lambda"]), _fmt(r["wlog"], 0), tc,
                 r["protocol"], r["status"]]
        out.append(f"<tr {attrs} title='{_e(r['id'])}'>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table><h2>Candidates</h2>")
    shown = sorted(cands, key=lambda d: (d.get("e_above_hull_meV") is None, d.get("e_above_hull_meV") or 0.0))[:MAX_DETAILS]
    if len(cands) > MAX_DETAILS:
        out.append(f"<p>the {MAX_DETAILS} lowest in e_above_hull of {len(cands)}; `hts show ID` prints any</p>")
    for d in shown:
        s = d.get("structure") or d["structure_initial"]
        cif = str(CifWriter(Structure.from_dict(s)))
        reason = f" - {_e(d['reason'])}" if d.get("reason") else ""
        out.append(f"<details><summary>{_e(d['formula'])} {d['pressure_GPa']:g} GPa, {_e(d['status'])}{reason} "
                   f"<small>{_e(d['id'])}</small></summary><pre>{_e(cif)}</pre></details>")
    out.append(f"<script>{_JS}</script></body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")
    return path
