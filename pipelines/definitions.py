"""The Dagster definitions of customer360 (loaded by workspace.yaml and by `make demo`)."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.automation import (
    backfill_snapshots_job,
    ingest_landing_job,
    landing_files_sensor,
    weekly_refresh_job,
    weekly_refresh_job_schedule,
)
from pipelines.defs.campaigns import campaign_assets
from pipelines.defs.dbt import dbt_bi, dbt_features, dbt_marts, dbt_resource, dbt_staging
from pipelines.defs.identity import identity_resolution
from pipelines.defs.ingestion import ingestion_assets
from pipelines.defs.ml import ml_assets
from pipelines.defs.privacy import erasure_requests
from pipelines.defs.quality import ge_checks
from pipelines.defs.serving import serving_files

defs = dg.Definitions(
    assets=[
        *ingestion_assets,
        dbt_staging,
        identity_resolution,
        dbt_marts,
        dbt_features,
        *ml_assets,
        *campaign_assets,
        dbt_bi,
        serving_files,
        erasure_requests,
    ],
    asset_checks=ge_checks,
    jobs=[weekly_refresh_job, ingest_landing_job, backfill_snapshots_job],
    schedules=[weekly_refresh_job_schedule],
    sensors=[landing_files_sensor],
    resources={"dbt": dbt_resource},
    # Steps run one after another in the run's process: on 2 cores the multiprocess executor
    # costs 5-7 s per step and the warehouse has a single writer anyway.
    executor=dg.in_process_executor,
)
