"""Operations settings: capped run retries, run monitoring, run timeouts."""

import dagster as dg

from pipelines.instance import TEMPLATE


def test_instance_retries_crashed_runs_once_and_monitors_runs(tmp_path):
    (tmp_path / "dagster.yaml").write_text(TEMPLATE.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 1
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["max_resume_run_attempts"] == 0


def test_jobs_carry_a_run_timeout():
    from pipelines.definitions import defs

    for name in ("weekly_refresh_job", "ingest_landing_job"):
        tags = defs.resolve_job_def(name).tags
        assert int(tags["dagster/max_runtime"]) >= 600, name


def test_a_killed_run_is_marked_failed_and_frees_the_writer_pool(tmp_path):
    """SIGKILL a run while one of its steps holds the duckdb_writer slot: without clean-up
    the next run would wait for the pool forever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from pipelines.instance import fail_orphaned_runs

    (tmp_path / "dagster.yaml").write_text(TEMPLATE.read_text())
    script = tmp_path / "job.py"
    script.write_text(
        "import time\nimport dagster as dg\n"
        "@dg.asset(pool='duckdb_writer')\ndef slow():\n    time.sleep(120)\n"
        "dg.materialize([slow], instance=dg.DagsterInstance.get())\n"
    )
    # the instance (and its run storage) is created before the run starts: opening it while
    # the other process creates the storage raced with dagster's data migration of runs
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        proc = subprocess.Popen([sys.executable, str(script)],
                                env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
                                start_new_session=True)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
                if info.active_run_ids:
                    break
                time.sleep(0.5)
            [run_id] = info.active_run_ids
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
            assert fail_orphaned_runs(instance) == [run_id]
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
            assert not info.active_run_ids
            assert fail_orphaned_runs(instance) == []  # nothing left to do
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
