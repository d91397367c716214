"""Publish the BI tables for readers: a read-only DuckDB file and one Parquet file per table.

Readers never open the working warehouse. Everything is written under a temporary name next to
its final place, then moved over it with os.replace (atomic on one filesystem), so a reader sees
either the previous tables or the new ones, never half a table or a lock error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from pipelines.warehouse import connect

SERVING_FILE = "customer360.duckdb"


def bi_tables(con) -> list[str]:
    return [
        r[0]
        for r in con.sql(
            "select table_name from information_schema.tables where table_schema = 'bi' "
            "and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]


def publish(serving_dir: Path) -> dict[str, int]:
    """Copy every bi.* table to the serving file and to Parquet; returns rows per table."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = serving_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    # a publish killed before its cleanup (SIGKILL, power loss) leaves its temporary files;
    # only one publish runs at a time (writer pool), so any left now are garbage
    for stale in [*serving_dir.glob(".*.tmp*"), *parquet_dir.glob(".*.tmp")]:
        stale.unlink(missing_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp_db = serving_dir / f".{SERVING_FILE}.{token}.tmp"
    staged: list[tuple[Path, Path]] = []
    counts: dict[str, int] = {}
    try:
        with connect(read_only=True) as con:
            tables = bi_tables(con)
            con.sql(f"attach '{tmp_db}' as serving (read_only false)")
            con.sql("create schema serving.bi")
            for table in tables:
                con.sql(f"create table serving.bi.{table} as select * from bi.{table}")
                counts[table] = con.sql(f"select count(*) from serving.bi.{table}").fetchone()[0]
                tmp_parquet = parquet_dir / f".{table}.{token}.tmp"
                con.sql(f"copy bi.{table} to '{tmp_parquet}' (format parquet)")
                staged.append((tmp_parquet, parquet_dir / f"{table}.parquet"))
            con.sql("checkpoint serving")
            con.sql("detach serving")
        staged.append((tmp_db, serving_dir / SERVING_FILE))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        tmp_db.unlink(missing_ok=True)
        Path(f"{tmp_db}.wal").unlink(missing_ok=True)
    return counts
