import os

import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from hts.store.documents import SCHEMA_VERSION
from hts.store.store import open_store

S = Structure(Lattice.cubic(3.0), ["La", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]]).as_dict()


def _doc(i, **kw):
    d = {"id": f"hts-{i:012d}", "campaign": "c", "chemsys": "H-La", "system": "H-La", "formula": "LaH", "nelements": 2,
         "pressure_GPa": 100.0 + i, "origin": {"generator": "test"}, "status": "relaxed", "structure_initial": S}
    d.update(kw)
    return d


def _roundtrip(store):
    store.upsert([_doc(1), _doc(2, status="off_hull", reason="far above hull", stage="hull", e_above_hull_meV=120.0)])
    assert store.count() == 2
    assert [d["id"] for d in store.find({"e_above_hull_meV": {"$lte": 200}})] == ["hts-000000000002"]
    assert store.find({"pressure_GPa": {"$gte": 101.5}})[0]["status"] == "off_hull"
    store.upsert([_doc(1, status="duplicate", duplicate_of="hts-000000000002", reason="same", stage="dedup")])
    assert store.count() == 2 and store.get("hts-000000000001")["status"] == "duplicate"
    store.put_data("hts-000000000001", "relax_trajectory", {"energy_eV": [1.0, 0.5]})
    assert store.get_data("hts-000000000001", "relax_trajectory") == {"energy_eV": [1.0, 0.5]}
    with pytest.raises(ValidationError):
        store.upsert([_doc(3, status="nonsense")])


def test_embedded_store_roundtrip_and_persistence(tmp_path):
    with open_store(tmp_path / "s") as store:
        _roundtrip(store)
    with open_store(tmp_path / "s") as again:  # on disk: a new process sees it
        assert again.count() == 2


def test_real_mongodb_roundtrip(mongo_uri):
    """The same store code on a MongoDB wire-protocol server (SecantusDB here, MongoDB on clusters)."""
    import uuid

    store = open_store(uri=mongo_uri, database=f"hts_test_{uuid.uuid4().hex[:8]}").connect()
    try:
        _roundtrip(store)
        assert store.description.startswith("MongoDB hts_test_") and mongo_uri.rstrip("/") in store.description
    finally:
        store.docs._collection.database.client.drop_database(store.docs.database)
        store.close()


