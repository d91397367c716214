"""Snapshot of the Dagster graph: catches accidental changes of keys, groups, jobs, pools."""

import pytest


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    import os

    os.environ.setdefault("C360_DATA_DIR", str(tmp_path_factory.mktemp("defs")))
    from pipelines.definitions import defs

    return defs


def test_asset_groups_follow_the_layers(defs):
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add("/".join(key.path))
    assert groups["raw"] == {
        f"raw/{n}"
        for n in (
            "crm__contacts",
            "crm__tickets",
            "crm__campaign_members",
            "shop__customers",
            "shop__orders",
            "shop__order_lines",
            "social__profiles",
            "social__interactions",
        )
    }
    assert groups["identity"] == {"identity/customer_map", "identity/customer_aliases",
                                  "identity/review_queue"}
    assert groups["ml"] == {
        "ml/customer_segments",
        "ml/customer_value",
        "ml/customer_churn",
        "ml/cross_sell_offers",
        "ml/product_prospects",
        "ml/product_affinity",
        "ml/retention_actions",
        "ml/retention_summary",
        "ml/churn_watch_list",
        "ml/model_drift",
        "ml/campaign_results",
        "ml/campaign_scores",
    }
    assert groups["serving"] == {"serving/customer360"}
    assert groups["privacy"] == {"privacy/erasure_requests"}
    assert {
        "marts/customers",
        "marts/customer_360",
        "marts/customer_features_weekly",
        "marts/orders",
        "marts/customer_identities",
    } <= groups["marts"]
    assert {
        "bi/customer_360",
        "bi/customer_segments",
        "bi/customer_value",
        "bi/customer_churn",
        "bi/customer_identities",
        "bi/customer_id_aliases",
        "bi/contact_eligibility",
        "bi/contactable_customers",
        "bi/contact_exclusions",
        "bi/cross_sell_offers",
        "bi/product_prospects",
        "bi/product_affinity",
        "bi/retention_actions",
        "bi/retention_summary",
        "bi/churn_watch_list",
        "bi/campaign_results",
        "bi/campaign_targets",
        "bi/retention_campaigns",
    } == groups["bi"]
    assert "staging/int_customer_records_unioned" in groups["staging"]


def test_layers_depend_one_way(defs):
    import dagster as dg

    graph = defs.resolve_asset_graph()
    order = ["raw", "reference", "staging", "identity", "marts", "ml", "bi", "serving", "privacy"]
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        for parent in node.parent_keys:
            assert order.index(graph.get(parent).group_name) <= order.index(node.group_name), (
                f"{key} depends on {parent}"
            )
    assert (
        dg.AssetKey(["identity", "customer_map"])
        in graph.get(dg.AssetKey(["marts", "customers"])).parent_keys
    )


def test_jobs_schedule_sensor_and_executor(defs):
    assert {j.name for j in defs.jobs} == {
        "weekly_refresh_job",
        "ingest_landing_job",
        "backfill_snapshots_job",
    }
    assert [s.name for s in defs.schedules] == ["weekly_refresh_job_schedule"]
    assert [s.name for s in defs.sensors] == ["landing_files_sensor"]
    job = defs.resolve_job_def("weekly_refresh_job")
    assert job.executor_def.name == "in_process"
    assert job.partitions_def is not None


