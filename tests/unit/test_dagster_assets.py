"""The Dagster layer on tiny inputs: failures stay where they belong and blocking checks block."""

import dagster as dg
import pytest

from pipelines import config
from pipelines.config import EXPECTATIONS_DIR
from pipelines.ingest.contracts import load_contracts
from pipelines.quality.suites import load_suites
from pipelines.warehouse import connect


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("C360_LANDING_SETTLE_SECONDS", "0")  # the files are written just now
    config.settings.cache_clear()
    yield tmp_path
    config.settings.cache_clear()


def test_a_broken_export_fails_its_asset_and_the_other_sources_still_load(data_dir):
    from pipelines.defs.ingestion import build_ingestion_asset

    contracts = {c.name: c for c in load_contracts(config.REPO_ROOT / "pipelines/contracts")}
    landing = data_dir / "landing"
    (landing / "crm/tickets").mkdir(parents=True)
    (landing / "crm/tickets/t.csv").write_text("Subject,Opened Date\nx,y\n", encoding="gb18030")
    (landing / "social/interactions").mkdir(parents=True)
    (landing / "social/interactions/i.csv").write_text(
        "interaction_id;platform;profile_id;type;timestamp;sentiment\n"
        "1;weibo;wb_1;like;2026-01-01T00:00:00Z;positive\n"
        "2;weibo;;like;2026-01-01T00:00:00Z;positive\n"
    )
    result = dg.materialize(
        [
            build_ingestion_asset(contracts["crm__tickets"]),
            build_ingestion_asset(contracts["social__interactions"]),
        ],
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw__crm__tickets"]
    error = failures[0].step_failure_data.error.message
    assert "t.csv" in error and "'Case Number'" in error
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"raw/social__interactions"}
    checks = {
        (e.asset_key.to_user_string(), e.passed) for e in result.get_asset_check_evaluations()
    }
    assert checks == {("raw/social__interactions", True)}
    with connect(read_only=True) as con:
        assert con.sql("select count(*) from raw.social__interactions").fetchone()[0] == 1
        assert con.sql("select count(*) from raw.quarantine").fetchone()[0] == 1


def test_blocking_quality_check_stops_everything_downstream(data_dir):
    from pipelines.defs.quality import build_ge_check

    suite = next(s for s in load_suites(EXPECTATIONS_DIR) if s.name == "customer_360")
    ran = []

    @dg.asset(key=dg.AssetKey(["marts", "customer_360"]))
    def broken_customer_360() -> None:
        with connect() as con:  # two rows for one customer: the single view is broken
            con.sql(
                "create table marts.customer_360 as select * from (values "
                "('C1', 1, 0.0, 0, 'A'), ('C1', 1, 0.0, 0, 'B')) "
                "t(customer_id, source_record_count, lifetime_revenue_cny, paid_orders, "
                "full_name)"
            )

    @dg.asset(deps=[broken_customer_360])
    def scores() -> None:
        ran.append("scores")

    result = dg.materialize(
        [broken_customer_360, scores, build_ge_check(suite)],
        raise_on_error=False,
    )
    assert not result.success
    assert ran == []


def _scores_suite(tmp_path):
    import json

    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "scores.json").write_text(json.dumps({
        "name": "scores",
        "expectations": [
            {"type": "expect_column_values_to_be_between", "severity": "critical",
             "meta": {"why": "a probability outside [0, 1] is a scoring bug"},
             "kwargs": {"column": "p", "min_value": 0, "max_value": 1}},
            {"type": "expect_column_mean_to_be_between", "severity": "warning",
             "kwargs": {"column": "p", "max_value": 0.5}},
        ],
        "meta": {"customer360": {"table": "ml.scores"}},
    }))
    return load_suites(tmp_path / "suites")[0]


@pytest.mark.parametrize(
    "values, downstream_runs",
    [("(0.9), (0.8)", True),  # warn expectation fails only: a warning, nothing stopped
     ("(0.2), (1.5)", False)],  # block expectation fails: nothing downstream runs
)
def test_block_severity_stops_downstream_steps_and_warn_does_not(
    data_dir, tmp_path, values, downstream_runs
):
    from pipelines.defs.quality import build_ge_check

    suite = _scores_suite(tmp_path)
    ran = []

    @dg.asset(key=dg.AssetKey(["ml", "scores"]))
    def scores() -> None:
        with connect() as con:
            con.sql(f"create or replace table ml.scores as select * from (values {values}) t(p)")

    # stands in for a dbt multi-asset downstream of a Python asset (same kind of step)
    @dg.multi_asset(specs=[dg.AssetSpec(["bi", "a"], deps=[scores], skippable=True),
                           dg.AssetSpec(["bi", "b"], deps=[scores], skippable=True)],
                    can_subset=True)
    def bi_models():
        ran.append("bi")
        yield dg.MaterializeResult(asset_key=["bi", "a"])
        yield dg.MaterializeResult(asset_key=["bi", "b"])

    @dg.asset(key=dg.AssetKey(["serving", "files"]), deps=[dg.AssetKey(["bi", "a"])])
    def publish() -> None:
        ran.append("publish")

    result = dg.materialize([scores, bi_models, publish, build_ge_check(suite)],
                            raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    if downstream_runs:
        assert ran == ["bi", "publish"] and result.success
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert "warnings only" in evaluation.description
    else:
        assert ran == [] and not result.success
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        message = evaluation.description
        assert "[BLOCK] expect_column_values_to_be_between on column `p`" in message
        assert "observed 1 of 2 rows unexpected (e.g. [1.5])" in message
        assert "expected min_value=0.0, max_value=1.0" in message
        assert "Data Docs: " in message and message.rstrip().endswith("scores.html")
        docs = evaluation.metadata["data_docs"].value
        assert docs.endswith("data_docs/scores.html") and __import__("os").path.exists(docs)


def test_a_snapshot_backfill_is_split_into_consecutive_week_ranges():
    from datetime import datetime

    from pipelines.defs.dbt import snapshot_env

    # partition keys are Mondays; the window's end is the Monday after the last week
    window = dg.TimeWindow(datetime(2026, 1, 5), datetime(2026, 3, 16))  # 10 weeks
    ranges = snapshot_env(window, 4)
    assert ranges == [
        {"C360_SNAPSHOT_FROM": "2026-01-05", "C360_SNAPSHOT_TO": "2026-01-26"},
        {"C360_SNAPSHOT_FROM": "2026-02-02", "C360_SNAPSHOT_TO": "2026-02-23"},
        {"C360_SNAPSHOT_FROM": "2026-03-02", "C360_SNAPSHOT_TO": "2026-03-09"},
    ]
    assert snapshot_env(window) == [{"C360_SNAPSHOT_FROM": "2026-01-05",
                                     "C360_SNAPSHOT_TO": "2026-03-09"}]
    one_week = dg.TimeWindow(datetime(2026, 3, 9), datetime(2026, 3, 16))
    assert snapshot_env(one_week, 4) == [{"C360_SNAPSHOT_FROM": "2026-03-09",
                                          "C360_SNAPSHOT_TO": "2026-03-09"}]
