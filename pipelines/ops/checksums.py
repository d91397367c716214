"""Content checksums of the published tables (serving DuckDB file and Parquet files).

A table's checksum is the md5 of its rows as text, sorted, so it does not depend on row order;
columns that hold the time of the run are left out (RUN_TIME_COLUMNS).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.publish import SERVING_FILE

# columns whose value is the time or the model version of the run that wrote them, or what
# the previous run published (bi.customer_value.previous_value_tier / tier_change: NULL / 'new'
# on a first run, against the last tier after), not a function of the inputs
RUN_TIME_COLUMNS = frozenset({
    "_published_at", "published_at", "scored_at", "refreshed_at", "previous_value_tier",
    "tier_change", "model_version", "value_model_version", "churn_model_version",
    "model_run_id",
})


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def relation_checksum(con, relation: str, exclude=RUN_TIME_COLUMNS) -> str:
    described = con.sql(f"describe select * from {relation}").fetchall()
    cols = [r[0] for r in described if r[0] not in exclude]
    row = "concat_ws('|', " + ", ".join(
        f"coalesce(cast({q(c)} as varchar), '<null>')" for c in cols
    ) + ")"
    n, digest = con.sql(
        f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
        f"from (select {row} as r from {relation})"
    ).fetchone()
    return f"{n}:{digest}"


def serving_checksums(serving_dir: Path) -> dict[str, str]:
    """{'duckdb:<table>' | 'parquet:<table>': checksum} of everything published."""
    out: dict[str, str] = {}
    serving_file = serving_dir / SERVING_FILE
    if serving_file.exists():
        with duckdb.connect(str(serving_file), read_only=True) as con:
            tables = [
                r[0]
                for r in con.sql(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'bi' order by 1"
                ).fetchall()
            ]
            for t in tables:
                out[f"duckdb:{t}"] = relation_checksum(con, f"bi.{q(t)}")
    with duckdb.connect() as con:
        for p in sorted((serving_dir / "parquet").glob("*.parquet")):
            out[f"parquet:{p.stem}"] = relation_checksum(con, f"read_parquet('{p}')")
    return out


def table_checksums(warehouse: Path, relations: list[str]) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: relation_checksum(con, r) for r in relations}
