"""``hts store migrate PATH``: convert an embedded store written by an earlier hts (montydb) to SQLite and
bring its documents to the current schema version."""

from __future__ import annotations

__all__ = ["add_store_commands"]


def _cmd_migrate(args) -> int:
    from pathlib import Path

    from hts.store.store import LEGACY_MARKER, migrate_montydb, migrate_schema, open_store

    if args.uri:
        with open_store(uri=args.uri, database=args.database) as store:
            n = migrate_schema(store)
            print(f"{n} documents brought to the current schema in {store.description}")
        return 0
    path = Path(args.path).resolve()
    if (path / args.database / LEGACY_MARKER).exists():  # idempotent: an interrupted copy is finished
        counts = migrate_montydb(path, args.database)
        print(f"migrated {counts['candidates']} documents and {counts['candidate_data']} array records from montydb "
              "(the montydb files are left as they were)")
    with open_store(path, database=args.database, must_exist=True) as store:
        n = migrate_schema(store)
        print(f"{n} documents brought to the current schema; {store.description} holds {store.count()} documents")
    return 0


def add_store_commands(sub) -> None:
    p = sub.add_parser("store", help="embedded store maintenance")
    ssub = p.add_subparsers(dest="store_cmd", required=True)
    m = ssub.add_parser("migrate", help="convert a montydb store of an earlier hts to the SQLite store (idempotent)")
    m.add_argument("path", nargs="?", default="hts_store", help="the store directory (store.path of the campaign)")
    m.add_argument("--uri", help="migrate the documents of a MongoDB store (by URI) instead of PATH")
    m.add_argument("--database", default="hts")
    m.set_defaults(func=_cmd_migrate)
