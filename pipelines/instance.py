"""Prepare the persistent Dagster instance under the data directory ($DAGSTER_HOME)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.config import export_env, settings

TEMPLATE = Path(__file__).with_name("dagster.yaml")


def prepare_instance() -> Path:
    """Create $DAGSTER_HOME with the project's dagster.yaml (pool limit 1) if missing."""
    export_env()
    home = settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphaned_runs(instance) -> list[str]:
    """Runs still marked in progress whose process is gone (SIGKILL, power loss, OOM) are
    marked failed and their slots in the `duckdb_writer` pool are freed. Without this the
    killed run keeps its slot and the next run waits for the pool forever; the daemon's run
    monitoring does the same for runs it launched, but `make demo` runs without a daemon.
    Only runs whose recorded process ids are all dead on this machine are touched."""
    import dagster as dg

    in_progress = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                   dg.DagsterRunStatus.CANCELING]
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=in_progress)):
        pids = {
            e.dagster_event.pid
            for e in instance.all_logs(run.run_id)
            if e.dagster_event is not None and e.dagster_event.pid
        }
        if not pids or any(_alive(pid) for pid in pids):
            continue
        instance.report_run_failed(
            run,
            message=f"The process of this run (pid {', '.join(map(str, sorted(pids)))}) is gone: "
            "it was killed or crashed. Marked failed and its duckdb_writer slot freed; the "
            "next run redoes its work (ingestion is idempotent, publishing atomic).",
        )
        failed.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
    return failed


if __name__ == "__main__":
    prepare_instance()
