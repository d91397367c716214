"""`make dbt-spark`: build the staging, intermediate and marts dbt models on Spark as well.

The path past one machine (docs/scale-out.md): the same dbt models run on a second target,
Apache Spark in local mode through dbt-spark's `session` method (pyspark in this process, no
Thrift server, nothing fetched at run time). Steps, on generated sample data (~300 people):

1. DuckDB, as in production: generate the exports, load them into `raw.*` with the contract
   loader, `dbt build` staging and intermediate, resolve identities (Python, decision 0003)
   and `dbt build` the marts.
2. Export `raw.*` and the identity tables the marts read to Parquet and register them as
   Spark tables; register the standardisation UDFs (pipelines.standardise) in the session.
3. `dbt build --target spark` of the seeds, staging, intermediate and marts in this process.
4. Print the rows of every model on both engines; exit 1 when a count differs.

Needs the optional `spark` dependencies (`uv sync --extra spark`) and Java 17+.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from pipelines.config import DBT_PROJECT_DIR, REPO_ROOT, settings

END_DATE = date(2026, 11, 15)  # the sample generator's default base export end (a Sunday)
LAYERS = ("staging", "intermediate", "marts")
SEEDS = ("fx_rates", "source_trust")
# identity.* tables the marts read (dbt sources); the other identity tables stay in DuckDB
IDENTITY_SOURCES = ("customer_map", "customer_aliases")


def _dbt_env(warehouse: Path, target: str) -> dict[str, str]:
    s = settings()
    env = dict(os.environ)
    env.update({
        "C360_WAREHOUSE": str(warehouse),
        "C360_DBT_TARGET": target,
        "C360_DUCKDB_MEMORY_LIMIT": s.duckdb_memory_limit,
        "C360_DUCKDB_THREADS": str(s.duckdb_threads),
        "C360_DEFAULT_PHONE_REGION": s.default_phone_region,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    })
    return env


def _dbt_args(command: str, work: Path, select: list[str]) -> list[str]:
    return [
        command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--indirect-selection", "cautious", "--select", *select,
    ]


def _dbt_duckdb(work: Path, warehouse: Path, select: list[str]) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    cmd = [str(dbt), *_dbt_args("build", work, select), "--quiet"]
    done = subprocess.run(cmd, env=_dbt_env(warehouse, "dev"), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"dbt (duckdb) failed:\n{done.stdout}\n{done.stderr}")


def build_staging(work: Path, customers: int, seed: int) -> Path:
    """A DuckDB warehouse under `work` (in `work`/data, beside the exports and their truth)
    with raw, staging and intermediate of `customers` generated people: what identity reads."""
    from pipelines.ingest.contracts import load_contracts
    from pipelines.ingest.loader import ingest_contract
    from pipelines.sample_data import generate
    from pipelines.warehouse import connect

    data = work / "data"
    generate(data, customers=customers, seed=seed, end_date=END_DATE)
    warehouse = data / "warehouse.duckdb"
    with connect(warehouse) as con:
        for contract in load_contracts(settings().contracts_dir):
            failed = [r for r in ingest_contract(con, contract, data / "landing")
                      if r.status == "failed"]  # fmt: skip
            if failed:
                raise RuntimeError(f"{contract.name}: {failed[0].error}")
    _dbt_duckdb(work, warehouse, [*SEEDS, "staging", "intermediate"])
    return warehouse


def build_duckdb(work: Path, customers: int, seed: int) -> Path:
    """A DuckDB warehouse under `work` with raw, staging, identity and marts of `customers`
    generated people: the reference build."""
    from pipelines.identity.matcher import SplinkMatcher
    from pipelines.identity.resolve import resolve
    from pipelines.warehouse import connect

    warehouse = build_staging(work, customers, seed)
    matcher = SplinkMatcher(model_path=work / "data" / "models" / "identity" / "splink_model.json")
    matcher.model_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(warehouse) as con:
        resolve(con, matcher=matcher)
    _dbt_duckdb(work, warehouse, ["marts"])
    return warehouse


def export_parquet(warehouse: Path, out: Path) -> dict[str, Path]:
    """raw.* and the identity sources as Parquet files: {schema.table: file}."""
    import duckdb

    files: dict[str, Path] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = 'raw' and table_type = 'BASE TABLE' "
            "or (table_schema = 'identity' and table_name in "
            f"({', '.join(repr(t) for t in IDENTITY_SOURCES)})) order by all"
        ).fetchall()
        for schema, table in tables:
            path = out / schema / f"{table}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            con.sql(f"copy {schema}.{table} to '{path}' (format parquet)")
            files[f"{schema}.{table}"] = path
    return files


def spark_session(work: Path):
    """A local SparkSession (2 cores, in-memory catalog, UTC) that dbt-spark's `session`
    method picks up with getOrCreate()."""
    from pipelines.spark_session import spark_session as session

    return session("customer360-dbt", work, conf={
        "spark.sql.catalogImplementation": "in-memory",
        "spark.driver.memory": "2g",
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={work}",
    })


def register_udfs(spark) -> None:
    """The standardisation functions staging calls, as Spark SQL functions (the DuckDB
    build registers the same Python functions: pipelines.duckdb_udfs)."""
    from pyspark.sql.types import BooleanType, StringType

    from pipelines import standardise as st

    for name, fn, ret in [
        ("c360_normalize_email", st.normalize_email, StringType()),
        ("c360_email_key", st.email_match_key, StringType()),
        ("c360_is_role_mailbox", st.is_role_mailbox, BooleanType()),
        ("c360_phone_e164", st.normalize_phone, StringType()),
        ("c360_pinyin", st.to_pinyin, StringType()),
        ("c360_name_key", st.name_key, StringType()),
    ]:
        spark.udf.register(name, fn, ret)


def register_sources(spark, files: dict[str, Path]) -> None:
    for schema in sorted({name.split(".")[0] for name in files}):
        spark.sql(f"create database if not exists {schema}")
    for name, path in files.items():
        spark.sql(f"drop table if exists {name}")
        spark.sql(f"create table {name} using parquet location '{path}'")


def build_spark(work: Path, warehouse: Path) -> None:
    """Build the seeds, staging, intermediate and marts on Spark from `warehouse`'s sources."""
    from dbt.cli.main import dbtRunner

    files = export_parquet(warehouse, work / "parquet")
    # the catalog is in memory: table files of an earlier session in `work` would clash
    shutil.rmtree(work / "spark-warehouse", ignore_errors=True)
    spark = spark_session(work)
    register_udfs(spark)
    register_sources(spark, files)
    os.environ.update(_dbt_env(warehouse, "spark"))
    result = dbtRunner().invoke(
        [*_dbt_args("build", work / "spark", [*SEEDS, *LAYERS]), "--target", "spark"]
    )
    if not result.success:
        raise RuntimeError(f"dbt build on Spark failed: {result.exception or 'see the log above'}")