def test_warehouse_writers_share_one_pool(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assets_def = graph.get(key).assets_def
        pools = {node.pool for node in assets_def.node_def.iterate_op_defs()}
        assert pools == {"duckdb_writer"}, key


def test_blocking_checks_guard_the_single_customer_view(defs):
    graph = defs.resolve_asset_graph()
    blocking = {
        (k.asset_key.to_user_string(), k.name)
        for k in graph.asset_check_keys
        if graph.get_check_spec(k).blocking
    }
    assert ("marts/customer_360", "ge_customer_360") in blocking
    assert ("identity/customer_map", "one_customer_per_record") in blocking


def test_every_blocking_quality_check_gates_a_later_step_and_the_publish_step(defs):
    """Dagster stops the *steps* downstream of a failed blocking check: a check whose asset's
    children are all built in the asset's own step (one dbt invocation) would stop nothing.
    Every blocking GE check must gate at least one other step (dbt models downstream of a
    Python asset included), and through them the publish step."""
    from dagster._core.execution.api import create_execution_plan

    plan = create_execution_plan(defs.resolve_job_def("weekly_refresh_job"))
    steps = list(plan.get_all_steps_in_topo_order())
    gated: dict[str, set[str]] = {}
    for step in steps:
        for inp in step.step_inputs:
            for upstream in inp.dependency_keys:
                gated.setdefault(upstream, set()).add(step.key)

    def reachable(key: str) -> set[str]:
        seen, todo = set(), [key]
        while todo:
            for nxt in gated.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    graph = defs.resolve_asset_graph()
    blocking_ge = [k for k in graph.asset_check_keys
                   if k.name.startswith("ge_") and graph.get_check_spec(k).blocking]
    assert len(blocking_ge) >= 15
    check_steps = [s.key for s in steps if "_ge_" in s.key]
    assert len(check_steps) == len(blocking_ge) + sum(
        1 for k in graph.asset_check_keys
        if k.name.startswith("ge_") and not graph.get_check_spec(k).blocking)
    for key in check_steps:
        assert gated.get(key), f"{key} gates no step"
        assert "serving__customer360" in reachable(key), key
    # a Python asset's check gates the dbt models downstream of it
    assert "dbt_marts" in gated["identity__customer_map_ge_identity_customer_map"]
    assert "dbt_bi" in gated["ml__customer_churn_ge_ml_customer_churn"]


def test_full_refresh_is_run_config_of_the_staging_and_marts_assets(defs):
    import dagster as dg

    from pipelines.defs.dbt import dbt_build_args
    from pipelines.demo import full_refresh_config

    assert "--full-refresh" not in dbt_build_args()
    assert "--full-refresh" in dbt_build_args(full_refresh=True)
    job = defs.resolve_job_def("weekly_refresh_job")
    assert dg.validate_run_config(job, full_refresh_config())
    with pytest.raises(dg.DagsterInvalidConfigError):  # the config names real ops
        dg.validate_run_config(job, {"ops": {"dbt_nothing": {"config": {"full_refresh": True}}}})


def test_concurrent_dbt_parses_leave_a_whole_manifest(defs, tmp_path, monkeypatch):
    """Two loads of the definitions at once (the test workers, `dagster dev`'s code server
    and runs) parse into private folders and move the manifest into place whole."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.defs.dbt import dbt_project, parse_manifest

    monkeypatch.chdir(tmp_path)  # dbt's target path is relative to the project, not the cwd
    before = dbt_project.manifest_path.stat().st_mtime_ns
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: parse_manifest(), range(2)))
    target = dbt_project.manifest_path.parent
    assert not any((target / folder).exists() for folder in folders)
    assert not (tmp_path / "target").exists()  # nothing relative to the working directory
    assert dbt_project.manifest_path.stat().st_mtime_ns > before
    manifest = json.loads(dbt_project.manifest_path.read_text())
    assert "model.customer360.customer_360" in manifest["nodes"]


def test_dbt_resource_starts_dbt_once_and_builds_no_adapter(defs, monkeypatch):
    """Decision 0100: no `dbt --version` subprocess and no dbt adapter in the step's process.
    The overridden methods must still exist in dagster-dbt, or the overrides do nothing."""
    from importlib.metadata import version

    import dagster_dbt.core.resource as dagster_dbt_resource
    from dagster_dbt import DbtCliResource

    from pipelines.defs.dbt import DbtCli, dbt_resource

    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource) and name in vars(DbtCli), name

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"started {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    resource = DbtCli(project_dir=dbt_resource.project_dir,
                      dbt_executable=dbt_resource.dbt_executable)
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
