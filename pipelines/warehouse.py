"""Short-lived DuckDB connections to the warehouse.

DuckDB allows one read-write process at a time, and a connection leaked in this process makes
the dbt subprocess fail on the file lock: open connections only in `with` blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.config import settings

SCHEMAS = ("raw", "staging", "identity", "marts", "ml", "bi")


@contextmanager
def connect(
    path: Path | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    s = settings()
    path = path or s.warehouse_path
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={"memory_limit": s.duckdb_memory_limit, "threads": s.duckdb_threads},
    )
    try:
        con.sql("set TimeZone = 'UTC'")
        if not read_only:
            for schema in SCHEMAS:
                con.sql(f"create schema if not exists {schema}")
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.sql(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            params=[schema, table],
        ).fetchone()[0]
    )
