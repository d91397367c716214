"""BI reader soak: a separate process queries the published files in a loop while a full
refresh runs, the way a dashboard would; counts queries and errors.

    python -m pipelines.ops.bi_reader_soak --data-dir /tmp/c360-soak      (make bi-soak)

The reader alternates between (a) a short read-only connection to the serving DuckDB file
(open, one query joining bi.customer_360 and bi.customer_segments, close) and (b) a query
over the Parquet files. It runs only while the refresh (`python -m pipelines.demo`, every
asset) is running, so every query overlaps the refresh, including the publish swap.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pipelines.config import REPO_ROOT
from pipelines.publish import SERVING_FILE

ENV_VARS = ("C360_WAREHOUSE", "C360_LANDING_DIR", "C360_SERVING_DIR", "MLFLOW_TRACKING_URI",
            "DAGSTER_HOME", "C360_MLFLOW_ARTIFACTS")
DUCKDB_QUERY = (
    "select s.rfm_segment, count(*), sum(c.lifetime_revenue_cny) from bi.customer_360 c "
    "left join bi.customer_segments s using (customer_id) group by 1"
)


def parquet_query(parquet: Path) -> str:
    return (
        f"select count(*), count(distinct customer_id) from read_parquet('{parquet}/"
        "customer_360.parquet') c join read_parquet("
        f"'{parquet}/customer_churn.parquet') using (customer_id)"
    )


def reader(serving: Path, stop, out) -> None:
    """The BI tool: short-lived read-only connections; never the working warehouse."""
    queries = errors = 0
    latencies: list[float] = []
    messages: dict[str, int] = {}
    versions = set()
    db, parquet = serving / SERVING_FILE, serving / "parquet"
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            if queries % 2 == 0:
                versions.add(os.stat(db).st_ino)
                with duckdb.connect(str(db), read_only=True) as con:
                    con.sql(DUCKDB_QUERY).fetchall()
            else:
                with duckdb.connect() as con:
                    con.sql(parquet_query(parquet)).fetchall()
        except Exception as e:  # noqa: BLE001 - every failure a BI tool would see counts
            errors += 1
            key = f"{type(e).__name__}: {str(e)[:160]}"
            messages[key] = messages.get(key, 0) + 1
        queries += 1
        latencies.append(time.perf_counter() - t0)
    out.put({"queries": queries, "errors": errors, "messages": messages,
             "serving_file_versions_seen": len(versions),
             "median_ms": 1000 * statistics.median(latencies) if latencies else None,
             "p99_ms": 1000 * sorted(latencies)[int(0.99 * (len(latencies) - 1))]
             if latencies else None})


def demo(data_dir: Path, customers: int, seed: int, end_date: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["C360_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.demo", "--customers", str(customers), "--seed",
         str(seed), "--end-date", end_date],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/c360-soak"))
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end-date", default="2026-11-08")
    parser.add_argument("--min-queries", type=int, default=1000)
    args = parser.parse_args(argv)
    serving = args.data_dir / "serving"
    if not (serving / SERVING_FILE).exists():
        print("first refresh (nothing published yet, no reader) ...")
        if demo(args.data_dir, args.customers, args.seed, args.end_date).wait() != 0:
            print("the first refresh failed")
            return 1
    total = {"queries": 0, "errors": 0, "messages": {}, "refreshes": 0}
    ctx = mp.get_context("spawn")
    while total["queries"] < args.min_queries:
        stop, out = ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=reader, args=(serving, stop, out))
        refresh = demo(args.data_dir, args.customers, args.seed, args.end_date)
        proc.start()
        t0 = time.perf_counter()
        code = refresh.wait()
        stop.set()
        r = out.get(timeout=60)
        proc.join()
        total["refreshes"] += 1
        total["queries"] += r["queries"]
        total["errors"] += r["errors"]
        for k, v in r["messages"].items():
            total["messages"][k] = total["messages"].get(k, 0) + v
        print(f"refresh {total['refreshes']}: {'ok' if code == 0 else 'FAILED'} in "
              f"{time.perf_counter() - t0:.0f} s; reader: {r['queries']} queries, "
              f"{r['errors']} errors, median {r['median_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"serving file versions seen {r['serving_file_versions_seen']}")
        if code != 0:
            return 1
    print(f"total: {total['queries']} queries during {total['refreshes']} full refresh(es), "
          f"{total['errors']} errors {total['messages'] or ''}")
    return 0 if total["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
