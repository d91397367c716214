"""The suppression list: salted hashes of the identifiers of erased people.

Kept as a CSV file next to the warehouse (`<data>/privacy/suppression_list.csv`, columns
kind, hash, request_id, added_at) so it survives a rebuild of the warehouse; it holds no
erased value. The loader skips (and counts) every incoming row carrying a listed identifier,
so re-ingesting the original exports does not bring an erased person back.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from pipelines.config import settings
from pipelines.privacy.identifiers import IDENTIFYING_COLUMNS, identifier_hash
from pipelines.privacy.secrets import privacy_salt

FIELDS = ["kind", "hash", "request_id", "added_at"]


def list_path() -> Path:
    return settings().privacy_dir / "suppression_list.csv"


def read_hashes(path: Path | None = None) -> set[str]:
    path = path or list_path()
    if not path.exists():
        return set()
    with path.open(newline="", encoding="utf-8") as f:
        return {row["hash"] for row in csv.DictReader(f)}


def add(entries: Iterable[tuple[str, str]], request_id: str, path: Path | None = None) -> int:
    """Append (kind, hash) entries not yet listed; returns how many were new. Written to a
    temporary file and moved into place."""
    path = path or list_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = []
    if path.exists():
        with path.open(newline="", encoding="utf-8") as f:
            existing = list(csv.DictReader(f))
    known = {r["hash"] for r in existing}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new = [{"kind": k, "hash": h, "request_id": request_id, "added_at": now}
           for k, h in sorted(set(entries)) if h not in known]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".suppression.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(existing + new)
    os.replace(tmp, path)
    return len(new)


def register_hash_udf(con, salt: bytes) -> None:
    """c360_privacy_hash(kind, value, region): the salted hash of a normalised identifier."""
    from duckdb import sqltypes as t

    def fn(kind, value, region):
        return identifier_hash(kind, value, region, salt)

    try:
        con.remove_function("c360_privacy_hash")
    except Exception:  # noqa: BLE001 - not registered yet on this connection
        pass
    con.create_function("c360_privacy_hash", fn, [t.VARCHAR, t.VARCHAR, t.VARCHAR], t.VARCHAR,
                        null_handling="special")


def load_into(con, hashes: set[str], table: str = "_suppression") -> None:
    con.register("_suppression_arrow", pa.table({"hash": pa.array(sorted(hashes), pa.string())}))
    con.sql(f"create or replace temp table {table} as select hash from _suppression_arrow")
    con.unregister("_suppression_arrow")


def column_expr(column: str) -> str:
    return f'cast("{column}" as varchar)'


def match_sql(columns: Iterable[str], region_column: str | None, default_region: str,
              expr=column_expr) -> str:
    """SQL condition: the row carries a suppressed identifier (needs c360_privacy_hash and the
    temp table _suppression on the connection). `expr` gives the SQL of a column's value."""
    region = f"coalesce({expr(region_column)}, '{default_region}')" if region_column else \
        f"'{default_region}'"
    parts = [
        f"c360_privacy_hash('{IDENTIFYING_COLUMNS[c]}', {expr(c)}, {region}) "
        "in (select hash from _suppression)"
        for c in sorted(columns) if c in IDENTIFYING_COLUMNS
    ]
    return " or ".join(parts) if parts else "false"


def active(con) -> bool:
    """Load the suppression list on `con` when there is one; False when it is empty."""
    hashes = read_hashes()
    if not hashes:
        return False
    register_hash_udf(con, privacy_salt(required=True))
    load_into(con, hashes)
    return True
