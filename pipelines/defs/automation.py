"""Jobs, the weekly schedule and the landing-folder sensor."""

import hashlib
import os
from pathlib import Path

import dagster as dg

from pipelines.config import settings
from pipelines.defs.common import weekly_partitions

# Run timeout: `make demo` (20,000 people) takes 4-5 min here and a run of 1,500 people
# 2.5-3.5 min (docs/benchmarks.md); 2 hours leaves room for much more data before a hung run
# is stopped by run monitoring. Override with C360_MAX_RUNTIME_SECONDS.
MAX_RUNTIME_SECONDS = int(os.environ.get("C360_MAX_RUNTIME_SECONDS", "7200"))

weekly_refresh_job = dg.define_asset_job(
    "weekly_refresh_job",
    selection=dg.AssetSelection.all(),
    tags={"dagster/max_runtime": str(MAX_RUNTIME_SECONDS)},
    description="Full weekly refresh: ingest new exports, rebuild the single customer view, "
    "the week's feature snapshot, all models and scores, and publish the BI files.",
)

ingest_landing_job = dg.define_asset_job(
    "ingest_landing_job",
    selection=dg.AssetSelection.groups("raw"),
    tags={"dagster/max_runtime": str(MAX_RUNTIME_SECONDS // 4)},
    description="Load new or changed landing files into raw.* (idempotent).",
)

backfill_snapshots_job = dg.define_asset_job(
    "backfill_snapshots_job",
    selection=dg.AssetSelection.assets(dg.AssetKey(["marts", "customer_features_weekly"])),
    description="(Re)build weekly feature snapshots for a range of weeks; launch it as a "
    "backfill over the weeks you need (one dbt run for the whole range).",
)

SCHEDULE_CRON = (
    f"0 {int(os.environ.get('C360_SCHEDULE_HOUR', '6'))} * * "
    f"{int(os.environ.get('C360_SCHEDULE_DAY_OF_WEEK', '1'))}"
)


@dg.schedule(
    name="weekly_refresh_job_schedule",
    job=weekly_refresh_job,
    cron_schedule=SCHEDULE_CRON,
    execution_timezone=os.environ.get("C360_SCHEDULE_TZ", "UTC"),
    description="Every week (default Monday 06:00 UTC) refresh everything for the week that just "
    "closed. Configure with C360_SCHEDULE_DAY_OF_WEEK (0=Sunday), C360_SCHEDULE_HOUR and "
    "C360_SCHEDULE_TZ.",
)
def weekly_refresh_job_schedule(context: dg.ScheduleEvaluationContext):
    key = weekly_partitions.get_last_partition_key(current_time=context.scheduled_execution_time)
    if key is None:
        return dg.SkipReason("no complete week yet")
    return dg.RunRequest(run_key=key, partition_key=key)


def landing_fingerprint(landing_dir: Path) -> str:
    """Changes whenever a landing file is added, removed or rewritten."""
    if not landing_dir.exists():
        return ""
    entries = sorted(
        f"{p.relative_to(landing_dir)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in landing_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


@dg.sensor(
    job=ingest_landing_job,
    minimum_interval_seconds=60,
    description="Watches the landing folders and loads new or changed export files.",
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    fingerprint = landing_fingerprint(settings().landing_dir)
    if not fingerprint or fingerprint == context.cursor:
        return dg.SkipReason("no new or changed landing files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)
