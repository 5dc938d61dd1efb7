"""Candidate store: maggma Stores over an embedded on-disk montydb or a MongoDB URI.

Two collections: ``candidates`` (one document per candidate, queried with the Mongo
query language) and ``candidate_data`` (big arrays: trajectories, phonon DOS, alpha2F),
keyed by (id, kind). The same code serves both backends.
"""

from __future__ import annotations

from pathlib import Path

from maggma.core import Store

from hts.store.documents import CandidateDoc, now
from hts.store.uri import StoreURIError, mongo_uri

__all__ = ["CandidateStore", "StoreURIError", "mongo_uri", "open_store"]

INDEXED_FIELDS = ("id", "campaign", "status", "formula", "chemsys", "pressure_GPa", "role", "e_above_hull_meV")


class CandidateStore:
    """Thin layer over two maggma Stores with document validation."""

    def __init__(self, docs: Store, data: Store, description: str):
        self.docs = docs
        self.data = data
        self.description = description

    # -- lifecycle -------------------------------------------------------
    def connect(self) -> "CandidateStore":
        self.docs.connect()
        self.data.connect()
        for field in INDEXED_FIELDS:
            try:
                self.docs.ensure_index(field)
            except NotImplementedError:  # montydb has no secondary indexes
                break
        return self

    def close(self) -> None:
        self.docs.close()
        self.data.close()

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # -- candidates ------------------------------------------------------
    def upsert(self, docs: list[dict]) -> None:
        if not docs:
            return
        clean = []
        for d in docs:
            d = CandidateDoc.model_validate(d).model_dump(mode="json")
            d["provenance"]["updated"] = now()
            clean.append(d)
        self.docs.update(clean, key="id")

    def get(self, doc_id: str) -> dict | None:
        d = self.docs.query_one({"id": doc_id})
        if d:
            d.pop("_id", None)
        return d

    def find(self, criteria: dict | None = None, properties: list[str] | None = None, sort: dict | None = None) -> list[dict]:
        out = []
        for d in self.docs.query(criteria or {}, properties=properties, sort=sort):
            d.pop("_id", None)
            out.append(d)
        return out

    def count(self, criteria: dict | None = None) -> int:
        return self.docs.count(criteria or {})

    def status_counts(self, campaign: str) -> dict[str, int]:
        """Candidates of a campaign per status (references left out)."""
        counts: dict[str, int] = {}
        for d in self.find({"campaign": campaign, "role": "candidate"}, properties=["status"]):
            counts[d["status"]] = counts.get(d["status"], 0) + 1
        return counts

    # -- arrays ----------------------------------------------------------
    def put_data(self, doc_id: str, kind: str, payload: dict) -> None:
        self.data.update([{"key": f"{doc_id}:{kind}", "id": doc_id, "kind": kind, "data": payload}], key="key")

    def get_data(self, doc_id: str, kind: str) -> dict | None:
        d = self.data.query_one({"key": f"{doc_id}:{kind}"})
        return None if d is None else d["data"]


def open_store(path: str | Path = "hts_store", uri: str | None = None, database: str = "hts",
               must_exist: bool = False) -> CandidateStore:
    """Embedded montydb store at ``path`` unless a MongoDB URI is given (``uri``, or see :func:`mongo_uri`).

    ``must_exist``: refuse (:class:`StoreURIError`) an embedded store directory that is not there, as
    read-only commands do, instead of creating an empty one and reporting "0 documents"."""
    uri = mongo_uri(uri)
    if uri:
        from hts.store.mongo import CampaignMongoStore

        docs = CampaignMongoStore(database, "candidates", uri=uri, key="id")
        data = CampaignMongoStore(database, "candidate_data", uri=uri, key="key")
        return CandidateStore(docs, data, docs.description)
    from maggma.stores import MontyStore

    path = Path(path).resolve()
    if must_exist and not (path / "monty.storage.cfg").is_file():
        raise StoreURIError(f"no hts store at {path} (check --store or the config's store.path)")
    path.mkdir(parents=True, exist_ok=True)
    kw = {"database_path": str(path), "database_name": database, "storage": "sqlite"}
    docs = MontyStore("candidates", key="id", **kw)
    data = MontyStore("candidate_data", key="key", **kw)
    return CandidateStore(docs, data, f"embedded montydb at {path}")
