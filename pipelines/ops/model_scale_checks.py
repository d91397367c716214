"""Speed and agreement checks of two model shortcuts on a pipeline warehouse (read-only).

    python -m pipelines.ops.model_scale_checks shap <warehouse.duckdb> [--train-rows N]
    python -m pipelines.ops.model_scale_checks clv-sample <warehouse.duckdb> [--sample N]

`shap`: trains a churn model on (a sample of) the warehouse's weekly snapshots, then times
shap's per-row exact TreeSHAP on the first 20,000 customers of the newest week against
`models_ml.churn.tree_shap` (once per path pattern, decision 0069) on all of them, and
prints the largest difference. `clv-sample`: fits the CLV models on every customer and on a
seeded sample (decision 0080) and compares the two sets of predictions for all customers.
Results are printed; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import timedelta

import duckdb
import numpy as np


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> str:
    wall, cpu = _clock()
    return f"{wall - start[0]:.1f} s wall / {cpu - start[1]:.1f} s CPU"


def _newest(con) -> object:
    return con.sql("select max(snapshot_date) from marts.customer_features_weekly").fetchone()[0]


def check_shap(con, train_rows: int) -> None:
    import shap

    from models_ml._frames import numeric
    from models_ml.churn import label_snapshots, snapshots_sql, train_churn, tree_shap
    from pipelines.defs.ml import FEATURE_COLS, paid_orders

    newest = _newest(con)
    total = con.sql("select count(*) from marts.customer_features_weekly").fetchone()[0]
    snaps = con.sql(snapshots_sql(["customer_id", "snapshot_date", *FEATURE_COLS], total,
                                  train_rows)).df()
    labeled = label_snapshots(snaps, paid_orders(con, newest + timedelta(days=1)),
                              data_end=newest).dropna(subset=["churned"])
    start = _clock()
    model, metrics = train_churn(labeled, FEATURE_COLS)
    print(f"trained on {metrics['n_train']:,} rows: {_since(start)}, ROC AUC "
          f"{metrics['roc_auc']:.3f}")
    latest = con.execute(f"select {', '.join(FEATURE_COLS)} from marts.customer_features_weekly "
                     "where snapshot_date = ? order by customer_id", [newest]).df()
    x = numeric(latest, FEATURE_COLS).to_numpy(dtype=float)
    n = min(20_000, len(x))
    start = _clock()
    exact = np.asarray(shap.TreeExplainer(model.base).shap_values(x[:n]), dtype=float)
    print(f"shap per row, {n:,} customers: {_since(start)}")
    start = _clock()
    fast = tree_shap(model.base, x)
    print(f"tree_shap per path pattern, all {len(x):,} customers: {_since(start)}")
    print(f"largest difference on the first {n:,}: {np.abs(exact - fast[:n]).max():.2e}")


def check_clv_sample(con, sample: int) -> None:
    from models_ml.clv import fit_clv, predict_clv, value_tiers
    from models_ml.config import DEFAULTS
    from pipelines.defs.ml import paid_orders

    as_of = _newest(con) + timedelta(days=1)
    orders = paid_orders(con, as_of)
    scored = {}
    for label, cap in (("every customer", None), (f"a sample of {sample:,}", sample)):
        cfg = replace(DEFAULTS.clv, max_fit_customers=cap)
        start = _clock()
        model = fit_clv(orders, as_of, cfg)
        print(f"fit on {label} ({model.n_customers:,}): {_since(start)}, chose "
              f"{model.purchase_model}")
        scored[label] = predict_clv(model, orders, as_of, cfg.horizon_weeks).set_index(
            "customer_id")
    full, part = scored.values()
    part = part.reindex(full.index)
    for col in ("expected_purchases_12m", "predicted_clv_12m", "p_alive"):
        print(f"{col}: total {100 * (part[col].sum() / full[col].sum() - 1):+.2f}%, "
              f"correlation {np.corrcoef(full[col], part[col])[0, 1]:.5f}")
    same = value_tiers(full.reset_index()).to_numpy() == value_tiers(part.reset_index()).to_numpy()
    print(f"value tier equal for {same.mean():.1%} of {len(full):,} customers")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["shap", "clv-sample"])
    parser.add_argument("warehouse")
    parser.add_argument("--train-rows", type=int, default=600_000)
    parser.add_argument("--sample", type=int, default=200_000)
    args = parser.parse_args(argv)
    with duckdb.connect(args.warehouse, read_only=True) as con:
        if args.check == "shap":
            check_shap(con, args.train_rows)
        else:
            check_clv_sample(con, args.sample)


if __name__ == "__main__":
    main()