def models(work: Path) -> list[tuple[str, str]]:
    """(schema, model) of every staging, intermediate and marts model of the project."""
    import json

    manifest = json.loads((work / "spark" / "target" / "manifest.json").read_text())
    return sorted(
        (node["schema"], node["name"]) for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] in LAYERS
    )


# Aggregates that would expose a difference in meaning (time zones, trimming, the golden
# record's winners, date arithmetic), computed on both engines.
VALUE_CHECKS = {
    "staging.stg_crm__contacts": "count(distinct weibo_handle), count(distinct phone_e164)",
    "staging.stg_social__profiles": "count(distinct handle), count(distinct email_key)",
    "staging.stg_shop__orders": "sum(amount_cny), count(distinct ordered_at)",
    "marts.customers": "count(distinct full_name), count(distinct email), "
                       "count(distinct source_systems), count(has_email_consent)",
    "marts.customer_consent": "count(case when consent_status = 'granted' then 1 end), "
                              "count(distinct consent_decided_at)",
    "marts.customer_360": "sum(paid_orders), sum(lifetime_revenue_cny), sum(complaints)",
    "marts.customer_features_weekly": "min(snapshot_date), sum(tenure_days), "
                                      "sum(days_since_last_order), sum(orders_total)",
}


def _values(row) -> str:
    return ", ".join(str(round(float(v), 6)) if v is not None and not hasattr(v, "isoformat")
                     else str(v) for v in row)


def compare_values(warehouse: Path) -> list[tuple[str, str, str, str]]:
    """(model, aggregates, DuckDB's values, Spark's values) for VALUE_CHECKS."""
    import duckdb
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    out = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for model, aggregates in VALUE_CHECKS.items():
            sql = f"select {aggregates} from {model}"
            out.append((model, aggregates, _values(con.sql(sql).fetchone()),
                        _values(spark.sql(sql).collect()[0])))
    return out


def compare(work: Path, warehouse: Path) -> list[tuple[str, int, int]]:
    """(schema.model, rows in DuckDB, rows on Spark) for every built model."""
    import duckdb
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    rows = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, name in models(work):
            n_duck = con.sql(f"select count(*) from {schema}.{name}").fetchone()[0]
            n_spark = spark.table(f"{schema}.{name}").count()
            rows.append((f"{schema}.{name}", n_duck, n_spark))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--reuse-duckdb", action="store_true",
                        help="reuse the DuckDB build already in --work")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="c360-spark-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        warehouse = work / "data" / "warehouse.duckdb"
        if not (args.reuse_duckdb and warehouse.exists()):
            warehouse = build_duckdb(work, args.customers, args.seed)
        t1 = time.perf_counter()
        print(f"DuckDB: {args.customers} people loaded, staging + identity + marts built "
              f"in {t1 - t0:.0f} s", flush=True)
        build_spark(work, warehouse)
        t2 = time.perf_counter()
        print(f"Spark: seeds, staging, intermediate and marts built in {t2 - t1:.0f} s")
        rows = compare(work, warehouse)
        width = max(len(name) for name, *_ in rows)
        print(f"\n{'model':<{width}}  {'duckdb':>8}  {'spark':>8}")
        for name, n_duck, n_spark in rows:
            flag = "" if n_duck == n_spark else "  DIFFERENT"
            print(f"{name:<{width}}  {n_duck:>8,}  {n_spark:>8,}{flag}")
        differ = [name for name, a, b in rows if a != b]
        print(f"\n{len(rows)} models, {len(rows) - len(differ)} with equal row counts"
              + (f"; different: {', '.join(differ)}" if differ else ""))
        print("\nvalues (duckdb | spark):")
        values = compare_values(warehouse)
        for model, aggregates, duck, spark in values:
            flag = "same" if duck == spark else "DIFFERENT"
            print(f"{model}: {aggregates}\n    {duck} | {spark}  {flag}")
        differ += [model for model, _, duck, spark in values if duck != spark]
        return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
