"""A short summary of what a run produced: rows per layer, customers, identity quality."""

from __future__ import annotations

import pandas as pd

from pipelines.config import settings
from pipelines.identity.evaluate import pairwise_scores
from pipelines.warehouse import connect, encryption_status


def rows_per_table(con) -> pd.DataFrame:
    tables = con.sql(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw', 'staging', 'identity', 'marts', 'ml', 'bi') "
        "and table_catalog = current_database() "
        "and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    return pd.DataFrame(
        [(s, t, con.sql(f'select count(*) from {s}."{t}"').fetchone()[0]) for s, t in tables],
        columns=["schema", "table", "rows"],
    )


def identity_quality(con) -> dict | None:
    """Pairwise precision/recall against the generator's ground truth, when it exists."""
    truth_file = settings().truth_dir / "person_map.csv"
    if not truth_file.exists():
        return None
    truth = pd.read_csv(truth_file, dtype=str)
    predicted = con.sql(
        "select source_system, source_record_id, customer_id from identity.customer_map"
    ).df()
    return pairwise_scores(predicted, truth)


def render() -> str:
    s = settings()
    with connect(read_only=True) as con:
        rows = rows_per_table(con)
        quality = identity_quality(con)
    lines = ["", "customer360 — run summary", "=" * 26, ""]
    for schema, group in rows.groupby("schema", sort=False):
        lines.append(f"{schema}:")
        lines += [f"  {t:<36} {n:>12,}" for t, n in zip(group["table"], group["rows"])]
    if quality:
        lines += [
            "",
            f"identity: {quality['records']:,} source records -> {quality['customers']:,} "
            f"customers (true persons: {quality['persons']:,})",
            f"  pairwise precision {quality['precision']:.4f}, recall {quality['recall']:.4f}, "
            f"F1 {quality['f1']:.4f}; B-cubed F1 {quality['bcubed_f1']:.4f}",
        ]
    lines += [
        "",
        f"warehouse     {s.warehouse_path}",
        f"serving file  {s.serving_dir / 'customer360.duckdb'} (analytics: pseudonymous "
        "customer_key, no PII; open read-only)",
        f"parquet       {s.serving_dir / 'parquet'} (analytics, as above)",
        f"restricted    {s.restricted_dir / 'customer360_full.duckdb'} (full profile, "
        "authorised staff only)",
        encryption_status(),
        "Dagster UI    make ui        -> http://127.0.0.1:3000",
        "MLflow UI     make mlflow-ui -> http://127.0.0.1:5000",
    ]
    return "\n".join(lines)
