"""`make demo`: generate sample exports and materialise every asset through Dagster.

Runs the same definitions the UI loads (workspace.yaml -> pipelines.definitions), in the
persistent instance under the data directory, so `make ui` shows the run afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

from pipelines.config import settings
from pipelines.instance import fail_orphaned_runs, prepare_instance

SNAPSHOT_WEEKS = 60  # weekly feature snapshots the churn model trains and validates on


def last_complete_sunday(today: date) -> date:
    return today - timedelta(days=today.weekday() + 1)


def snapshot_range(end_sunday: date, weeks: int = SNAPSHOT_WEEKS) -> tuple[str, str]:
    """First and last weekly partition keys (Mondays) ending with the week of `end_sunday`."""
    last_monday = end_sunday - timedelta(days=6)
    return (last_monday - timedelta(weeks=weeks - 1)).isoformat(), last_monday.isoformat()


def full_refresh_config() -> dict:
    """Run config that rebuilds the incremental staging and marts models from raw
    (`dbt build --full-refresh`, decision 0062)."""
    return {"ops": {op: {"config": {"full_refresh": True}} for op in ("dbt_staging", "dbt_marts")}}


def run_pipeline(end_sunday: date, weeks: int = SNAPSHOT_WEEKS, full_refresh: bool = False):
    """Materialise every asset in one run, with the weekly snapshots of the last `weeks`."""
    import dagster as dg

    from pipelines.definitions import defs

    first, last = snapshot_range(end_sunday, weeks)
    job = defs.resolve_job_def("weekly_refresh_job")
    instance = dg.DagsterInstance.get()
    for run_id in fail_orphaned_runs(instance):
        print(f"run {run_id} had been killed: marked failed, its warehouse slot freed")
    return job.execute_in_process(
        run_config=full_refresh_config() if full_refresh else None,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
            "customer360/run": "demo",
        },
        raise_on_error=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=last_complete_sunday(date.today())
    )
    parser.add_argument("--regenerate", action="store_true", help="rewrite the sample exports")
    parser.add_argument("--weeks", type=int, default=SNAPSHOT_WEEKS,
                        help="weekly feature snapshots to (re)build, ending with this week")
    parser.add_argument("--full-refresh", action="store_true",
                        help="rebuild the incremental staging and marts models from raw")
    args = parser.parse_args(argv)

    prepare_instance()
    s = settings()
    t0 = time.perf_counter()
    if args.regenerate or not any(s.landing_dir.rglob("*.*")):
        from pipelines.sample_data import generate

        generate(s.data_dir, customers=args.customers, seed=args.seed, end_date=args.end_date)
        print(f"sample exports written to {s.landing_dir} in {time.perf_counter() - t0:.0f} s")
        time.sleep(s.landing_settle_seconds)  # ingestion leaves files younger than this
    t1 = time.perf_counter()
    result = run_pipeline(args.end_date, args.weeks, args.full_refresh)
    print(
        f"Dagster run {result.run_id}: {'success' if result.success else 'FAILED'} "
        f"in {time.perf_counter() - t1:.0f} s"
    )
    if not result.success:
        for event in result.all_events:
            if event.is_failure:
                print(f"  {event.step_key}: {event.message}", file=sys.stderr)
        return 1
    from pipelines.summary import render

    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
