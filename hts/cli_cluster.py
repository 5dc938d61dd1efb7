"""``hts submit``, ``hts worker``, ``hts status``, ``hts resume``: campaigns on a FireWorks LaunchPad."""

from __future__ import annotations

import json
import sys

__all__ = ["add_cluster_commands"]


def _cmd_submit(args) -> int:
    from hts.cluster.fireworks import launchpad_from_file, submit
    from hts.config import load_config

    from hts.store.store import open_store

    cfg = load_config(args.config)
    open_store(cfg.store.path, cfg.store.uri, cfg.store.database).connect().close()  # reachable, and there from now on
    fw_id, msg = submit(cfg, launchpad_from_file(args.launchpad), args.batch_size, add=args.add)
    print(msg)
    return 0


def _cmd_status(args) -> int:
    from hts.cli_common import store_from_args
    from hts.cluster.fireworks import launchpad_from_file, status

    store = store_from_args(args)
    st = status(launchpad_from_file(args.launchpad), store, args.campaign)
    store.close()
    if args.json:
        print(json.dumps(st))
        return 0
    print("Fireworks: " + (", ".join(f"{k}={v}" for k, v in sorted(st["fireworks"].items())) or "none"))
    print("candidates: " + (", ".join(f"{k}={v}" for k, v in sorted(st["candidates"].items())) or "none"))
    for msg, n in st["errors"].items():
        print(f"  {n} x {msg}")
    return 0


def _cmd_worker(args) -> int:
    from hts.cluster.worker import run_worker

    run_worker(args.launchpad, args.fworker, singleshot=args.singleshot, nlaunches=args.nlaunches,
               sleep_s=args.sleep_s, max_loops=args.max_loops)
    return 0


def _cmd_resume(args) -> int:
    from hts.cluster.fireworks import launchpad_from_file, resume

    res = resume(launchpad_from_file(args.launchpad), args.campaign, args.max_retries, args.expiration_s,
                 args.lock_wait_s)
    if res["unlocked"]:
        print(f"released workflow locks left by a stopped worker (held > {args.lock_wait_s:g} s), "
              f"workflows of Fireworks {res['unlocked']}")
    if res["refreshed"]:
        print(f"Fireworks left RUNNING after their launch finished, refreshed: {res['refreshed']}")
    print(f"lost runs rerun: {res['lost']}; FIZZLED rerun: {res['rerun']}; retry limit reached: {res['gave_up']}")
    return 0


def add_cluster_commands(sub, add_store_args) -> None:
    p = sub.add_parser("submit", help="add a campaign to a FireWorks LaunchPad (idempotent)")
    p.add_argument("config")
    p.add_argument("--launchpad", required=True, help="LaunchPad YAML (configs/queue/)")
    p.add_argument("--batch-size", type=int, default=20, help="candidates per relax Firework")
    p.add_argument("--add", action="store_true", help="the campaign is running: add the candidates its config now generates")
    p.set_defaults(func=_cmd_submit)

    w = sub.add_parser("worker", help="run READY Fireworks here (rlaunch; with mongomock, durable after every write)")
    w.add_argument("--launchpad", required=True)
    w.add_argument("--fworker", default=None, help="FireWorker YAML (configs/queue/fworker.yaml)")
    w.add_argument("--singleshot", action="store_true", help="one Firework, then exit (inside a queue job)")
    w.add_argument("--nlaunches", type=int, default=0, help="at most this many Fireworks (0: until none is READY)")
    w.add_argument("--sleep-s", type=float, default=60, help="wait between polls when nothing is READY yet")
    w.add_argument("--max-loops", type=int, default=-1, help="stop after this many polls (-1: while work may come)")
    w.set_defaults(func=_cmd_worker)

    s = sub.add_parser("status", help="Fireworks per state, candidates per status, grouped errors")
    add_store_args(s)
    s.add_argument("campaign")
    s.add_argument("--launchpad", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_status)

    r = sub.add_parser("resume", help="rerun lost and FIZZLED Fireworks of a campaign (retry limit)")
    r.add_argument("campaign")
    r.add_argument("--launchpad", required=True)
    r.add_argument("--max-retries", type=int, default=2)
    r.add_argument("--expiration-s", type=int, default=4 * 3600, help="a RUNNING Firework silent this long is lost")
    r.add_argument("--lock-wait-s", type=float, default=60.0,
                   help="a workflow lock held this long was left by a killed worker and is released")
    r.set_defaults(func=_cmd_resume)
