"""Publish the BI tables in two kinds of output.

- Analytics (`<serving>/customer360.duckdb` and `<serving>/parquet/<table>.parquet`): for BI
  tools and analysts. Pseudonymous: `customer_id` is replaced by `customer_key` (a random UUID
  per customer, marts.customer_keys) and every column tagged `meta: {pii: true}` in the dbt
  project (names, emails, phones, addresses, birth dates, source record ids, ...) is left out.
  Plain DuckDB/Parquet so any BI driver reads it.
- Restricted (`<restricted>/customer360_full.duckdb`): the full 360° profile for authorised
  staff: every bi.* table as built plus the key map customer_id <-> customer_key. Encrypted
  when C360_ENCRYPTION_KEY is set.

Readers never open the working warehouse. The analytics output is switched as a set: each
publish writes a complete new version into `<serving>/versions/<version>/` (the DuckDB file
and `parquet/`), then swaps one symlink, `<serving>/current`, to it (os.replace of a symlink:
atomic on one filesystem). The paths BI tools use are fixed symlinks through `current`:
`<serving>/customer360.duckdb -> current/customer360.duckdb` and
`<serving>/parquet -> current/parquet`, so a reader (and a SIGKILL at any moment) sees the
previous set or the new one, never a mix, half a table or a lock error. The previous version
is kept for readers still reading it and removed by the next publish (at once by an erasure).
The restricted file is one file, written under a temporary name and os.replace'd after the
switch. Decision 0024.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

from pipelines.config import DBT_PROJECT_DIR
from pipelines.warehouse import attach_options, connect, table_exists

SERVING_FILE = "customer360.duckdb"
CURRENT = "current"  # symlink to the published version under versions/
VERSIONS = "versions"
RESTRICTED_FILE = "customer360_full.duckdb"
KEYS_TABLE = "marts.customer_keys"
# Always left out of the analytics output, whatever the dbt tags say (a safety net: the dbt
# `meta: {pii: true}` tags are the source of truth and are added to this set).
PII_NAMES = {
    "full_name", "first_name", "last_name", "name_key", "display_name", "handle",
    "email", "email_key", "phone", "mobile_phone", "phone_e164", "street", "postcode",
    "birth_date", "loyalty_card_number", "weibo_handle", "social_handle", "source_record_id",
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


def _symlink(target: str, link: Path) -> None:
    """Point `link` at `target` (relative) atomically: a new symlink renamed over it."""
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.tmp")
    os.symlink(target, tmp)
    os.replace(tmp, link)


def current_version(serving_dir: Path) -> str | None:
    link = serving_dir / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _ensure_fixed_links(serving_dir: Path) -> None:
    """The BI paths as symlinks through `current`. Before the first versioned publish they
    were a plain file and folder: the file is replaced atomically, the folder (not replaceable
    atomically) is moved aside and removed, a one-time gap of milliseconds."""
    db = serving_dir / SERVING_FILE
    if not db.is_symlink():
        _symlink(f"{CURRENT}/{SERVING_FILE}", db)
    parquet = serving_dir / "parquet"
    if not parquet.is_symlink():
        old = None
        if parquet.exists():
            old = serving_dir / f".parquet.{uuid.uuid4().hex[:8]}.old.tmp"
            parquet.rename(old)
        _symlink(f"{CURRENT}/parquet", parquet)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def prune_versions(serving_dir: Path, keep_previous: bool = True) -> list[str]:
    """Remove versions other than the current one and (with `keep_previous`) the newest one
    before it: earlier versions, and a version a killed publish left half-written."""
    versions_dir = serving_dir / VERSIONS
    if not versions_dir.is_dir():
        return []
    current = current_version(serving_dir)
    names = sorted(p.name for p in versions_dir.iterdir())
    keep = {current}
    if keep_previous and current is not None:
        older = [n for n in names if n < current]
        keep.update(older[-1:])
    removed = [n for n in names if n not in keep]
    for name in removed:
        shutil.rmtree(versions_dir / name, ignore_errors=True)
    return removed


def _next_stamp(serving_dir: Path) -> str:
    """A version name prefix that sorts after every existing version (pruning keeps the newest
    by name): local time to the microsecond, or after the newest name if the clock is not
    ahead of it (two publishes in one tick, a clock set back)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    versions_dir = serving_dir / VERSIONS
    newest = max((p.name for p in versions_dir.iterdir()), default="") \
        if versions_dir.is_dir() else ""
    return stamp if stamp > newest else newest.split("-")[0] + "1"


def _cleanup(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
        Path(f"{p}.wal").unlink(missing_ok=True)


def publish(serving_dir: Path, restricted_dir: Path | None = None,
            pii: set[str] | None = None, keep_previous: bool = True) -> dict[str, int]:
    """Write the analytics output (and the restricted one when `restricted_dir` is given);
    returns rows per table. `keep_previous=False` removes every earlier version at once (an
    erasure must leave no copy of the erased rows)."""
    pii = pii_columns() if pii is None else pii
    serving_dir.mkdir(parents=True, exist_ok=True)
    # a publish killed before its cleanup (SIGKILL, power loss) leaves temporary files and a
    # half-written version; only one publish runs at a time (writer pool), so they are garbage
    for stale in serving_dir.glob(".*.tmp*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    prune_versions(serving_dir)
    version = f"{_next_stamp(serving_dir)}-{uuid.uuid4().hex[:8]}"
    version_dir = serving_dir / VERSIONS / version
    parquet_dir = version_dir / "parquet"
    parquet_dir.mkdir(parents=True)
    new_db = version_dir / SERVING_FILE
    tmp_full = None
    if restricted_dir is not None:
        restricted_dir.mkdir(parents=True, exist_ok=True)
        for stale in restricted_dir.glob(f".{RESTRICTED_FILE}.*.tmp*"):
            stale.unlink(missing_ok=True)
        tmp_full = restricted_dir / f".{RESTRICTED_FILE}.{version}.tmp"
    counts: dict[str, int] = {}
    switched = False
    try:
        with connect(read_only=True) as con:
            tables = bi_tables(con)
            has_keys = table_exists(con, "marts", "customer_keys")
            selects = {t: analytics_select(con, t, pii, has_keys) for t in tables}
            # the analytics file is never encrypted: BI drivers must open it
            con.sql(f"attach '{new_db}' as serving (read_only false)")
            con.sql("create schema serving.bi")
            for table in tables:
                con.sql(f"create table serving.bi.{table} as {selects[table]}")
                counts[table] = con.sql(f"select count(*) from serving.bi.{table}").fetchone()[0]
                con.sql(f"copy serving.bi.{table} to '{parquet_dir / table}.parquet' "
                        "(format parquet)")
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
        Path(f"{new_db}.wal").unlink(missing_ok=True)
        # the switch: one atomic rename makes the whole new set current
        _symlink(f"{VERSIONS}/{version}", serving_dir / CURRENT)
        switched = True
        _ensure_fixed_links(serving_dir)
        if tmp_full is not None:
            _swap([(tmp_full, restricted_dir / RESTRICTED_FILE)])
    finally:
        if not switched:
            shutil.rmtree(version_dir, ignore_errors=True)
        if tmp_full is not None:
            _cleanup(tmp_full)
    prune_versions(serving_dir, keep_previous=keep_previous)
    return counts


def publish_all(keep_previous: bool = True) -> dict[str, int]:
    from pipelines.config import settings

    s = settings()
    return publish(s.serving_dir, s.restricted_dir, keep_previous=keep_previous)
