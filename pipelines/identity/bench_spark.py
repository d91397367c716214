"""Identity resolution on Splink's Spark backend against its DuckDB backend (decision 0105).

    python -m pipelines.identity.bench_spark --customers 1000 --work /tmp/identity-spark

Needs the optional `spark` extra (`uv sync --extra spark`) and Java 17+. Generates the people,
loads and stages them into a DuckDB warehouse (`spark_target.build_staging`), then runs the
identity step's first run (train, score, cluster, ids) on a copy of it once per backend
(C360_SPLINK_BACKEND), Spark in local mode on C360_SPARK_MASTER. Printed: the seconds of each
run, the Spark session's start, the scores against the generated truth and whether both
backends put the same records in the same customers. The opt-in test
tests/e2e/test_splink_spark.py asserts the same on 150 people.
"""
# A command-line benchmark talks to the terminal:
# ruff: noqa: T201

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.identity.evaluate import pairwise_scores

BACKENDS = ("duckdb", "spark")


@dataclass
class BackendRun:
    backend: str
    seconds: float
    trained: bool
    mapping: pd.DataFrame  # source_system, source_record_id, customer_id
    model_path: Path


def same_customers(a: BackendRun, b: BackendRun) -> bool:
    """Do both runs put the same records in the same customers (ids aside)? Pairwise
    agreement of the two maps, one taken as the truth of the other."""
    got = pairwise_scores(a.mapping, b.mapping.rename(columns={"customer_id": "person_id"}))
    return len(a.mapping) == len(b.mapping) == got["records"] and got["f1"] == 1.0


def resolve_on(backend: str, warehouse: Path, models: Path) -> BackendRun:
    """The identity step on `warehouse` with Splink on `backend` and its model in `models`."""
    from pipelines import config
    from pipelines.identity.matcher import SplinkMatcher
    from pipelines.identity.resolve import resolve
    from pipelines.warehouse import connect

    os.environ["C360_SPLINK_BACKEND"] = backend
    config.settings.cache_clear()
    matcher = SplinkMatcher(model_path=models / "splink_model.json")
    with connect(warehouse) as con:
        started = time.perf_counter()
        resolve(con, matcher=matcher)
        seconds = time.perf_counter() - started
        mapping = con.sql("select source_system, source_record_id, customer_id "
                          "from identity.customer_map").df()
    return BackendRun(backend, seconds, matcher.trained, mapping, matcher.model_path)


def compare(work: Path, customers: int, seed: int = 7) -> dict[str, BackendRun]:
    """Stage `customers` generated people under `work`, then resolve a copy per backend."""
    from pipelines.spark_target import build_staging

    staged = build_staging(work, customers, seed)
    runs = {}
    for backend in BACKENDS:
        warehouse = work / backend / "warehouse.duckdb"
        warehouse.parent.mkdir(parents=True)
        shutil.copy(staged, warehouse)
        runs[backend] = resolve_on(backend, warehouse, warehouse.parent)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    os.environ["C360_DATA_DIR"] = str(args.work / "data")
    from pipelines import config
    from pipelines.identity.probabilistic import spark_session

    os.environ["C360_SPLINK_BACKEND"] = "spark"
    config.settings.cache_clear()
    started = time.perf_counter()
    spark_session()
    print(f"Spark session ({config.settings().spark_master}) started in "
          f"{time.perf_counter() - started:.1f} s")
    runs = compare(args.work, args.customers, args.seed)
    truth = pd.read_csv(args.work / "data" / "truth" / "person_map.csv", dtype=str)
    for run in runs.values():
        got = pairwise_scores(run.mapping, truth)
        print(f"{run.backend}: {len(run.mapping):,} records -> {got['customers']:,} customers "
              f"in {run.seconds:.1f} s; precision {got['precision']:.4f} recall "
              f"{got['recall']:.4f} F1 {got['f1']:.4f}")
    same = same_customers(runs["duckdb"], runs["spark"])
    print(f"the same customers on both backends: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
