"""``hts dataset export``, ``hts train``, ``hts predict``, ``hts select``: the learning commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["add_learn_commands"]


def _settings(args):
    from hts.config import LearningSettings, load_config

    s = load_config(args.config).learning if getattr(args, "config", None) else LearningSettings()
    upd = {}
    for k in ("model", "n_per_round", "exploration_share", "rule", "kappa", "mustar", "model_dir"):
        v = getattr(args, k, None)
        if v is not None:
            upd[k] = v
    if getattr(args, "no_compsc", False):
        upd["compsc"] = False
    if getattr(args, "compsc", None):
        upd["compsc_path"] = args.compsc
    return s.model_copy(update=upd)


def _cmd_export(args) -> int:
    import pandas as pd

    from hts.cli_common import store_from_args
    from hts.learn.compsc import CompSCMissing
    from hts.learn.dataset import compsc_table, store_table, write_table

    parts = []
    if args.source in ("store", "both"):
        store = store_from_args(args)
        parts.append(store_table(store, args.campaign, roles=("candidate", "reference") if args.references else ("candidate",)))
        store.close()
    if args.source in ("compsc", "both"):
        try:
            parts.append(compsc_table(args.compsc))
        except CompSCMissing as exc:
            print(f"hts: {exc}", file=sys.stderr)
            return 1
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    out = write_table(df, args.out)
    counts = df["status"].value_counts().to_dict() if len(df) else {}
    print(f"{len(df)} rows -> {out}; by status: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0


def _cmd_schema(args) -> int:
    from hts.learn.dataset import COLUMNS
    from hts.learn.features import FEATURES

    print("| column | unit | meaning |\n|---|---|---|")
    for name, (unit, text) in {**COLUMNS, **FEATURES}.items():
        print(f"| `{name}` | {unit or '-'} | {text} |")
    return 0


def _cmd_train(args) -> int:
    from hts.cli_common import store_from_args
    from hts.learn.cv import grouped_cv
    from hts.learn.loop import training_table
    from hts.learn.surrogate import train_surrogate

    settings = _settings(args)
    store = store_from_args(args)
    table = training_table(store, settings)
    store.close()
    metrics = grouped_cv(table, kind=settings.model, folds=args.cv, mustar=settings.mustar) if args.cv > 1 else {}
    model = train_surrogate(table, kind=settings.model, seed=settings.seed)
    model.meta["metrics"] = metrics
    path = model.save(args.out)
    m = model.meta
    print(f"trained {m['kind']} on {m['n_train']} labelled rows (sources {m['sources']}), stability classifier on "
          f"{m['n_stability']} rows ({m['n_unstable']} unstable); training hash {m['training_hash']}; {len(model.features)} features")
    if metrics:
        print("grouped CV: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}))
    print(f"model -> {path}")
    return 0


def _cmd_predict(args) -> int:
    import pandas as pd

    from hts.learn.dataset import store_table
    from hts.learn.loop import load_for_prediction
    from hts.learn.surrogate import ModelMismatch

    try:
        model = load_for_prediction(args.model)
    except (ModelMismatch, FileNotFoundError) as exc:
        print(f"hts: {exc}", file=sys.stderr)
        return 2
    target = Path(args.target)
    if target.is_file():
        table = pd.read_parquet(target) if target.suffix in (".parquet", ".pq") else pd.read_csv(target)
    else:
        from hts.cli_common import store_from_args

        store = store_from_args(args)
        table = store_table(store, args.target)
        store.close()
        if not len(table):
            print(f"hts: {args.target!r} is neither a table file nor a campaign in the store", file=sys.stderr)
            return 1
    try:
        pred = model.predict(table, mustar=args.mustar)
    except ModelMismatch as exc:
        print(f"hts: {exc}", file=sys.stderr)
        return 2
    for c in ("formula", "pressure_GPa", "status"):
        if c in table:
            pred.insert(1, c, table[c].to_numpy())
    pred = pred.sort_values("tc_pred_K", ascending=False)
    if args.format == "json":
        print(pred.to_json(orient="records"))
    elif args.format == "csv":
        print(pred.to_csv(index=False), end="")
    else:
        cols = ["id", "formula", "pressure_GPa", "status", "lambda_pred", "omega_log_pred_K", "tc_pred_K", "tc_lo90_K", "tc_hi90_K", "p_stable"]
        print(pred[[c for c in cols if c in pred]].head(args.top).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return 0


def _cmd_select(args) -> int:
    from hts.cli_common import store_from_args
    from hts.learn.loop import run_round

    settings = _settings(args)
    store = store_from_args(args)
    res = run_round(store, args.campaign, settings, n=args.n)
    store.close()
    print(f"round {res.round}: trained on {res.n_train} labelled rows ({res.n_train_store} from the store), stability on "
          f"{res.n_stability} ({res.n_unstable} unstable); ranked {res.ranked} open candidates; selected {len(res.selected)} "
          f"{res.buckets}; model {res.model_path}")
    if res.model_error["n_labelled"]:
        print("error of the previous round's predictions: " + json.dumps(res.model_error))
    for i in res.selected:
        print(i)
    return 0


def add_learn_commands(sub, add_store_args) -> None:
    p = sub.add_parser("dataset", help="learning tables")
    dsub = p.add_subparsers(dest="dataset_cmd", required=True)
    e = dsub.add_parser("export", help="one row per candidate (every status), with labels, provenance and features")
    add_store_args(e)
    e.add_argument("--campaign")
    e.add_argument("--source", choices=["store", "compsc", "both"], default="store")
    e.add_argument("--compsc", default=None, help="CompSC folder (default ../shared/data/compsc)")
    e.add_argument("--references", action="store_true", help="include hull reference documents")
    e.add_argument("--out", required=True, help=".parquet or .csv")
    e.set_defaults(func=_cmd_export)
    sc = dsub.add_parser("schema", help="print the exported columns with units (markdown)")
    sc.set_defaults(func=_cmd_schema)

    def learn_opts(q):
        q.add_argument("--model-kind", dest="model", choices=["forest", "gp"], default=None)
        q.add_argument("--no-compsc", action="store_true", help="train on the store only")
        q.add_argument("--compsc", default=None, help="CompSC folder (default ../shared/data/compsc)")
        q.add_argument("--mustar", type=float, default=None)

    t = sub.add_parser("train", help="train the lambda / omega_log surrogate (+ stability classifier) on the store and CompSC")
    add_store_args(t)
    learn_opts(t)
    t.add_argument("--cv", type=int, default=5, help="grouped CV folds for the stored metrics (0: none)")
    t.add_argument("--out", required=True, help="model file (.skops)")
    t.set_defaults(func=_cmd_train)

    pr = sub.add_parser("predict", help="predict lambda, omega_log, Tc for a campaign or a table file")
    add_store_args(pr)
    pr.add_argument("target", help="campaign name, or an exported .parquet/.csv table")
    pr.add_argument("--model", required=True)
    pr.add_argument("--mustar", type=float, default=0.10)
    pr.add_argument("--top", type=int, default=50)
    pr.add_argument("--format", choices=["table", "csv", "json"], default="table")
    pr.set_defaults(func=_cmd_predict)

    s = sub.add_parser("select", help="one learning round: retrain, rank open candidates, mark the next DFPT targets")
    add_store_args(s)
    learn_opts(s)
    s.add_argument("campaign")
    s.add_argument("--n", type=int, default=None, help="targets this round (default: the config's n_per_round)")
    s.add_argument("--exploration-share", type=float, default=None)
    s.add_argument("--rule", choices=["ucb", "ei", "greedy"], default=None)
    s.add_argument("--model-dir", default=None)
    s.set_defaults(func=_cmd_select)
