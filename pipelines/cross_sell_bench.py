"""Wall and CPU seconds of the cross_sell asset's work on a refit week and a reuse week (0070).

Copies a built warehouse (the original is never written) into `--work-dir`, points the
warehouse and a fresh MLflow store there, and runs the asset's work (`run_week`: decide,
read, fit or load, score, backtest, log, write) three times on the newest snapshot: the
first fit (no rules yet), a reuse week, and a forced refit (what ``C360_REFIT=1`` does).
Then it simulates the next week (decision 0085): ``--changed-share`` of the customers buy one
product each, dated the day before the snapshot a week later, and that week runs twice on
the refit's rules, rescoring only the changed customers and then everybody. Prints seconds
per part and checks that the reuse week published the same offers and prospects as the
refit, and the two runs of the simulated week the same tables. ``--next-week-only`` skips
the copy and the fits and simulates one more week in an earlier run's `--work-dir`. Usage
(niced on a shared machine):

    nice python -m pipelines.cross_sell_bench \\
        --warehouse /tmp/wt/bench-data/s100k-v2/run/warehouse/customer360.duckdb \\
        --work-dir /tmp/cross_sell_bench
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a benchmark prints its figures


def timed(label: str, refit_asked: bool, **kwargs) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    from pipelines.cross_sell_run import run_week
    from pipelines.warehouse import connect

    wall, cpu = time.perf_counter(), time.process_time()
    week, counts = run_week(refit_asked=refit_asked, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    say(f"{label}: wall {wall:.2f} s, CPU {cpu:.2f} s; {week.decision.reason}; "
        f"{week.scoring}")
    say("  parts (wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in week.seconds.items()))
    say(f"  rows: {counts}")
    with connect(read_only=True) as con:
        offers = con.sql("select * exclude (model_run_id) from ml.cross_sell_offers "
                         "order by customer_id, offer_rank").df()  # fmt: skip
        prospects = con.sql("select * exclude (model_run_id) from ml.product_prospects "
                            "order by sku, prospect_rank").df()  # fmt: skip
    return {"wall": wall, "cpu": cpu}, offers, prospects


def next_week(share: float):
    """Paid lines for `share` of the customers (one random product each) dated the day
    before the snapshot a week after the last scored one; returns that snapshot."""
    import numpy as np

    from pipelines.warehouse import connect

    with connect() as con:
        snapshot = con.sql("select max(snapshot_date) from ml.cross_sell_offers"
                           ).fetchone()[0] + timedelta(days=7)  # fmt: skip
        seed = snapshot.toordinal()
        customers = con.sql("select distinct customer_id from marts.order_items "
                            "where is_paid and customer_id is not null order by 1").df()
        skus = con.sql("select distinct sku from marts.order_items where sku is not null "
                       "order by 1").df()["sku"].to_numpy()  # fmt: skip
        rng = np.random.default_rng(seed)
        buyers = customers.sample(frac=share, random_state=seed)["customer_id"].to_numpy()
        template = con.sql("select * from marts.order_items where is_paid and sku is not null "
                           "limit 1").df()  # fmt: skip
        lines = template.loc[template.index.repeat(len(buyers))].reset_index(drop=True)
        lines["customer_id"] = buyers
        lines["sku"] = rng.choice(skus, size=len(buyers))
        lines["order_id"] = [f"BENCH-{snapshot}-{i}" for i in range(len(buyers))]
        lines["ordered_at"] = pd.Timestamp(snapshot) - pd.Timedelta(days=1)
        con.register("lines", lines)
        con.sql("insert into marts.order_items by name select * from lines")
    say(f"simulated week {snapshot}: {len(buyers)} customers bought one product each")
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--changed-share", type=float, default=0.05,
                        help="share of customers buying in the simulated next week")
    parser.add_argument("--next-week-only", action="store_true",
                        help="reuse --work-dir from an earlier run: only simulate a next week")
    args = parser.parse_args()
    work = args.work_dir.resolve()
    copy = work / "warehouse" / "customer360.duckdb"
    if not args.next_week_only:
        if work.exists():
            shutil.rmtree(work)
        (work / "warehouse").mkdir(parents=True)
        shutil.copy2(args.warehouse, copy)
    os.environ["C360_DATA_DIR"] = str(work)
    os.environ["C360_WAREHOUSE"] = str(copy)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID",
                "C360_MLFLOW_ARTIFACTS", "C360_REFIT", "C360_REFIT_EVERY_WEEKS"):
        os.environ.pop(var, None)  # fmt: skip
    from pipelines import config

    config.settings.cache_clear()
    import models_ml.tracking  # noqa: F401 - imports MLflow: not counted in the first run

    if not args.next_week_only:
        _, offers, prospects = timed("first fit (no rules yet)", refit_asked=False)
        _, offers2, prospects2 = timed("reuse week", refit_asked=False)
        timed("forced refit", refit_asked=True)
        pd.testing.assert_frame_equal(offers, offers2)
        pd.testing.assert_frame_equal(prospects, prospects2)
        say(f"reuse week published the same {len(offers)} offers and {len(prospects)} "
            "prospects")
    snapshot = next_week(args.changed_share)
    _, offers3, prospects3 = timed("next week, changed customers", False, snapshot=snapshot)
    _, offers4, prospects4 = timed("next week, everybody", False, snapshot=snapshot,
                                   incremental=False)
    pd.testing.assert_frame_equal(offers3, offers4)
    pd.testing.assert_frame_equal(prospects3, prospects4)
    say(f"both published the same {len(offers3)} offers and {len(prospects3)} prospects")
    say(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
