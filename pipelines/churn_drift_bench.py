"""Churn drift reference check (decision 0088): retrain churn as ``ml/customer_churn`` did on
the run of snapshot `--as-of` (the same rows, labels and seed), then print the PSI of that
model's inputs and score on the newest weeks against two references: the one the asset now
stores (training rows of the newest labeled weeks) and the old one (a sample of all labeled
weeks). Reads the warehouse only; writes nothing.

    C360_DATA_DIR=<copy of a run folder> python -m pipelines.churn_drift_bench --as-of 2026-11-15
"""

# ruff: noqa: T201 - a benchmark prints its figures

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import pandas as pd

from models_ml import drift
from models_ml._frames import numeric as _numeric
from models_ml.churn import drift_reference, label_snapshots, snapshots_sql, train_churn
from pipelines.config import settings
from pipelines.defs.ml import FEATURE_COLS, paid_orders
from pipelines.warehouse import connect

TABLE = "marts.customer_features_weekly"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True, help="snapshot date of the training run")
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    upto = f"(select * from {TABLE} where snapshot_date <= '{as_of}')"
    start = time.perf_counter()
    with connect(read_only=True) as con:
        total = con.sql(f"select count(*) from {upto}").fetchone()[0]
        snapshots = con.sql(snapshots_sql(["customer_id", "snapshot_date", *FEATURE_COLS], total,
                                          settings().churn_max_train_rows, upto)).df()
        orders = paid_orders(con, as_of + timedelta(days=1))
        weeks = [d for (d,) in con.execute(
            f"select distinct snapshot_date from {TABLE} where snapshot_date >= ? "
            "order by 1", [as_of]).fetchall()]
        newest = {d: con.execute(f"select {', '.join(FEATURE_COLS)} from {TABLE} "
                                 "where snapshot_date = ?", [d]).df() for d in weeks}
    labeled = label_snapshots(snapshots, orders, data_end=as_of).dropna(subset=["churned"])
    del orders
    model, metrics = train_churn(labeled, FEATURE_COLS)
    print(f"trained on {total:,} snapshot rows (read {len(snapshots):,}; labeled "
          f"{len(labeled):,}); n_train {metrics['n_train']:,}, roc_auc {metrics['roc_auc']:.4f}; "
          f"{time.perf_counter() - start:.0f} s")
    new_ref = drift_reference(model)
    pooled = _numeric(labeled, FEATURE_COLS).sample(min(len(labeled), 20_000), random_state=0)
    old_ref = drift.reference(pooled.assign(churn_probability=model.predict_proba(pooled)),
                              [*FEATURE_COLS, "churn_probability"])
    nulls = labeled["days_since_last_order"].isna()
    recent = pd.to_datetime(labeled["snapshot_date"]) >= pd.Timestamp(new_ref["_dates"][0])
    print(f"reference weeks {new_ref['_dates'][0]}..{new_ref['_dates'][1]} "
          f"({new_ref['_rows']:,} rows); share without orders: all labeled weeks "
          f"{nulls.mean():.3f}, reference weeks {nulls[recent].mean():.3f}")
    kinds = {"churn_probability": "score", **dict.fromkeys(drift.CLOCK_FEATURES, "clock")}
    for d, frame in newest.items():
        current = frame.assign(churn_probability=model.predict_proba(frame))
        print(f"week {d} ({len(frame):,} customers, without orders "
              f"{frame['days_since_last_order'].isna().mean():.3f})")
        for name, ref in (("newest labeled weeks", new_ref), ("all labeled weeks", old_ref)):
            table = drift.drift_table(ref, current, kinds).set_index("name")
            others = table.drop(index=["churn_probability", *drift.CLOCK_FEATURES])
            print(f"  vs {name:21s}: score PSI {table.loc['churn_probability', 'psi']:.3f}, "
                  f"max other input {others['psi'].max():.3f} ({others['psi'].idxmax()}), "
                  f"refit recommended {drift.refit_recommended(table.reset_index())}")


if __name__ == "__main__":
    main()
