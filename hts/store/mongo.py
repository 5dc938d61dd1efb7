"""A maggma MongoStore that resolves its URI where it connects and never serializes a credential.

``hts submit`` puts the jobflow JobStore into every Firework spec, so the store's serialized form
lands in the LaunchPad. maggma's ``MongoURIStore`` serializes to its class name alone (workers then
fail with ``missing 'uri'``), and ``MongoStore(uri=...)`` would copy the full URI, password included.
This store serializes database, collection, key and a credential-free URI from the config (or none);
the worker takes the full URI from its own env (``HTS_MONGO_URI`` / ``HTS_MONGO_URI_FILE``).
"""

from __future__ import annotations

from maggma.stores import MongoStore

from hts.store.uri import StoreURIError, mongo_uri, redact_uri, secret_in_uri

__all__ = ["CampaignMongoStore"]

TIMEOUT_MS = 10_000  # an unreachable server is a one-line error after this, not a 30 s hang and a traceback


class CampaignMongoStore(MongoStore):
    """MongoStore over ``uri`` (or the env's URI), serialized without credentials."""

    def __init__(self, database: str, collection_name: str, uri: str | None = None, key: str = "task_id", **kwargs):
        self.config_uri = uri if uri and not secret_in_uri(uri) else None
        self._given_uri = uri
        kwargs.setdefault("mongoclient_kwargs", {"serverSelectionTimeoutMS": TIMEOUT_MS})
        super().__init__(database=database, collection_name=collection_name, key=key, **kwargs)

    def connect(self, force_reset: bool = False):
        if self._coll is not None and not force_reset:
            return
        from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError

        uri = mongo_uri(self._given_uri)
        if not uri:
            raise StoreURIError("no MongoDB URI on this machine: set env HTS_MONGO_URI or HTS_MONGO_URI_FILE")
        self.uri = uri
        try:
            super().connect(force_reset=force_reset)
            self._coll.database.client.admin.command("ping")
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise StoreURIError(f"invalid MongoDB URI {redact_uri(uri)}: {str(exc).splitlines()[0][:200]}") from None
        except PyMongoError as exc:
            raise StoreURIError(f"cannot reach MongoDB at {redact_uri(uri)}: {exc.__class__.__name__}") from None

    @property
    def description(self) -> str:
        return f"MongoDB {self.database} at {redact_uri(mongo_uri(self._given_uri) or '')}"

    def as_dict(self) -> dict:
        return {"@module": type(self).__module__, "@class": type(self).__name__, "database": self.database,
                "collection_name": self.collection_name, "key": self.key, "uri": self.config_uri}

    def __eq__(self, other) -> bool:
        return isinstance(other, CampaignMongoStore) and (self.database, self.collection_name) == (
            other.database, other.collection_name)

    def __hash__(self) -> int:
        return hash((self.database, self.collection_name))
