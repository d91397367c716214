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
