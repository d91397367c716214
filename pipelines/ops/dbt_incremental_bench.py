"""Incremental vs full dbt build of one weekly increment (decision 0062).

    python -m pipelines.ops.dbt_incremental_bench DATA_DIR

DATA_DIR is a data folder after a pipeline run (`python -m pipelines.demo`) whose landing
folder has new files not loaded yet (`pipelines.sample_data.generate_increment`). On two
copies of its warehouse (the original is left as it is): the new files are loaded, then each
copy runs `dbt run` of staging + intermediate, identity resolution (the same in both, not
timed) and `dbt run` of the marts (without the weekly snapshots): one copy incrementally, the
other with `--full-refresh`. Prints wall and CPU seconds (user + system of the dbt
subprocess) per layer and checks that both copies end with the same tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.config import DBT_PROJECT_DIR

LAYERS = {
    "staging": ["--select", "staging", "intermediate"],
    "marts": ["--select", "marts", "--exclude", "customer_features_weekly"],
}


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dbt_run(warehouse: Path, data_dir: Path, work: Path, selection: list[str], full: bool
            ) -> tuple[float, float, dict[str, float]]:
    """One `dbt run` on `warehouse`; returns wall and CPU seconds, and each model's own
    seconds (dbt's run_results: the SQL, without dbt's start-up and parsing)."""
    env = {**os.environ, "C360_DATA_DIR": str(data_dir), "C360_WAREHOUSE": str(warehouse)}
    cmd = [str(Path(sys.executable).parent / "dbt"), "run", "--project-dir",
           str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path",
           str(work / "target"), "--log-path", str(work / "logs"), *selection]
    if full:
        cmd.append("--full-refresh")
    cpu, wall = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, child_cpu() - cpu
    if done.returncode:
        raise RuntimeError(done.stdout[-3000:])
    results = json.loads((work / "target" / "run_results.json").read_text(encoding="utf-8"))
    models = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results["results"]}
    return wall, cpu, models


def ingest_new_files(warehouse: Path, data_dir: Path) -> int:
    from pipelines.config import settings
    from pipelines.ingest.contracts import load_contracts
    from pipelines.ingest.loader import ingest_contract

    loaded = 0
    with duckdb.connect(str(warehouse)) as con:
        for contract in load_contracts(settings().contracts_dir):
            results = ingest_contract(con, contract, data_dir / "landing")
            loaded += sum(r.rows_loaded for r in results if r.status == "loaded")
    return loaded


def resolve_identity(warehouse: Path, data_dir: Path) -> None:
    from pipelines.identity.matcher import SplinkMatcher
    from pipelines.identity.resolve import resolve

    model = data_dir / "models" / "identity" / "splink_model.json"
    with duckdb.connect(str(warehouse)) as con:
        resolve(con, matcher=SplinkMatcher(model_path=model))


def tables(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [f"{s}.{t}" for s, t in con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'marts') and table_type = 'BASE TABLE' "
            "and table_name <> 'customer_features_weekly' order by all").fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    os.environ["C360_DATA_DIR"] = str(data_dir)
    from pipelines.ops.checksums import RUN_TIME_COLUMNS, relation_checksum

    # identity runs once per copy: first_seen_at is the time it ran; customer_keys mints a
    # random key (and its time) for each new customer in each copy
    exclude = RUN_TIME_COLUMNS | {"first_seen_at", "customer_key", "assigned_at"}

    with tempfile.TemporaryDirectory(prefix="dbt_incr_bench.") as tmp:
        work = Path(tmp)
        base = work / "base.duckdb"
        shutil.copy(data_dir / "warehouse" / "customer360.duckdb", base)
        os.environ["C360_WAREHOUSE"] = str(base)
        rows = ingest_new_files(base, data_dir)
        print(f"new rows loaded: {rows}")
        figures = {}
        for mode in ("incremental", "full"):
            warehouse = work / f"{mode}.duckdb"
            shutil.copy(base, warehouse)
            os.environ["C360_WAREHOUSE"] = str(warehouse)
            figures[mode, "staging"] = dbt_run(warehouse, data_dir, work, LAYERS["staging"],
                                               mode == "full")
            resolve_identity(warehouse, data_dir)
            figures[mode, "marts"] = dbt_run(warehouse, data_dir, work, LAYERS["marts"],
                                             mode == "full")
        names = tables(work / "incremental.duckdb")
        sums = {}
        for mode in ("incremental", "full"):
            with duckdb.connect(str(work / f"{mode}.duckdb"), read_only=True) as con:
                sums[mode] = {t: relation_checksum(con, t, exclude=exclude) for t in names}
        differ = [t for t in names if sums["incremental"][t] != sums["full"][t]]
    print("| dbt run | incremental: wall / CPU / models' SQL | full refresh: same |")
    print("|---|---|---|")
    for layer in LAYERS:
        (iw, ic, im), (fw, fc, fm) = figures["incremental", layer], figures["full", layer]
        print(f"| {layer} | {iw:.1f} s / {ic:.1f} s / {sum(im.values()):.1f} s "
              f"| {fw:.1f} s / {fc:.1f} s / {sum(fm.values()):.1f} s |")
    print("\nmodel: incremental s / full s")
    for layer in LAYERS:
        im, fm = figures["incremental", layer][2], figures["full", layer][2]
        for model in sorted(fm, key=fm.get, reverse=True):
            print(f"  {model}: {im.get(model, 0):.2f} / {fm[model]:.2f}")
    print(f"tables compared: {len(names)}; differing: {differ or 'none'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
