"""Shared Dagster pieces: the warehouse writer pool, weekly partitions, owners."""

import dagster as dg

from pipelines.config import settings

# DuckDB has one writer at a time: every asset that writes the warehouse uses this pool, and
# the instance (dagster.yaml) limits every pool to one step at a time.
WAREHOUSE_POOL = "duckdb_writer"
OWNERS = ["team:data-engineering"]
# logged once per dbt run of a snapshot build (decision 0081); `make bench` counts them
SNAPSHOT_BUILD_LOG = "building weekly snapshots"

# Weeks run Monday..Sunday (day_offset=1 matches DuckDB's date_trunc('week')); a partition's
# snapshot is as of the end of its Sunday.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=settings().snapshot_start, day_offset=1
)


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines)
