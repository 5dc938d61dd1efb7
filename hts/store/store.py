"""Candidate store: maggma Stores over an embedded SQLite file (default) or a MongoDB URI.

Two collections: ``candidates`` (one document per candidate, queried with the Mongo
query language) and ``candidate_data`` (big arrays: trajectories, phonon DOS, alpha2F),
keyed by (id, kind). The same code and the same queries serve both backends; both index
the query fields. Stores made by hts before the SQLite default (montydb) are converted
by ``hts store migrate PATH``.
"""

from __future__ import annotations

from pathlib import Path

from maggma.core import Store

from hts.store.documents import CandidateDoc, migrate_document, now
from hts.store.uri import StoreURIError, mongo_uri

__all__ = ["CandidateStore", "StoreURIError", "migrate_montydb", "mongo_uri", "open_store"]

INDEXED_FIELDS = ("id", "campaign", "status", "formula", "chemsys", "system", "pressure_GPa", "role", "e_above_hull_meV",
                  "duplicate_of", "engine.model")
COMPOUND_INDEX = ("campaign", "status", "pressure_GPa")  # the funnel and the filtered hts query
EMBEDDED_FILE = "hts.sqlite"
LEGACY_MARKER = "candidates.collection"  # <store>/<database>/: the montydb files of hts before the SQLite default


class CandidateStore:
    """Thin layer over two maggma Stores with document validation."""

    def __init__(self, docs: Store, data: Store, description: str, labels: Store | None = None):
        self.docs = docs
        self.data = data
        self.labels = labels  # DFT labels for the prescreen potential (hts.label)
        self.description = description

    # -- lifecycle -------------------------------------------------------
    def connect(self) -> "CandidateStore":
        self.docs.connect()
        self.data.connect()
        if self.labels is not None:
            self.labels.connect()
        try:
            for field in INDEXED_FIELDS:
                self.docs.ensure_index(field)
            self.data.ensure_index("id")
        except NotImplementedError:  # montydb (stores of earlier hts, read by `hts store migrate`): no indexes
            return self
        if hasattr(self.docs, "_coll"):  # MongoDB: the compound index of the funnel query
            self.docs._collection.create_index([(f, 1) for f in COMPOUND_INDEX])
        return self

    def close(self) -> None:
        self.docs.close()
        self.data.close()
        if self.labels is not None:
            self.labels.close()

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # -- candidates ------------------------------------------------------
    def upsert(self, docs: list[dict], stamp: bool = True) -> None:
        """Validate and write ``docs`` in one bulk write (``stamp``: set provenance.updated)."""
        if not docs:
            return
        clean = []
        for d in docs:
            d = CandidateDoc.model_validate(migrate_document(d)).to_store()
            if stamp:
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
        from hts.store.documents import STATUSES

        crit = {"campaign": campaign, "role": "candidate"}
        counts = {st: self.count({**crit, "status": st}) for st in STATUSES}
        return {k: v for k, v in counts.items() if v}

    # -- arrays ----------------------------------------------------------
    def put_data(self, doc_id: str, kind: str, payload: dict) -> None:
        self.put_data_many([(doc_id, kind, payload)])

    def put_data_many(self, items: list[tuple[str, str, dict]]) -> None:
        """(id, kind, payload) triples in one write."""
        if items:
            self.data.update([{"key": f"{i}:{k}", "id": i, "kind": k, "data": p} for i, k, p in items], key="key")

    def get_data_many(self, doc_ids: list[str], kind: str) -> dict[str, dict]:
        """{id: payload} of one kind for many candidates, in one query."""
        keys = [f"{i}:{kind}" for i in doc_ids]
        return {d["id"]: d["data"] for d in self.data.query({"key": {"$in": keys}})} if keys else {}

    def data_of(self, doc_id: str) -> dict[str, dict]:
        """{kind: payload} of every record of one id."""
        return {d["kind"]: d["data"] for d in self.data.query({"id": doc_id})}

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
        labels = CampaignMongoStore(database, "labels", uri=uri, key="id")
        return CandidateStore(docs, data, docs.description, labels)
    from hts.store.sqlite import SQLiteStore

    path = Path(path).resolve()
    if (path / database / LEGACY_MARKER).exists() and not (path / EMBEDDED_FILE).is_file():
        raise StoreURIError(f"{path} is a store made by an earlier hts (montydb); convert it once with "
                            f"`hts store migrate {path}`")
    if must_exist and not (path / EMBEDDED_FILE).is_file():
        raise StoreURIError(f"no hts store at {path} (check --store or the config's store.path)")
    path.mkdir(parents=True, exist_ok=True)
    file = str(path / EMBEDDED_FILE)
    docs = SQLiteStore(file, "candidates", key="id", indexed=INDEXED_FIELDS, compound=(COMPOUND_INDEX,))
    data = SQLiteStore(file, "candidate_data", key="key", indexed=("key", "id", "kind"))
    labels = SQLiteStore(file, "labels", key="id", indexed=("id", "status", "formula", "target_pressure_GPa"))
    return CandidateStore(docs, data, f"embedded store {path / EMBEDDED_FILE}", labels)


def migrate_schema(store: CandidateStore, batch: int = 500) -> int:
    """Bring documents of an earlier schema version to the current one (:func:`migrate_document`), in
    bulk writes; returns how many. Idempotent."""
    from hts.store.documents import SCHEMA_VERSION

    old = [d["id"] for d in store.find({"schema_version": {"$lt": SCHEMA_VERSION}}, properties=["id"])]
    for i in range(0, len(old), batch):
        store.upsert(store.find({"id": {"$in": old[i:i + batch]}}), stamp=False)  # upsert migrates
    return len(old)


def migrate_montydb(path: str | Path, database: str = "hts", batch: int = 500) -> dict[str, int]:
    """Copy a montydb store written by an earlier hts into the SQLite file beside it; the montydb files stay
    (renamed nothing, deleted nothing). Idempotent: documents are upserted by id. Returns counts per collection."""
    from maggma.stores import MontyStore

    from hts.store.documents import migrate_document

    path = Path(path).resolve()
    if not (path / database / LEGACY_MARKER).exists():
        raise StoreURIError(f"{path} holds no montydb store to migrate")
    kw = {"database_path": str(path), "database_name": database, "storage": "sqlite"}
    old_docs, old_data = MontyStore("candidates", key="id", **kw), MontyStore("candidate_data", key="key", **kw)
    old_docs.connect()
    old_data.connect()
    (path / EMBEDDED_FILE).touch()
    new = open_store(path, database=database).connect()
    counts = {"candidates": 0, "candidate_data": 0}
    try:
        buf = []
        for d in old_docs.query({}):
            d.pop("_id", None)
            buf.append(migrate_document(d))
            if len(buf) >= batch:
                new.upsert(buf, stamp=False)
                counts["candidates"] += len(buf)
                buf = []
        new.upsert(buf, stamp=False)
        counts["candidates"] += len(buf)
        buf = []
        for d in old_data.query({}):
            buf.append((d["id"], d["kind"], d["data"]))
            if len(buf) >= batch:
                new.put_data_many(buf)
                counts["candidate_data"] += len(buf)
                buf = []
        new.put_data_many(buf)
        counts["candidate_data"] += len(buf)
    finally:
        new.close()
        old_docs.close()
        old_data.close()
    return counts