def test_unreachable_or_malformed_mongodb_is_one_line(tmp_path, monkeypatch):
    import subprocess
    import sys

    from hts.store.store import StoreURIError

    monkeypatch.setattr("hts.store.mongo.TIMEOUT_MS", 300)
    with pytest.raises(StoreURIError, match=r"cannot reach MongoDB at mongodb://127\.0\.0\.1:1/: ServerSelectionTimeoutError$"):
        open_store(uri="mongodb://hts:pw@127.0.0.1:1/?tlsCertificateKeyFilePassword=kp").connect()
    r = subprocess.run([sys.executable, "-m", "hts.cli", "query", "--uri", "mongodb://u:secret@[bad"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("hts: invalid MongoDB URI") and "secret" not in r.stderr


def test_uris_are_redacted_and_secret_options_refused():
    from hts.config import StoreSettings, format_errors
    from hts.store.uri import redact_uri, secret_in_uri

    full = "mongodb://hts:s3cret@db1.example.org:27017,db2.example.org/hts?tls=true&tlsCertificateKeyFilePassword=kp"
    assert redact_uri(full) == "mongodb://db1.example.org:27017,db2.example.org/hts"
    for uri in ("mongodb://db.example.org/?tls=true&tlsCertificateKeyFilePassword=kp",
                "mongodb://db.example.org/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:abc",
                "mongodb://user:pw@db.example.org/"):
        assert secret_in_uri(uri)
        with pytest.raises(ValidationError, match="holds a secret") as exc:
            StoreSettings(uri=uri)
        shown = format_errors(exc.value)  # what hts prints: the field and the reason, never the value
        assert "holds a secret" in shown and "kp" not in shown.replace("Password", "") and "abc" not in shown
        assert ":pw@" not in shown
    assert secret_in_uri("mongodb://x509user@db.example.org/?tls=true&tlsCAFile=/etc/ca.pem") is None


def test_read_only_commands_refuse_a_missing_store(tmp_path):
    from hts.cli import main

    for argv in (["query"], ["show", "hts-x"], ["report", "c"], ["plot", "a2f", "hts-x"], ["dataset", "export", "--out", "x.csv"]):
        assert main(argv + ["--store", str(tmp_path / "typo")]) == 2, argv
    assert not (tmp_path / "typo").exists()


def test_mongo_credentials_come_from_env_or_a_file_never_a_config(tmp_path, monkeypatch):
    from hts.config import StoreSettings
    from hts.store.store import mongo_uri

    monkeypatch.delenv("HTS_MONGO_URI", raising=False)
    monkeypatch.delenv("HTS_MONGO_URI_FILE", raising=False)
    assert mongo_uri(None) is None  # embedded store
    secret = tmp_path / "mongo_uri"
    secret.write_text("\nmongodb://hts:s3cret@db.example.org/?tls=true&tlsCAFile=/etc/ca.pem\n")
    monkeypatch.setenv("HTS_MONGO_URI_FILE", str(secret))
    assert mongo_uri(None) == "mongodb://hts:s3cret@db.example.org/?tls=true&tlsCAFile=/etc/ca.pem"
    monkeypatch.setenv("HTS_MONGO_URI", "mongodb://other/")
    assert mongo_uri(None) == "mongodb://other/" and mongo_uri("mongodb://given/") == "mongodb://given/"
    assert StoreSettings(uri="mongodb://db.example.org/?tls=true").uri  # no password: fine in a config
    with pytest.raises(ValidationError, match="HTS_MONGO_URI_FILE"):
        StoreSettings(uri="mongodb://hts:s3cret@db.example.org/")


def test_a_montydb_store_of_an_earlier_hts_is_refused_then_migrated(tmp_path):
    """Stores written before the SQLite default: read-only commands name the one command that converts them,
    `hts store migrate` copies every document and array record, and a second run changes nothing."""
    from maggma.stores import MontyStore

    from hts.cli import main
    from hts.store.store import StoreURIError

    old = tmp_path / "old"
    kw = {"database_path": str(old), "database_name": "hts", "storage": "sqlite"}
    docs, data = MontyStore("candidates", key="id", **kw), MontyStore("candidate_data", key="key", **kw)
    docs.connect()
    data.connect()
    rows = [_doc(i, status="relaxed" if i % 2 else "failed") for i in range(7)]
    for r in rows:
        r["schema_version"] = 1
    rows[1].update(dedup_checked=True, e_above_hull_meV=12.5, decomposition={"MgH2": 1.0})  # schema 2 fields
    docs.update(rows, key="id")
    one = "hts-000000000001"
    data.update([{"key": f"{one}:relax_trajectory", "id": one, "kind": "relax_trajectory",
                  "data": {"energies_eV": [1.0, 0.5]}}], key="key")
    docs.close()
    data.close()
    with pytest.raises(StoreURIError, match=f"hts store migrate {old}"):
        open_store(old)
    assert main(["query", "--store", str(old)]) == 2
    for _ in range(2):  # idempotent
        assert main(["store", "migrate", str(old)]) == 0
    with open_store(old, must_exist=True) as store:
        assert store.count() == 7 and store.count({"status": "relaxed"}) == 3
        d = store.get(one)
        assert d["schema_version"] == SCHEMA_VERSION == 3 and "dedup_checked" not in d and "decomposition" not in d
        assert d["dedup"]["checked"] and d["hull"] == {"e_above_hull_meV": 12.5, "decomposition": {"MgH2": 1.0},
                                                       "threshold_meV": None}
        assert store.get_data(one, "relax_trajectory") == {"energies_eV": [1.0, 0.5]}


def test_documents_are_typed_and_an_old_schema_store_migrates(tmp_path):
    """Undeclared fields are refused by name; a schema-2 SQLite store is brought to the current schema by
    `hts store migrate` (dedup and hull blocks), once."""
    from hts.cli import main

    with open_store(tmp_path / "s") as store:
        with pytest.raises(ValidationError, match="dedup_cheked"):
            store.upsert([_doc(1, schema_version=SCHEMA_VERSION, dedup_cheked=True)])
        with pytest.raises(ValidationError, match="status"):
            store.upsert([_doc(1, status="relaxd")])
        assert store.count() == 0
        store.upsert([_doc(1)])
        old = {**store.get("hts-000000000001"), "schema_version": 2, "dedup_checked": True, "e_above_hull_meV": 3.0,
               "decomposition": {"LaH": 1.0}}
        old.pop("dedup", None)
        store.docs.update([old], key="id")  # as an earlier hts wrote it, bypassing validation
    assert main(["store", "migrate", str(tmp_path / "s")]) == 0
    with open_store(tmp_path / "s") as store:
        d = store.get("hts-000000000001")
        assert d["schema_version"] == 3 and d["dedup"] == {"checked": True, "method": d["dedup"]["method"]}
        assert d["hull"]["decomposition"] == {"LaH": 1.0} and "decomposition" not in d and "dedup_checked" not in d
        from hts.store.store import migrate_schema

        assert migrate_schema(store) == 0
