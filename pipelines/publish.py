"""Publish the BI tables in two kinds of output.

- Analytics (`<serving>/customer360.duckdb` and `<serving>/parquet/<table>.parquet`): for BI
  tools and analysts. Pseudonymous: `customer_id` is replaced by `customer_key` (a random UUID
  per customer, marts.customer_keys) and every column tagged `meta: {pii: true}` in the dbt
  project (names, emails, phones, addresses, birth dates, source record ids, ...) is left out.
  Plain DuckDB/Parquet so any BI driver reads it.
- Restricted (`<restricted>/customer360_full.duckdb`): the full 360° profile for authorised
  staff: every bi.* table as built plus the key map customer_id <-> customer_key. Encrypted
  when C360_ENCRYPTION_KEY is set.

Readers never open the working warehouse. Everything is written under a temporary name next
to its final place, then moved over it with os.replace (atomic on one filesystem), so a reader
sees either the previous tables or the new ones, never half a table or a lock error.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from pipelines.config import DBT_PROJECT_DIR
from pipelines.warehouse import attach_options, connect, table_exists

SERVING_FILE = "customer360.duckdb"
RESTRICTED_FILE = "customer360_full.duckdb"
KEYS_TABLE = "marts.customer_keys"
# Always left out of the analytics output, whatever the dbt tags say (a safety net: the dbt
# `meta: {pii: true}` tags are the source of truth and are added to this set).
PII_NAMES = {
    "full_name", "first_name", "last_name", "name_key", "display_name", "handle",
    "email", "email_key", "phone", "mobile_phone", "phone_e164", "street", "postcode",
    "birth_date", "loyalty_card_number", "weibo_handle", "source_record_id",
    "crm_contact_id", "shop_customer_id", "social_profile_id", "consent_source_record_id",
}  # fmt: skip
# customer id columns -> their pseudonymous name in the analytics output
ID_COLUMNS = {"customer_id": "customer_key", "customer_id_seen": "customer_key_seen"}


def pii_columns(manifest: Path | None = None) -> set[str]:
    """Column names tagged pii in any dbt model or source (meta or config.meta), plus
    PII_NAMES."""
    manifest = manifest or DBT_PROJECT_DIR / "target" / "manifest.json"
    names = set(PII_NAMES)
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for node in [*data.get("nodes", {}).values(), *data.get("sources", {}).values()]:
            for col in node.get("columns", {}).values():
                meta = {**col.get("meta", {}), **col.get("config", {}).get("meta", {})}
                if meta.get("pii"):
                    names.add(col["name"])
    return names


def bi_tables(con) -> list[str]:
    return [
        r[0]
        for r in con.sql(
            "select table_name from information_schema.tables where table_schema = 'bi' "
            "and table_catalog = current_database() and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]


def columns_of(con, table: str) -> list[str]:
    return [r[0] for r in con.sql(f"describe bi.{table}").fetchall()]


def analytics_select(con, table: str, pii: set[str], has_keys: bool) -> str:
    """SELECT of one bi table for the analytics output: ids -> keys, PII left out."""
    cols = columns_of(con, table)
    select, joins = [], []
    for i, col in enumerate(cols):
        if col in ID_COLUMNS:
            if not has_keys:
                raise RuntimeError(f"{KEYS_TABLE} is missing: cannot pseudonymise bi.{table}")
            joins.append(f"left join {KEYS_TABLE} k{i} on k{i}.customer_id = t.{col}")
            select.append(f"k{i}.customer_key as {ID_COLUMNS[col]}")
        elif col not in pii:
            select.append(f't."{col}"')
    return f"select {', '.join(select)} from bi.{table} t {' '.join(joins)}"


def _swap(staged: list[tuple[Path, Path]]) -> None:
    for tmp, final in staged:
        os.replace(tmp, final)


def _cleanup(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
        Path(f"{p}.wal").unlink(missing_ok=True)


def publish(serving_dir: Path, restricted_dir: Path | None = None,
            pii: set[str] | None = None) -> dict[str, int]:
    """Write the analytics output (and the restricted one when `restricted_dir` is given);
    returns rows per table."""
    pii = pii_columns() if pii is None else pii
    serving_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = serving_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    # a publish killed before its cleanup (SIGKILL, power loss) leaves its temporary files;
    # only one publish runs at a time (writer pool), so any left now are garbage
    for stale in [*serving_dir.glob(".*.tmp*"), *parquet_dir.glob(".*.tmp")]:
        stale.unlink(missing_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp_db = serving_dir / f".{SERVING_FILE}.{token}.tmp"
    tmp_full = None
    if restricted_dir is not None:
        restricted_dir.mkdir(parents=True, exist_ok=True)
        tmp_full = restricted_dir / f".{RESTRICTED_FILE}.{token}.tmp"
    staged: list[tuple[Path, Path]] = []
    counts: dict[str, int] = {}
    try:
        with connect(read_only=True) as con:
            tables = bi_tables(con)
            has_keys = table_exists(con, "marts", "customer_keys")
            selects = {t: analytics_select(con, t, pii, has_keys) for t in tables}
            # the analytics file is never encrypted: BI drivers must open it
            con.sql(f"attach '{tmp_db}' as serving (read_only false)")
            con.sql("create schema serving.bi")
            for table in tables:
                con.sql(f"create table serving.bi.{table} as {selects[table]}")
                counts[table] = con.sql(f"select count(*) from serving.bi.{table}").fetchone()[0]
                tmp_parquet = parquet_dir / f".{table}.{token}.tmp"
                con.sql(f"copy serving.bi.{table} to '{tmp_parquet}' (format parquet)")
                staged.append((tmp_parquet, parquet_dir / f"{table}.parquet"))
            con.sql("checkpoint serving")
            con.sql("detach serving")
            if tmp_full is not None:
                con.sql(f"attach '{tmp_full}' as restricted {attach_options()}")
                con.sql("create schema restricted.bi")
                for table in tables:
                    con.sql(f"create table restricted.bi.{table} as select * from bi.{table}")
                if has_keys:
                    con.sql(f"create table restricted.bi.customer_keys as "
                            f"select customer_id, customer_key from {KEYS_TABLE}")
                con.sql("checkpoint restricted")
                con.sql("detach restricted")
        staged.append((tmp_db, serving_dir / SERVING_FILE))
        if tmp_full is not None:
            staged.append((tmp_full, restricted_dir / RESTRICTED_FILE))
        _swap(staged)
    finally:
        _cleanup(*(tmp for tmp, _ in staged), tmp_db, *([tmp_full] if tmp_full else []))
    return counts


def publish_all() -> dict[str, int]:
    from pipelines.config import settings

    s = settings()
    return publish(s.serving_dir, s.restricted_dir)
