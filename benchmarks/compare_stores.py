"""Compare one campaign in two stores, e.g. the same config run by two versions of hts: documents, counts per
status and role, the documents whose status differs, and the largest enthalpy and e_above_hull differences.

    python benchmarks/compare_stores.py OLD_STORE NEW_STORE --campaign NAME

Last line: ``same_ids=True|False status_differences=N max_dH_eV_per_atom=X``.
"""

from __future__ import annotations

import argparse
from collections import Counter


def load(path: str, campaign: str) -> dict[str, dict]:
    from hts.store.store import open_store

    uri = path if path.startswith("mongodb://") else None
    with open_store(path, uri, must_exist=not uri) as s:
        return {d["id"]: d for d in s.find({"campaign": campaign})}


def e_hull(d: dict):
    return (d.get("hull") or {}).get("e_above_hull_meV", d.get("e_above_hull_meV"))  # schema 3, or schema 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--campaign", required=True)
    args = ap.parse_args()
    old, new = load(args.old, args.campaign), load(args.new, args.campaign)
    print(f"documents: {len(old)} and {len(new)}")
    for role in ("candidate", "reference"):
        for name, docs in (("old", old), ("new", new)):
            print(f"{role:9s} {name}: {dict(sorted(Counter(d['status'] for d in docs.values() if d['role'] == role).items()))}")
    both = sorted(set(old) & set(new))
    diff = [(i, old[i]["status"], new[i]["status"]) for i in both if old[i]["status"] != new[i]["status"]]
    for i, a, b in diff:
        print(f"  {i}: {a} -> {b}")
    dh = [abs(old[i]["enthalpy_eV_per_atom"] - new[i]["enthalpy_eV_per_atom"]) for i in both
          if old[i].get("enthalpy_eV_per_atom") is not None and new[i].get("enthalpy_eV_per_atom") is not None]
    de = [abs(e_hull(old[i]) - e_hull(new[i])) for i in both if e_hull(old[i]) is not None and e_hull(new[i]) is not None]
    print(f"max |d e_above_hull| meV: {max(de, default=0.0):.3g}")
    print(f"same_ids={set(old) == set(new)} status_differences={len(diff)} max_dH_eV_per_atom={max(dh, default=0.0):.3g}")


if __name__ == "__main__":
    main()
