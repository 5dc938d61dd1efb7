"""``hts worker``: run Fireworks of a LaunchPad in this process, as ``rlaunch`` does.

With a MongoDB LaunchPad the two are the same. With the mongomock LaunchPad (tests only,
``MONGOMOCK_SERVERSTORE_FILE``) ``rlaunch`` writes the file once, at exit, so a worker killed
with SIGKILL leaves no trace and its Firework silently stays READY. ``hts worker`` writes the
file after every LaunchPad write (atomically: temp file + rename), which is what a MongoDB server
keeps: a killed worker leaves its Firework RUNNING, and ``hts resume`` finds it as a lost run.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

__all__ = ["enable_write_through", "run_worker"]

_WRITES = ("insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one", "delete_many",
           "find_one_and_update", "find_one_and_replace", "find_one_and_delete", "bulk_write", "drop")
_enabled = False


_lock = threading.Lock()  # the rocket's ping thread writes too


def _flush(server_store) -> None:
    import bson.json_util

    path = Path(server_store._filename)
    with _lock:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(bson.json_util.dumps(server_store.to_dict()), encoding="utf-8")
        os.replace(tmp, path)


def enable_write_through() -> None:
    """Persist the mongomock server store after each write to any collection (idempotent)."""
    global _enabled
    if _enabled:
        return
    import mongomock_persistence  # noqa: F401  (patches mongomock's stores to read/write the file)
    from mongomock.collection import Collection

    def wrap(method):
        @functools.wraps(method)
        def write_then_flush(self, *args, **kwargs):
            out = method(self, *args, **kwargs)
            store = self.database.client._store
            if getattr(store, "_filename", None):
                _flush(store)
            return out
        return write_then_flush

    for name in _WRITES:
        setattr(Collection, name, wrap(getattr(Collection, name)))
    _enabled = True


def run_worker(launchpad: str | None, fworker: str | None = None, singleshot: bool = False, nlaunches: int = 0,
               sleep_s: float = 60, max_loops: int = -1) -> None:
    """Launch one Firework (``singleshot``) or keep launching until none is READY or can become READY
    (``nlaunches=0``), sleeping ``sleep_s`` between polls, for at most ``max_loops`` polls (-1: no limit)."""
    if os.environ.get("MONGOMOCK_SERVERSTORE_FILE"):
        enable_write_through()
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket, rapidfire

    from hts.cluster.fireworks import launchpad_from_file

    lp = launchpad_from_file(launchpad)
    worker = FWorker.from_file(fworker) if fworker else FWorker()
    if singleshot:
        launch_rocket(lp, worker)
    else:
        rapidfire(lp, worker, nlaunches=nlaunches, sleep_time=sleep_s, max_loops=max_loops)
