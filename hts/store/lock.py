"""One writer per campaign and store: ``hts run`` holds this lock while it works.

Embedded store: an exclusive ``flock`` on ``<store>/locks/<campaign>.lock``; the kernel drops it when
the process ends, kill -9 included. MongoDB: a document in ``hts_locks`` with the holder and an expiry
that a heartbeat thread renews; a lock whose holder stopped renewing is taken over after ``ttl_s``.
A second ``hts run`` of the same campaign on the same store gets :class:`StoreBusy` naming the holder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StoreBusy", "campaign_lock"]


class StoreBusy(RuntimeError):
    """Another process is running this campaign on this store."""


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": dt.datetime.now(dt.timezone.utc).isoformat()}


@contextmanager
def _file_lock(directory: Path, campaign: str):
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{campaign}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                who = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                who = {}
            raise StoreBusy(f"campaign {campaign!r} is already running on this store (pid {who.get('pid', '?')} on "
                            f"{who.get('host', '?')} since {who.get('since', '?')}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_holder()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def _mongo_lock(coll, campaign: str, ttl_s: float):
    from pymongo.errors import DuplicateKeyError

    me = _holder()

    def expiry():
        return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=ttl_s)

    try:
        coll.insert_one({"_id": campaign, **me, "expires": expiry()})
    except DuplicateKeyError:
        now = dt.datetime.now(dt.timezone.utc)
        taken = coll.update_one({"_id": campaign, "expires": {"$lt": now}}, {"$set": {**me, "expires": expiry()}})
        if taken.modified_count != 1:
            who = coll.find_one({"_id": campaign}) or {}
            raise StoreBusy(f"campaign {campaign!r} is already running on this store (pid {who.get('pid', '?')} on "
                            f"{who.get('host', '?')} since {who.get('since', '?')}); wait for it to finish, or "
                            f"{ttl_s:g} s after it stopped") from None
    stop = threading.Event()

    def beat():
        while not stop.wait(ttl_s / 3):
            coll.update_one({"_id": campaign, "pid": me["pid"], "host": me["host"]}, {"$set": {"expires": expiry()}})

    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        coll.delete_one({"_id": campaign, "pid": me["pid"], "host": me["host"]})


@contextmanager
def campaign_lock(store, campaign: str, ttl_s: float = 600.0):
    """Hold the lock of ``campaign`` on ``store`` (a :class:`hts.store.store.CandidateStore`) while inside."""
    docs = store.docs
    if hasattr(docs, "path"):  # embedded SQLite file
        with _file_lock(Path(docs.path).parent / "locks", campaign):
            yield
    else:
        with _mongo_lock(docs._coll.database["hts_locks"], campaign, ttl_s):
            yield
