import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPSC = Path(os.environ.get("HTS_COMPSC_DIR", ROOT.parent / "shared" / "data" / "compsc"))


@pytest.fixture
def compsc_dir():
    if not (COMPSC / "supercond_data_fig15.csv").exists():
        pytest.skip(f"CompSC data not found at {COMPSC} (set HTS_COMPSC_DIR)")
    return COMPSC


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """A real MongoDB wire-protocol server for the session: SecantusDB (WiredTiger storage) in its own process
    on a free port, or the server that env HTS_TEST_MONGO_URI names. Yields a URI without credentials."""
    import shutil
    import subprocess
    import sys
    import time

    given = os.environ.get("HTS_TEST_MONGO_URI")
    if given:
        yield given
        return
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    if not Path(exe).exists():
        pytest.skip("secantusdb is not installed (pip install -e '.[test]')")
    import pymongo

    port = _free_port()
    data = tmp_path_factory.mktemp("secantus")
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data / "db"),
                             "--standalone", "--log-level", "WARNING"], stdout=log, stderr=subprocess.STDOUT)
    uri = f"mongodb://127.0.0.1:{port}/"
    t0 = time.time()
    while True:
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            break
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.time() - t0 > 60:
                proc.kill()
                raise RuntimeError(f"the MongoDB test server did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
