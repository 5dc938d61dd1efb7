"""The ``hts`` command line: run, query, show, report, plot a2f, tc formula; dataset/train/predict/select (hts.cli_learn)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
from pathlib import Path

from hts.cli_common import add_store_args, store_from_args

__all__ = ["main"]


def _cmd_run(args) -> int:
    from tqdm import tqdm

    from hts.campaign import Campaign
    from hts.config import load_config
    from hts.store.store import open_store

    cfg = load_config(args.config)
    store = open_store(args.store if args.store_given else cfg.store.path, args.uri or cfg.store.uri, cfg.store.database).connect()
    bars = []

    def progress(stage, total):
        bar = tqdm(total=total, desc=f"{cfg.name}: {stage}", unit="struct", file=sys.stderr, disable=args.quiet)
        bars.append(bar)
        return bar.update

    from hts.console import quiet_console
    from hts.report import format_funnel, funnel
    from hts.store.lock import campaign_lock

    print(f"campaign {cfg.name}: systems {cfg.systems} at {cfg.pressures_GPa} GPa; store: {store.description}", file=sys.stderr)
    try:
        with quiet_console(f"{cfg.name}.log", args.verbose) as log_path:
            if log_path:
                print(f"warnings and library messages: {log_path}", file=sys.stderr)
            with campaign_lock(store, cfg.name):
                summary = Campaign(cfg, store, progress).run()
            for b in bars:
                b.close()
        f = funnel(store, cfg.name)
    finally:
        store.close()
    print(format_funnel(f))
    print(f"{summary.wall_s:.0f} s; store: {store.description}" + (f"; log: {log_path}" if log_path else ""))
    print(f"next: hts report {cfg.name} --config {args.config} --html   (funnel, hull plots, Tc table)")
    return 0


def _query_criteria(args) -> dict:
    q: dict = {}
    if not args.all_roles:
        q["role"] = "candidate"
    if args.campaign:
        q["campaign"] = args.campaign
    if args.status:
        q["status"] = {"$in": args.status.split(",")}
    if args.formula:
        from pymatgen.core import Composition

        q["formula"] = Composition(args.formula).reduced_formula
    if args.chemsys:
        q["chemsys"] = "-".join(sorted(args.chemsys.split("-")))
    if args.pressure is not None:
        q["pressure_GPa"] = args.pressure
    if args.max_ehull is not None:
        q["e_above_hull_meV"] = {"$lte": args.max_ehull}
    if args.min_tc is not None:
        q["tc.tc_allen_dynes_K.1"] = {"$gte": args.min_tc}
    return q


_COLUMNS = ["id", "formula", "pressure_GPa", "status", "e_above_hull_meV", "reason"]


def _cmd_query(args) -> int:
    store = store_from_args(args)
    docs = store.find(_query_criteria(args), sort={"pressure_GPa": 1, "formula": 1})
    store.close()
    if args.format == "json":
        print(json.dumps(docs, indent=1 if args.pretty else None, default=str))
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(docs)
        print(buf.getvalue(), end="")
    else:
        from tabulate import tabulate

        rows = [[d["id"], d["formula"], d["pressure_GPa"], d["status"],
                 "" if d.get("e_above_hull_meV") is None else f"{d['e_above_hull_meV']:.1f}", (d.get("reason") or "")[:70]]
                for d in docs]
        print(tabulate(rows, headers=["id", "formula", "P (GPa)", "status", "E_hull (meV/at)", "reason"]))
        print(f"{len(docs)} documents")
    return 0


def _cmd_show(args) -> int:
    store = store_from_args(args)
    doc = store.get(args.id)
    store.close()
    if doc is None:
        print(f"hts: no document with id {args.id}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=1, default=str))
    return 0


def _cmd_report(args) -> int:
    from hts.report import a2f_plot, format_funnel, funnel, hull_plots, learning_report

    store = store_from_args(args)
    f = funnel(store, args.campaign)
    if f["candidates"] == 0:
        print(f"hts: campaign {args.campaign!r} has no candidates in {store.description}", file=sys.stderr)
        return 1
    print(format_funnel(f))
    from hts.console import quiet_console

    with quiet_console(Path(args.out) / "report.log", args.verbose):
        paths = hull_plots(store, args.campaign, args.out)
        text, parity = learning_report(store, args.campaign, args.out)
        a2f_paths = []
        for d in store.find({"campaign": args.campaign, "status": "tc_done"}, properties=["id"]):
            try:
                a2f_paths.append(a2f_plot(store, d["id"], args.out))
            except LookupError:  # tc_done without stored alpha2F arrays
                pass
        if args.html:
            from hts.report_html import html_report

            page = html_report(store, args.campaign, Path(args.out) / f"report_{args.campaign}.html")
    store.close()
    if text:
        print(text)
    if parity:
        print(f"parity plot: {parity}")
    for p in paths:
        print(f"hull plot: {p}")
    for p in a2f_paths:
        print(f"alpha2F plot: {p}")
    if args.html:
        print(f"HTML report (open in a browser): {page}")
    return 0


def _tc_formula_inputs(args) -> str | None:
    """Why the inputs of ``hts tc formula`` are unphysical, or None."""
    import math

    checks = [("--lam", args.lam, 0.0, 20.0), ("--wlog", args.wlog, 0.0, 1e5), ("--w2", args.w2, 0.0, 1e5),
              ("--theta-d", args.theta_d, 0.0, 1e5)]
    for flag, v, lo, hi in checks:
        if v is not None and not (math.isfinite(v) and lo < v <= hi):
            return f"{flag} must be a finite number in ({lo:g}, {hi:g}], got {v}"
    if not (math.isfinite(args.mustar) and 0 <= args.mustar < 0.5):
        return f"--mustar must be in [0, 0.5), got {args.mustar}"
    return None


def _cmd_tc_formula(args) -> int:
    import math

    from hts.tc.formulas import allen_dynes_tc, mcmillan_allen_dynes_tc, mcmillan_tc

    why = _tc_formula_inputs(args)
    if why:
        print(f"hts tc formula: {why}", file=sys.stderr)
        return 2
    out = {
        "lambda": args.lam, "omega_log_K": args.wlog, "omega_2_K": args.w2, "mustar": args.mustar,
        "mcmillan_allen_dynes": mcmillan_allen_dynes_tc(args.lam, args.wlog, args.mustar),
        "allen_dynes": allen_dynes_tc(args.lam, args.wlog, args.mustar, args.w2),
        "allen_dynes_f1_only": allen_dynes_tc(args.lam, args.wlog, args.mustar, None),
    }
    if args.theta_d:
        out["mcmillan_theta_d"] = mcmillan_tc(args.lam, args.theta_d, args.mustar)
    out = {k: None if isinstance(v, complex) or (isinstance(v, float) and not math.isfinite(v)) else v
           for k, v in out.items()}  # no NaN, inf or complex reaches the JSON
    if args.json:
        print(json.dumps(out, allow_nan=False))
    else:
        for k, v in out.items():
            if v is not None:
                print(f"{k:>24}: {v:.4g}" if isinstance(v, float) else f"{k:>24}: {v}")
    return 0


def _cmd_plot_a2f(args) -> int:
    from hts.report import a2f_plot

    store = store_from_args(args)
    try:
        path = a2f_plot(store, args.id, args.out)
    except LookupError as exc:
        print(f"hts: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"alpha2F plot: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hts", description="High-throughput screening of hydride superconductors")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("run", help="run a campaign (resumes: finished candidates are not recomputed)")
    p.add_argument("config")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--store", default=None)
    p.add_argument("--uri", default=None)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("query", help="list candidates matching filters")
    add_store_args(p)
    p.add_argument("--campaign")
    p.add_argument("--status", help="comma-separated statuses")
    p.add_argument("--formula")
    p.add_argument("--chemsys", help="e.g. H-La-Y")
    p.add_argument("--pressure", type=float, help="GPa")
    p.add_argument("--max-ehull", type=float, help="meV/atom")
    p.add_argument("--min-tc", type=float, help="K (upper end of the Allen-Dynes range)")
    p.add_argument("--all-roles", action="store_true", help="include hull references")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--pretty", action="store_true")
    p.set_defaults(func=_cmd_query)

    p = sub.add_parser("show", help="print one document")
    add_store_args(p)
    p.add_argument("id")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("report", help="funnel table and hull plots of a campaign")
    add_store_args(p)
    p.add_argument("campaign")
    p.add_argument("--out", default="hts_report", help="directory for PNGs")
    p.add_argument("--html", action="store_true", help="also one self-contained HTML page")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("tc", help="superconducting Tc tools")
    tsub = p.add_subparsers(dest="tc_cmd", required=True)
    f = tsub.add_parser("formula", help="McMillan / Allen-Dynes Tc from lambda and omega_log")
    f.add_argument("--lam", type=float, required=True)
    f.add_argument("--wlog", type=float, required=True, help="omega_log (K)")
    f.add_argument("--w2", type=float, default=None, help="omega_2 (K); enables f2")
    f.add_argument("--mustar", type=float, default=0.1)
    f.add_argument("--theta-d", type=float, default=None, help="Debye temperature (K) for McMillan's original form")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_cmd_tc_formula)
    from hts.cli_tc import add_tc_run_command

    add_tc_run_command(tsub)

    p = sub.add_parser("plot", help="plots of one candidate")
    psub = p.add_subparsers(dest="plot_cmd", required=True)
    f = psub.add_parser("a2f", help="alpha2F(omega) with cumulative lambda, H and heavy-atom parts shaded")
    add_store_args(f)
    f.add_argument("id")
    f.add_argument("--out", default="hts_report", help="directory for the PNG")
    f.set_defaults(func=_cmd_plot_a2f)

    from hts.cli_learn import add_learn_commands

    add_learn_commands(sub, add_store_args)
    from hts.cli_cluster import add_cluster_commands

    add_cluster_commands(sub, add_store_args)
    from hts.cli_store import add_store_commands

    add_store_commands(sub)
    from hts.cli_label import add_label_command

    add_label_command(sub, add_store_args)
    from hts.cli_potential import add_potential_commands

    add_potential_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    from hts.cli_tc import TC_SUBCOMMANDS

    i = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)  # the command, after global options
    if i is not None and argv[i] == "tc" and i + 1 < len(argv) and argv[i + 1] not in TC_SUBCOMMANDS \
            and not argv[i + 1].startswith("-"):
        argv.insert(i + 1, "run")  # `hts tc STRUCTURE ...` is `hts tc run STRUCTURE ...`
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.store_given = getattr(args, "store", None) is not None
    if getattr(args, "store", None) is None:
        args.store = "hts_store"
    if getattr(args, "uri", None) is None:
        args.uri = None
    from hts.config import ConfigError
    from hts.store.lock import StoreBusy
    from hts.store.uri import StoreURIError

    try:
        return args.func(args)
    except (ConfigError, StoreURIError, StoreBusy) as exc:
        print(f"hts: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file named on the command line that cannot be read or written
        if exc.filename is None:
            raise
        print(f"hts: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
