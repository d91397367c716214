"""dbt assets: staging, marts, weekly features (partitioned) and BI marts."""

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging.version import Version

from pipelines.config import DBT_PROJECT_DIR, export_env, settings
from pipelines.defs.common import OWNERS, SNAPSHOT_BUILD_LOG, WAREHOUSE_POOL, weekly_partitions
from pipelines.quality.dbt_tests import describe_dbt_test
from pipelines.warehouse import connect, table_exists

export_env()
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=settings().dbt_target
)


class DbtCli(DbtCliResource):
    """dagster-dbt's resource without two costs in the step's process that buy us nothing
    (decision 0100): it asks the executable for its version with `dbt --version` (5 s: a
    second start of dbt), and it builds a dbt adapter, used only by the row-count and column
    metadata fetches, which this project does not call (1-7 s per build)."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))  # the executable below is this venv's dbt

    def _initialize_dbt_core_adapter(self, args):
        return None  # dagster-dbt then runs dbt without an adapter handle, as for dbt Fusion


# dbt from this virtualenv, also when the venv is not activated (e.g. `make demo`).
dbt_resource = DbtCli(
    project_dir=dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt")
)


def parse_manifest() -> str:
    """`dbt parse` into a private folder, then move its files into `target/`, the manifest
    last: processes that load the definitions at once (`dagster dev`'s code server and its
    runs, the test workers) never read a manifest another one is still writing. Returns the
    private folder's name (removed by then)."""
    target = dbt_project.manifest_path.parent  # (target_path is relative to the project)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=target) as name:
        tmp = Path(name)
        # dagster-dbt seeds `tmp` with target/partial_parse.msgpack: dbt re-parses only edits
        dbt_resource.cli(["parse", "--quiet"], target_path=tmp).wait()
        for file in ("partial_parse.msgpack", "semantic_manifest.json", "manifest.json"):
            if (tmp / file).exists():
                os.replace(tmp / file, target / file)
        return tmp.name


# The manifest is parsed on first use, and on every load under `dagster dev` so edits show.
if os.environ.get("DAGSTER_IS_DEV_CLI") or not dbt_project.manifest_path.exists():
    parse_manifest()

LAYER_GROUPS = {"staging": "staging", "intermediate": "staging", "marts": "marts", "bi": "bi"}


class Translator(DagsterDbtTranslator):
    """Asset keys are [schema, table] (e.g. marts/customers); groups follow the layers."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props["config"].get("schema") or "main"
        name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return dg.AssetKey([schema, name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props["fqn"]
        return LAYER_GROUPS.get(fqn[1], "marts") if len(fqn) > 2 else "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return OWNERS

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt tests as checks that say in words what they assert (see the UI)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        return dg.AssetCheckSpec(
            name=spec.name, asset=spec.asset_key, additional_deps=spec.additional_deps,
            blocking=spec.blocking, metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            description=describe_dbt_test(test))


translator = Translator()
FEATURES = "customer_features_weekly"


class DbtBuildConfig(dg.Config):
    """Run config of the staging and marts assets. Their models are incremental (decision
    0062): a weekly run processes only new and changed rows. `full_refresh` rebuilds them
    from raw (`dbt build --full-refresh`), e.g. after a change of a model's SQL, of a UDF or
    of the fx_rates seed."""

    full_refresh: bool = False


def dbt_build_args(full_refresh: bool = False) -> list[str]:
    """The dbt command of every dbt asset: build (models and their tests); dagster-dbt adds
    the selection of the assets being materialised."""
    # buildable: a test that also reads an upstream model (e.g. a reconciliation against
    # staging) runs with the model it is attached to, not with the upstream one.
    args = ["build", "--indirect-selection", "buildable"]
    if full_refresh:
        args.append("--full-refresh")
    return args


PARSE_STATE = "partial_parse.msgpack"


def parse_state_file() -> Path:
    """dbt's partial-parse state of the last dbt build on this warehouse. dbt parses the whole
    project again (about 6 s more per build) when the saved state's profile differs, and the
    profile holds the warehouse's path: so the state is kept per warehouse, beside it
    (decision 0098)."""
    return settings().warehouse_path.parent / "dbt_partial_parse.msgpack"


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in os.environ (which dagster-dbt passes to dbt) inside the block."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource,
              dbt_env: Mapping[str, str] | None = None, full_refresh: bool = False
              ) -> DbtCliInvocation:
    """Start the dbt build of the assets being materialised, in a private target folder seeded
    with this warehouse's parse state, with `dbt_env` in dbt's environment."""
    name = f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target = dbt_project.manifest_path.parent / name
    target.mkdir(parents=True)
    if (state := parse_state_file()).exists():  # else dagster-dbt copies target/'s
        shutil.copy(state, target / PARSE_STATE)
    with environment(dbt_env or {}):
        return dbt.cli(dbt_build_args(full_refresh), context=context, target_path=target)


def finish_dbt(invocation: DbtCliInvocation) -> None:
    """After a successful build: keep its parse state for the warehouse's next build and remove
    its target folder (a failed build keeps the folder for its dbt.log)."""
    state, kept = invocation.target_path / PARSE_STATE, parse_state_file()
    if state.exists():
        partial = kept.with_suffix(".tmp")
        shutil.copy(state, partial)  # the data folder may be on another disk: copy, then rename
        os.replace(partial, kept)
    shutil.rmtree(invocation.target_path, ignore_errors=True)


def run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource,
            dbt_env: Mapping[str, str] | None = None, full_refresh: bool = False):
    """Stream a dbt build's events, then `finish_dbt`."""
    invocation = start_dbt(context, dbt, dbt_env, full_refresh)
    yield from invocation.stream()
    finish_dbt(invocation)


