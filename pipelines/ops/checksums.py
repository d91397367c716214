"""Content checksums of the published tables (serving DuckDB file and Parquet files).

A table's checksum is the md5 of its rows as text, sorted, so it does not depend on row order;
columns that hold the time of the run are left out (RUN_TIME_COLUMNS). The analytics output's
`customer_key` is a random UUID minted once per new customer (decision 0032), so two runs that
start from the same state give new customers different keys: given the run's key map (the
restricted output's `bi.customer_keys`), key columns are compared as the customer ids they stand
for.
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


KEY_COLUMNS = ("customer_key", "customer_key_seen")


def relation_checksum(con, relation: str, exclude=RUN_TIME_COLUMNS, key_map: str | None = None
                      ) -> str:
    """`key_map`: a relation (customer_id, customer_key) through which key columns are
    compared as customer ids."""
    described = con.sql(f"describe select * from {relation}").fetchall()
    cols = [r[0] for r in described if r[0] not in exclude]
    joins, values = [], []
    for c in cols:
        if key_map and c in KEY_COLUMNS:
            alias = f"k{len(joins)}"
            joins.append(f"left join {key_map} {alias} on {alias}.customer_key = t.{q(c)}")
            values.append(f"coalesce({alias}.customer_id, 'key:' || t.{q(c)})")
        else:
            values.append(f"t.{q(c)}")
    row = "concat_ws('|', " + ", ".join(
        f"coalesce(cast({v} as varchar), '<null>')" for v in values
    ) + ")"
    n, digest = con.sql(
        f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
        f"from (select {row} as r from {relation} t {' '.join(joins)})"
    ).fetchone()
    return f"{n}:{digest}"


def serving_checksums(serving_dir: Path, restricted_file: Path | None = None
                      ) -> dict[str, str]:
    """{'duckdb:<table>' | 'parquet:<table>': checksum} of everything published; with the
    restricted output of the same run, pseudonymous keys are compared as customer ids."""
    out: dict[str, str] = {}
    serving_file = serving_dir / SERVING_FILE
    key_map = None
    if restricted_file is not None and restricted_file.exists():
        key_map = "keys.bi.customer_keys"
    if serving_file.exists():
        with duckdb.connect(str(serving_file), read_only=True) as con:
            if key_map:
                con.sql(f"attach '{restricted_file}' as keys (read_only)")
            tables = [
                r[0]
                for r in con.sql(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'bi' and table_catalog = current_database() order by 1"
                ).fetchall()
            ]
            for t in tables:
                out[f"duckdb:{t}"] = relation_checksum(con, f"bi.{q(t)}", key_map=key_map)
    with duckdb.connect() as con:
        if key_map:
            con.sql(f"attach '{restricted_file}' as keys (read_only)")
        for p in sorted((serving_dir / "parquet").glob("*.parquet")):
            out[f"parquet:{p.stem}"] = relation_checksum(con, f"read_parquet('{p}')",
                                                         key_map=key_map)
    return out


def table_checksums(warehouse: Path, relations: list[str]) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r: relation_checksum(con, r) for r in relations}
