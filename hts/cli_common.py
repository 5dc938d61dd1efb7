"""What every ``hts`` command shares: the store options and opening the store they name."""

from __future__ import annotations

__all__ = ["add_store_args", "store_from_args"]


def add_store_args(p) -> None:
    p.add_argument("--store", default=None, help="embedded store directory (default: the config's, else ./hts_store)")
    p.add_argument("--uri", default=None, help="MongoDB URI (else env HTS_MONGO_URI)")
    p.add_argument("--config", default=None, help="campaign YAML whose store settings to use")


def store_from_args(args, must_exist: bool = True):
    """The connected store that ``--store``/``--uri``/``--config`` name. Commands that only read refuse an
    embedded store that does not exist (``must_exist``) rather than create an empty one."""
    from hts.store.store import open_store

    path, uri, db = args.store, args.uri, "hts"
    if getattr(args, "config", None) and not args.store_given:
        from hts.config import load_config

        cfg = load_config(args.config)
        path, uri, db = cfg.store.path, uri or cfg.store.uri, cfg.store.database
    return open_store(path, uri, db, must_exist=must_exist).connect()
