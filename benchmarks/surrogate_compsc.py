"""Grouped cross-validation of the hts surrogate on CompSC (586 literature structures).

Folds are grouped by reduced formula, so no composition is in both train and test.
Prints MAE/RMSE of lambda, omega_log (K) and the derived Allen-Dynes Tc (K, mu* = 0.10,
f1 only) for the model and for a baseline that predicts the training mean, the Spearman
rank correlation of Tc, and the coverage of the model's 90% lambda interval.
Last line: lambda_mae_ratio=R1 omega_log_mae_ratio=R2 tc_spearman=S   (targets R1, R2 <= 0.6; S >= 0.6)

Usage: python benchmarks/surrogate_compsc.py [--kind forest|gp] [--folds 5] [--compsc PATH]
"""

from __future__ import annotations

import argparse
import time
import warnings

warnings.filterwarnings("ignore")


def main():
    from hts.learn.cv import grouped_cv
    from hts.learn.dataset import compsc_table

    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="forest")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--mustar", type=float, default=0.10)
    ap.add_argument("--compsc", default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df = compsc_table(args.compsc)
    m = grouped_cv(df, kind=args.kind, folds=args.folds, mustar=args.mustar)
    print(f"CompSC: {m['n']} structures with lambda and omega_log, {m['n_formulas']} compositions; "
          f"{m['folds']}-fold GroupKFold by formula; model {args.kind}; mu* {args.mustar}")
    print(f"{'target':>12} {'MAE':>9} {'RMSE':>9} {'base MAE':>9} {'base RMSE':>9} {'MAE ratio':>9}")
    for t in ("lambda", "omega_log_K", "tc_K"):
        print(f"{t:>12} {m[t + '_mae']:9.3f} {m[t + '_rmse']:9.3f} {m[t + '_baseline_mae']:9.3f} "
              f"{m[t + '_baseline_rmse']:9.3f} {m[t + '_mae_ratio']:9.3f}")
    print(f"Spearman rho of Tc: model {m['tc_spearman']:.3f} (the baseline is a constant per fold: no ranking)")
    print(f"lambda 90% interval coverage on held-out rows: {m['lambda_coverage90']:.3f} (target 0.80-0.95)")
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    print(f"lambda_mae_ratio={m['lambda_mae_ratio']:.3f} omega_log_mae_ratio={m['omega_log_K_mae_ratio']:.3f} "
          f"tc_spearman={m['tc_spearman']:.3f}")


if __name__ == "__main__":
    main()
