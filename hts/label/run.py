"""Label configurations with pw.x, resumably: each label is written to the store's ``labels`` collection as it
finishes (failures too), a rerun skips what is there, and the labels are exported to one JSON-lines file
(sorted by id, atomically replaced) that the repository keeps as the potential's training data. A label made with
a coarser k spacing (or lower cutoffs) than asked for is made again and replaces the old one."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

__all__ = ["covers", "export_labels", "import_labels", "k_spacing", "read_rows", "run_labels"]

EXPORT_FIELDS = ("id", "origin", "formula", "elements", "n_atoms", "target_pressure_GPa", "status", "energy_eV",
                 "forces_eV_A", "stress_GPa", "pressure_GPa", "ecutwfc_Ry", "ecutrho_Ry", "k_mesh", "settings",
                 "qe_version", "wall_s", "failure")


def k_spacing(label: dict) -> float:
    """A label's k spacing (1/A); infinite where it records none."""
    return (label.get("settings") or {}).get("k_spacing_invA") or float("inf")


def covers(label: dict, settings) -> bool:
    """Whether a stored label is as good as the one ``settings`` would make: the same pseudopotential family, a k
    spacing no coarser and cutoffs no lower."""
    s = label.get("settings") or {}
    return (s.get("family") == settings.family and k_spacing(label) <= settings.k_spacing_invA + 1e-9
            and s.get("ecut_scale", 1.0) >= settings.ecut_scale - 1e-9)


def run_labels(store, configs, settings, workdir: Path, limit: int | None = None, export: Path | None = None,
               export_every: int = 5, progress=None, export_only_these: bool = False) -> Counter:
    """Label ``configs`` not yet in ``store.labels`` (cheapest first), exporting every ``export_every`` and at the
    end; returns counts per status of this run. With ``export_only_these`` the exported file holds only the labels
    of ``configs`` made at these settings (and what it held), not the rest of the store."""
    from hts.label.dft import scf_label

    if export and Path(export).exists():  # labels made elsewhere (the repository's file) are not made again
        import_labels(store, Path(export))
    have = _made(store, configs, settings)  # one of another family, a coarser k mesh or lower cutoffs is made again
    todo = sorted((c for c in configs if c.id not in have), key=lambda c: (len(c.structure), c.id))[:limit]
    counts: Counter = Counter()
    for i, c in enumerate(todo, 1):
        wd = Path(workdir) / c.id
        doc = scf_label(c, settings, wd)
        store.labels.update([doc])
        counts[doc["status"]] += 1
        if doc["status"] == "ok":
            shutil.rmtree(wd, ignore_errors=True)  # a failed run keeps its files to look at
        if export and i % export_every == 0:
            export_labels(store, export, _made(store, configs, settings) if export_only_these else None)
        if progress:
            progress(doc)
    if export:
        export_labels(store, export, _made(store, configs, settings) if export_only_these else None)
    return counts


def _made(store, configs, settings) -> set[str]:
    """Ids of ``configs`` whose stored label is as good as ``settings`` make."""
    return {d["id"] for d in store.labels.query({"id": {"$in": [c.id for c in configs]}}, properties=["id", "settings"])
            if covers(d, settings)}


def read_rows(path: Path) -> list[dict]:
    """The label rows of an exported JSON-lines file, as they are."""
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def import_labels(store, path: Path) -> int:
    """Labels of an exported file that the store lacks, or finer than the store's (same family, denser k mesh), put
    into it; returns how many."""
    rows = read_rows(path)
    have = {d["id"]: d for d in store.labels.query({"id": {"$in": [r["id"] for r in rows]}}, properties=["id", "settings"])}
    new = [r for r in rows if r["id"] not in have or _finer(r, have[r["id"]])]
    store.labels.update(new)
    return len(new)


def _finer(a: dict, b: dict) -> bool:
    """Label ``a`` made with the same family as ``b`` on a strictly denser k mesh."""
    same = (a.get("settings") or {}).get("family") == (b.get("settings") or {}).get("family")
    return same and k_spacing(a) < k_spacing(b) - 1e-9


def _compact(doc: dict) -> dict:
    from pymatgen.core import Structure

    out = {k: doc[k] for k in EXPORT_FIELDS if k in doc}
    if "lattice_A" in doc:  # already in the exported form
        return {k: doc[k] for k in (*EXPORT_FIELDS, "lattice_A", "species", "positions_A", "pseudopotentials_md5")
                if k in doc}
    s = Structure.from_dict(doc["structure"])
    out["lattice_A"] = s.lattice.matrix.round(8).tolist()
    out["species"] = [site.specie.symbol for site in s]
    out["positions_A"] = s.cart_coords.round(8).tolist()
    out["pseudopotentials_md5"] = {el: f["md5"] for el, f in (doc.get("pseudopotentials") or {}).get("files", {}).items()}
    return out


def export_labels(store, path: Path, ids: set | None = None) -> int:
    """Every label in the store (with ``ids``: those and the ones the file holds) as JSON lines sorted by id;
    returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    crit = {}
    if ids is not None:
        crit = {"id": {"$in": sorted(set(ids) | ({r["id"] for r in read_rows(path)} if path.exists() else set()))}}
    docs = sorted(store.labels.query(crit), key=lambda d: d["id"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        for d in docs:
            f.write(json.dumps(_compact(d), sort_keys=True) + "\n")
    os.replace(tmp, path)
    return len(docs)
