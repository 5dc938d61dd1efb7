"""DFT re-screen of the enthalpy hull before DFPT.

The candidates next in line for DFPT and the hull phases they depend on (every element of their
system and the reference phases of their MLIP decomposition) are re-relaxed with pw.x at the same
pressure (:meth:`hts.tc.dfpt.ElphMaker.vc_relax`). e_above_hull is recomputed with PhaseDiagram from
the DFT enthalpies and stored as ``dft_hull`` beside the MLIP value; a candidate above the threshold
becomes ``off_hull`` at stage ``dft_hull``. DFT results are cached on each document (``dft``, keyed by
protocol and pseudopotential family), so a reference is relaxed once for all candidates.
"""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Composition, Structure

from hts.stability.hull import enthalpy_hull

__all__ = ["dft_rescreen", "hull_phases"]


def hull_phases(pool: list[dict], group: list[dict]) -> list[dict]:
    """Lowest-enthalpy reference of every element and of every phase in the group's MLIP decompositions."""
    best: dict[str, dict] = {}
    for d in pool:
        f = Composition(d["formula"]).reduced_formula
        if f not in best or d["enthalpy_eV_per_atom"] < best[f]["enthalpy_eV_per_atom"]:
            best[f] = d
    want = {f for f, d in best.items() if d["nelements"] == 1}
    for d in group:
        want |= {f for f in (d.get("hull") or {}).get("decomposition", {}) if f in best}
    return [best[f] for f in sorted(want)]


def dft_rescreen(cfg, maker, cands: list[dict], references: list[dict]):
    """Re-relax ``cands`` and their hull phases (from ``references``: relaxed reference documents) with
    ``maker`` (an ElphMaker); yields (documents changed, DFT labels of the relaxations), each DFT relaxation
    as it finishes."""
    from hts.label.frames import stage_labels

    t = cfg.tc
    key = {"protocol": t.protocol, "pseudo_family": t.pseudo_family}
    thr = cfg.stability.hull_threshold_meV

    def dft(d: dict) -> dict:
        if (d.get("dft") or {}).get("key") != key:
            r = maker.vc_relax(Structure.from_dict(d.get("structure") or d["structure_initial"]), d["pressure_GPa"],
                               Path(t.workdir) / d["id"] / "dft_relax")
            d["dft"] = {"key": key, "ok": r.ok, "enthalpy_eV_per_atom": r.tc.get("dft_enthalpy_eV_per_atom"),
                        "failure": r.failure, "wall_s": r.tc.get("wall_s"), "warnings": r.tc.get("warnings", [])}
            if r.ok:
                d["structure_dft"] = r.structure.as_dict()
            fresh.append(d)
            labels.extend(stage_labels(d, r.frames, "dft_hull", r.tc, t.pseudo_family, t.protocol))
        return d["dft"]

    fresh: list[dict] = []
    labels: list[dict] = []

    def out(docs: list[dict]):
        done = (docs, list(labels))
        labels.clear()
        return done
    for system in cfg.systems:
        els = set(system.split("-"))
        for p in cfg.pressures_GPa:
            group = [d for d in cands if d["system"] == system and d["pressure_GPa"] == p]
            if not group:
                continue
            pool = [d for d in references if d["pressure_GPa"] == p and set(d["chemsys"].split("-")) <= els]
            entries = {}
            for r in hull_phases(pool, group):
                res = dft(r)
                if fresh:
                    yield out(fresh)
                    fresh = []
                if res["ok"]:
                    comp = Composition(r["formula"])
                    entries[r["id"]] = (comp, res["enthalpy_eV_per_atom"] * comp.num_atoms)
            missing = els - {str(e) for c, _ in entries.values() if len(c.elements) == 1 for e in c.elements}
            for d in group:
                res = dft(d)
                if fresh:
                    yield out(fresh)
                    fresh = []
                if res["ok"]:
                    entries[d["id"]] = (Structure.from_dict(d["structure"]).composition,
                                        res["enthalpy_eV_per_atom"] * len(d["structure"]["sites"]))
            hull = {} if missing else enthalpy_hull(entries)[1]
            for d in group:
                _verdict(d, hull, entries, missing, p, thr)
            yield out(group)


def _verdict(d: dict, hull: dict, entries: dict, missing: set, p: float, thr: float) -> None:
    if missing:
        d.update(status="failed", stage="dft_hull", reason=f"DFT re-screen: no DFT reference for element(s) {sorted(missing)} at {p:g} GPa")
        return
    if not d["dft"]["ok"]:
        f = d["dft"]["failure"] or {}
        d.update(status="failed", stage="dft_hull", reason=f"DFT re-screen: {f.get('step')}: {f.get('kind')}: {f.get('message')}")
        return
    h = hull[d["id"]]
    mlip = d.get("e_above_hull_meV")
    d["dft_hull"] = {"e_above_hull_meV": round(h.e_above_hull_meV, 3), "mlip_e_above_hull_meV": mlip,
                     "delta_meV": None if mlip is None else round(h.e_above_hull_meV - mlip, 3),
                     "decomposition": h.decomposition, "references": sorted(i for i in entries if i != d["id"])}
    if h.e_above_hull_meV > thr:
        d.update(status="off_hull", stage="dft_hull",
                 reason=f"DFT: {h.e_above_hull_meV:.1f} meV/atom above the {p:g} GPa hull (threshold {thr:g}; MLIP said {mlip} meV/atom)")
