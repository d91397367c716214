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
