"""File registry: which landing file was loaded, as which batch, with what counts.

Loading is idempotent: a file whose path and sha256 are already registered as loaded is
skipped; a file whose content changed is a new batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DDL = [
    """create table if not exists raw.file_registry (
        path varchar not null,
        contract varchar not null,
        size_bytes bigint not null,
        sha256 varchar not null,
        batch_id varchar not null,
        status varchar not null,      -- loaded | failed
        rows_read bigint,
        rows_loaded bigint,
        rows_quarantined bigint,
        error varchar,
        loaded_at timestamptz not null,
        warnings varchar              -- e.g. an optional column missing, a changed file
    )""",
    # rows skipped because they carry an erased person's identifier (suppression list), and
    # rows of the file removed later by an erasure: read = loaded + quarantined + suppressed;
    # in the raw table = loaded - erased
    "alter table raw.file_registry add column if not exists rows_suppressed bigint default 0",
    "alter table raw.file_registry add column if not exists rows_erased bigint default 0",
    "alter table raw.file_registry add column if not exists quarantine_erased bigint default 0",
    # warehouses created before the column existed
    "alter table raw.file_registry add column if not exists warnings varchar",
    """create table if not exists raw.quarantine (
        contract varchar not null,
        _source_file varchar not null,
        _source_row bigint,
        _batch_id varchar not null,
        _ingested_at timestamptz not null,
        reason varchar not null,
        original_text varchar
    )""",
]


def ensure_tables(con) -> None:
    for ddl in DDL:
        con.sql(ddl)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def already_loaded(con, path: Path, sha256: str, landing_dir: Path) -> bool:
    """Was this content loaded from this file, or from the same place under the landing
    folder (`landing_dir`)? A data folder moved or mounted elsewhere is not loaded again."""
    return bool(
        con.sql(
            "select count(*) from raw.file_registry where sha256 = ? and status = 'loaded' "
            "and ends_with(path, ?)",
            params=[sha256, f"/{path.relative_to(landing_dir)}"],
        ).fetchone()[0]
    )


def loaded_batches(con, path: Path) -> list[str]:
    """Batches of earlier versions of this path, oldest first."""
    return [
        r[0]
        for r in con.sql(
            "select batch_id from raw.file_registry where path = ? and status = 'loaded' "
            "order by loaded_at",
            params=[str(path)],
        ).fetchall()
    ]


def record(
    con,
    *,
    path: Path,
    contract: str,
    sha256: str,
    batch_id: str,
    status: str,
    rows_read=None,
    rows_loaded=None,
    rows_quarantined=None,
    error=None,
    rows_suppressed=0,
    warnings=None,
    size_bytes=None,
) -> None:
    con.sql(
        "insert into raw.file_registry (path, contract, size_bytes, sha256, batch_id, status, "
        "rows_read, rows_loaded, rows_quarantined, error, loaded_at, rows_suppressed, "
        "rows_erased, quarantine_erased, warnings) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, 0, 0, ?)",
        params=[
            str(path),
            contract,
            path.stat().st_size if size_bytes is None else size_bytes,
            sha256,
            batch_id,
            status,
            rows_read,
            rows_loaded,
            rows_quarantined,
            error,
            rows_suppressed,
            warnings,
        ],
    )
