"""The embedded default store: a maggma Store over one SQLite table, with MongoDB's query language.

Each document is stored whole as JSON, and the query fields (campaign, status, pressure, e_above_hull, ...)
are copied into indexed columns. A query sends the parts of its criteria that the columns can answer
(equality, ``$in``, ranges, null) to SQLite, and checks every returned document against the full criteria
with mongomock's matcher, so MongoDB and the embedded store answer the same query the same way.

SQLite runs in WAL mode: one writer and any number of readers (``hts query`` while ``hts run`` writes),
each bulk write is one transaction (all or nothing, kept across kill -9), and a read sees the last
committed state. Measured against montydb in ``benchmarks/store_scale.py``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from maggma.core import Sort, Store

__all__ = ["SQLiteStore"]

_RANGE = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_MAX_IN = 5000  # values of one IN (...) per statement, well under SQLite's bound on host parameters


def _get(doc: dict, path: str):
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _column_value(v):
    if isinstance(v, bool):
        return int(v)
    if v is None or isinstance(v, (int, float, str)):
        return v
    return None  # lists and sub-documents are matched in Python only


def _scalar(v) -> bool:
    return v is None or (isinstance(v, (int, float, str)) and not isinstance(v, bool))


class SQLiteStore(Store):
    """Documents of one collection in table ``collection_name`` of the SQLite file ``path``."""

    def __init__(self, path: str, collection_name: str, key: str = "id", indexed: tuple[str, ...] = (),
                 compound: tuple[tuple[str, ...], ...] = (), **kwargs):
        self.path = str(path)
        self.collection_name = collection_name
        self.indexed = tuple(dict.fromkeys(indexed))
        self.compound = tuple(tuple(c) for c in compound)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        super().__init__(key=key, **kwargs)
        self._cols = {f: "c_" + f.replace(".", "__") for f in self.indexed}

    # -- lifecycle ---------------------------------------------------------
    @property
    def name(self) -> str:
        return f"sqlite://{self.path}/{self.collection_name}"

    @property
    def _collection(self):
        if self._conn is None:
            raise RuntimeError("SQLiteStore is not connected")
        return self._conn

    def connect(self, force_reset: bool = False) -> None:
        if self._conn is not None and not force_reset:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=120, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed transaction survives a killed process
        t = self.collection_name
        cols = "".join(f', "{c}"' for c in self._cols.values())
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{t}" (k TEXT PRIMARY KEY, doc TEXT NOT NULL{cols})')
        have = {row[1] for row in conn.execute(f'PRAGMA table_info("{t}")')}
        for c in self._cols.values():
            if c not in have:  # a field indexed by a later hts version: filled on the next write of each document
                conn.execute(f'ALTER TABLE "{t}" ADD COLUMN "{c}"')
        for c in self._cols.values():
            conn.execute(f'CREATE INDEX IF NOT EXISTS "ix_{t}_{c}" ON "{t}" ("{c}")')
        for fields in self.compound:
            name = "ix_" + t + "_" + "_".join(self._cols[f] for f in fields)
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{t}" ({", ".join(chr(34) + self._cols[f] + chr(34) for f in fields)})')
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA optimize")  # planner statistics where SQLite finds them stale
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None

    def __eq__(self, other) -> bool:
        return isinstance(other, SQLiteStore) and (self.path, self.collection_name) == (other.path, other.collection_name)

    def __hash__(self) -> int:
        return hash((self.path, self.collection_name))

    # -- writes ------------------------------------------------------------
    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Insert or replace ``docs`` by ``key`` in one transaction."""
        docs = [docs] if isinstance(docs, dict) else list(docs)
        if not docs:
            return
        key = key or self.key
        if not isinstance(key, str):
            raise ValueError("SQLiteStore keys documents by one field")
        names = ", ".join(f'"{c}"' for c in self._cols.values())
        marks = ", ".join("?" for _ in self._cols)
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in self._cols.values())
        sql = (f'INSERT INTO "{self.collection_name}" (k, doc{", " + names if names else ""}) VALUES (?, ?'
               f'{", " + marks if marks else ""}) ON CONFLICT(k) DO UPDATE SET doc = excluded.doc{", " + sets if sets else ""}')
        rows = []
        for d in docs:
            d = {k: v for k, v in d.items() if k != "_id"}
            if d.get(key) is None:
                raise KeyError(f"document without its key {key!r}")
            rows.append((str(d[key]), json.dumps(d, default=str, allow_nan=False),
                         *(_column_value(_get(d, f)) for f in self._cols)))
        with self._lock:
            conn = self._collection
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def remove_docs(self, criteria: dict) -> None:
        keys = [d[self.key] for d in self.query(criteria, properties=[self.key])]
        with self._lock:
            conn = self._collection
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f'DELETE FROM "{self.collection_name}" WHERE k = ?', [(str(k),) for k in keys])
            conn.execute("COMMIT")

    # -- reads -------------------------------------------------------------
    def _where(self, criteria: dict, big: list | None = None) -> tuple[str, list, bool]:
        """SQL for the parts of ``criteria`` the columns answer; True when that is all of it. A long ``$in``
        goes to ``big`` as (column, values) instead."""
        clauses, args, complete = [], [], True
        big = [] if big is None else big
        for field, cond in criteria.items():
            col = self._cols.get(field)
            if col is None:
                complete = False
                continue
            if not isinstance(cond, dict):
                if not _scalar(cond):
                    complete = False
                elif cond is None:  # also matches a missing field; a list-valued one is left to the matcher
                    clauses.append(f'"{col}" IS NULL')
                    complete = False
                else:
                    clauses.append(f'"{col}" = ?')
                    args.append(cond)
                continue
            for op, val in cond.items():
                if op == "$in" and isinstance(val, (list, tuple)) and all(_scalar(v) and v is not None for v in val):
                    if len(val) > _MAX_IN:  # answered chunk by chunk in _rows
                        big.append((col, list(val)))
                    else:
                        clauses.append(f'"{col}" IN ({", ".join("?" for _ in val)})' if val else "0")
                        args.extend(val)
                elif op in _RANGE and isinstance(val, (int, float)) and not isinstance(val, bool):
                    clauses.append(f'"{col}" {_RANGE[op]} ?')
                    args.append(val)
                elif op == "$eq" and _scalar(val) and val is not None:
                    clauses.append(f'"{col}" = ?')
                    args.append(val)
                else:
                    complete = False
        return (" AND ".join(clauses) or "1"), args, complete

    def _rows(self, criteria: dict | None) -> tuple[list[str], bool]:
        big: list = []
        where, args, complete = self._where(criteria or {}, big)
        sql = f'SELECT doc FROM "{self.collection_name}" WHERE {where}'
        with self._lock:
            if not big:
                return [r[0] for r in self._collection.execute(sql, args).fetchall()], complete
            col, values = big[0]  # one long $in by chunks; any other is checked in Python
            out = []
            for i in range(0, len(values), _MAX_IN):
                chunk = values[i:i + _MAX_IN]
                out += [r[0] for r in self._collection.execute(
                    f'{sql} AND "{col}" IN ({", ".join("?" for _ in chunk)})', args + chunk).fetchall()]
            return out, complete and len(big) == 1

    def query(self, criteria: dict | None = None, properties: dict | list | None = None,
              sort: dict[str, Sort | int] | None = None, skip: int = 0, limit: int = 0) -> Iterator[dict]:
        from mongomock.filtering import filter_applies

        criteria = criteria or {}
        texts, complete = self._rows(criteria)
        docs = [json.loads(t) for t in texts]
        if not complete:
            docs = [d for d in docs if filter_applies(criteria, d)]
        for field, direction in reversed(list((sort or {}).items())):
            sign = direction.value if isinstance(direction, Sort) else direction
            docs.sort(key=lambda d, f=field: _sort_key(_get(d, f)), reverse=sign < 0)
        docs = docs[skip:]
        if limit:
            docs = docs[:limit]
        for d in docs:
            yield _project(d, properties)

    def count(self, criteria: dict | None = None, hint: dict | None = None) -> int:
        big: list = []
        where, args, complete = self._where(criteria or {}, big)
        if complete and not big:
            with self._lock:
                return self._collection.execute(f'SELECT COUNT(*) FROM "{self.collection_name}" WHERE {where}',
                                                args).fetchone()[0]
        return sum(1 for _ in self.query(criteria))

    def distinct(self, field: str, criteria: dict | None = None, all_exist: bool = False) -> list:
        out = []
        for d in self.query(criteria):
            v = _get(d, field)
            if v is not None and v not in out:
                out.append(v)
        return out

    def groupby(self, keys: list[str] | str, criteria: dict | None = None, properties: dict | list | None = None,
                sort: dict[str, Sort | int] | None = None, skip: int = 0, limit: int = 0):
        keys = [keys] if isinstance(keys, str) else list(keys)
        groups: dict = {}
        for d in self.query(criteria, sort=sort):
            k = tuple(json.dumps(_get(d, f), sort_keys=True, default=str) for f in keys)
            groups.setdefault(k, []).append(_project(d, properties))
        items = list(groups.items())[skip:]
        for k, docs in items[:limit] if limit else items:
            yield {f: json.loads(v) for f, v in zip(keys, k)}, docs

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        return key in self._cols or key == self.key


def _sort_key(v):
    # MongoDB order: null < numbers < strings < other
    if v is None:
        return (0, 0)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    return (3, json.dumps(v, sort_keys=True, default=str))


def _project(doc: dict, properties) -> dict:
    if not properties:
        return doc
    fields = list(properties) if isinstance(properties, (list, tuple)) else [k for k, v in properties.items() if v]
    out: dict = {}
    for f in fields:
        v = _get(doc, f)
        if v is None and not _has(doc, f):
            continue
        parts = f.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _has(doc: dict, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return False
        doc = doc[part]
    return True
