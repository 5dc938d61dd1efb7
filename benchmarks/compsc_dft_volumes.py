"""CompSC hydrides relaxed with pw.x at the label settings: how far the labels' own DFT is from CompSC's volumes.

``benchmarks/mlip_fidelity.py`` scores a fine-tuned model by its relaxed volumes against CompSC's. The model is
trained on hts's labels (psl-us-pbe, its cutoffs, k spacing 0.35/A), not on CompSC's DFT; a model that fit the labels
exactly would still be off by whatever separates the two DFT setups. This relaxes the same sample with pw.x
(``vc-relax`` at the CompSC pressure, the label settings) and prints, per structure, pw.x's volume change and, for
each model JSON given, the model's volume change against CompSC and against pw.x. Rows go to a JSON-lines file
(resumable: a structure already there is not relaxed again).

Usage: python benchmarks/compsc_dft_volumes.py [--n 60] [--limit 10] [--nprocs 1]
           [--models-json docs/data/mlip_fidelity_s24_commensurate.json ...]
Last line: n=N median_dft_dV_pct=X median_abs_dft_dV_pct=Y [MODEL_median_abs_dV_vs_dft_pct=Z ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "docs" / "data" / "compsc_dft_volumes.jsonl"


def main() -> None:
    from mlip_fidelity import load_sample

    from hts.label.dft import LabelSettings, vc_relax

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--max-atoms", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None, help="relax at most this many new structures now")
    ap.add_argument("--nprocs", type=int, default=1)
    ap.add_argument("--k-spacing", type=float, default=0.35)
    ap.add_argument("--elements-of", default=str(ROOT / "data" / "potential" / "model"),
                    help="sample only CompSC hydrides of this fine-tuned model's elements (as mlip_fidelity.py does)")
    ap.add_argument("--models-json", nargs="*", default=[], help="mlip_fidelity.py --json files to compare")
    ap.add_argument("--compsc", default=str(ROOT.parent / "shared" / "data" / "compsc"))
    ap.add_argument("--workdir", default="/tmp/hts_compsc_vc")
    a = ap.parse_args()

    els = set(json.loads((Path(a.elements_of) / "model.json").read_text())["elements"])
    sample = load_sample(Path(a.compsc), a.n, a.max_atoms, elements=els)
    settings = LabelSettings(k_spacing_invA=a.k_spacing, nprocs=a.nprocs, timeout_s=3600.0)
    done = {}
    if OUT.exists():
        for x in OUT.read_text().splitlines():
            r = json.loads(x)
            if r["settings"] == settings.as_dict() and r["ok"]:  # a failed (or killed) relaxation is tried again
                done[r["id"]] = r
    todo = [s for s in sample if s[0] not in done][:a.limit]
    for sid, comp, p, s in todo:
        res = vc_relax(s, p, settings, Path(a.workdir) / f"{sid}")
        row = {"id": sid, "formula": comp, "pressure_GPa": p, "n_atoms": len(s), "settings": settings.as_dict(),
               "ok": res["ok"], "failure": res.get("failure"), "wall_s": res.get("wall_s"),
               "dft_dV_pct": 100.0 * (res["volume_A3_per_atom"] * len(s) / s.volume - 1.0) if res["ok"] else None}
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")
        done[sid] = row
        print(f"{sid} {comp} {p:g} GPa: " + (f"pw.x dV {row['dft_dV_pct']:+.2f} % ({row['wall_s']:.0f} s)"
                                             if res["ok"] else f"failed {res['failure']}"), flush=True)
    ids = {s[0] for s in sample}
    ok = {sid: r for sid, r in done.items() if r["ok"] and sid in ids}
    dv = np.array([r["dft_dV_pct"] for r in ok.values()])
    line = f"n={len(ok)} median_dft_dV_pct={np.median(dv):.2f} median_abs_dft_dV_pct={np.median(np.abs(dv)):.2f}" \
        if len(ok) else "n=0"
    for path in a.models_json:
        for model, res in json.loads(Path(path).read_text()).items():
            rows = {r["id"]: r for r in res["rows"] if r.get("ok") and r.get("dV_pct") is not None}
            common = [sid for sid in ok if sid in rows]
            if not common:
                continue
            # volumes relative to CompSC: (1 + model) / (1 + dft) - 1 is the model against pw.x
            vs_dft = [100.0 * ((1 + rows[i]["dV_pct"] / 100) / (1 + ok[i]["dft_dV_pct"] / 100) - 1) for i in common]
            vs_compsc = [rows[i]["dV_pct"] for i in common]
            print(f"{model} ({Path(path).name}, n={len(common)}): median |dV| vs CompSC "
                  f"{np.median(np.abs(vs_compsc)):.2f} %, vs pw.x {np.median(np.abs(vs_dft)):.2f} %; signed vs pw.x "
                  f"{np.median(vs_dft):+.2f} %")
            line += f" {Path(model).name}_median_abs_dV_vs_dft_pct={np.median(np.abs(vs_dft)):.2f}"
    print(line)


if __name__ == "__main__":
    main()