def snapshot_env(window: dg.TimeWindow, weeks_per_build: int | None = None
                 ) -> list[dict[str, str]]:
    """The weeks of a partition window (Mondays, inclusive), in consecutive ranges of at most
    `weeks_per_build` weeks (one range if None), as customer_features_weekly's environment
    variables: a changed var would make dbt parse the whole project again, a changed
    environment variable only the files that read it (decision 0098)."""
    first, last = window.start.date(), (window.end - timedelta(days=7)).date()
    step = timedelta(weeks=weeks_per_build or ((last - first).days // 7 + 1))
    ranges = []
    while first <= last:
        to = min(first + step - timedelta(weeks=1), last)
        ranges.append({"C360_SNAPSHOT_FROM": first.isoformat(), "C360_SNAPSHOT_TO": to.isoformat()})
        first = to + timedelta(weeks=1)
    return ranges


def weeks_per_build() -> int:
    """Weeks one dbt run of customer_features_weekly builds: its memory and spill grow with
    customers x weeks, so a backfill is split into runs of at most `snapshot_rows_per_build`
    customer-weeks (decision 0081)."""
    with connect(read_only=True) as con:
        customers = (con.sql("select count(*) from marts.customers").fetchone()[0]
                     if table_exists(con, "marts", "customers") else 0)
    return max(1, settings().snapshot_rows_per_build // max(customers, 1))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="resource_type:seed staging intermediate",
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_staging",
)
def dbt_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    yield from run_dbt(context, dbt, full_refresh=config.full_refresh)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="marts",
    exclude=FEATURES,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_marts",
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    yield from run_dbt(context, dbt, full_refresh=config.full_refresh)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select=FEATURES,
    dagster_dbt_translator=translator,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    name="dbt_customer_features_weekly",
)
def dbt_features(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    *earlier, last = snapshot_env(context.partition_time_window, weeks_per_build())
    for weeks in earlier:  # a failed model or test raises here and stops the backfill
        context.log.info(f"{SNAPSHOT_BUILD_LOG} {weeks}")
        finish_dbt(start_dbt(context, dbt, weeks).wait())
    # the last range is streamed: its materialisation and test results are the step's events
    context.log.info(f"{SNAPSHOT_BUILD_LOG} {last}")
    yield from run_dbt(context, dbt, last)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="bi",
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    name="dbt_bi",
)
def dbt_bi(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from run_dbt(context, dbt)
