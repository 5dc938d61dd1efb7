"""``hts store migrate PATH``: convert an embedded store written by an earlier hts (montydb) to SQLite."""

from __future__ import annotations

__all__ = ["add_store_commands"]


def _cmd_migrate(args) -> int:
    from hts.store.store import migrate_montydb, open_store

    counts = migrate_montydb(args.path, args.database)
    with open_store(args.path, database=args.database, must_exist=True) as store:
        n = store.count()
    print(f"migrated {counts['candidates']} documents and {counts['candidate_data']} array records into "
          f"{store.description}; the store now holds {n} documents (the montydb files are left as they were)")
    return 0


def add_store_commands(sub) -> None:
    p = sub.add_parser("store", help="embedded store maintenance")
    ssub = p.add_subparsers(dest="store_cmd", required=True)
    m = ssub.add_parser("migrate", help="convert a montydb store of an earlier hts to the SQLite store (idempotent)")
    m.add_argument("path", help="the store directory (store.path of the campaign)")
    m.add_argument("--database", default="hts")
    m.set_defaults(func=_cmd_migrate)
