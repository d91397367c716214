"""The model assets in Dagster on a small generated warehouse and a throwaway MLflow store:
inside the refit interval a second run registers no new model version and publishes the same
scores with the same model_version; a refit asked for in the run config trains a challenger
(decision 0019)."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pipelines import config
from pipelines.warehouse import connect, replace_table
from tests.conftest import fresh_data_dir

N_CUSTOMERS = 150
WEEKS = 26  # 13 labeled weeks after the 90-day churn horizon (8 needed)
LAST_SNAPSHOT = date(2026, 11, 8)


def generated_marts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, weekly feature snapshots) consistent with each other, some customers lapsing."""
    from pipelines.defs.ml import FEATURE_COLS

    rng = np.random.default_rng(5)
    start = pd.Timestamp(LAST_SNAPSHOT) - pd.Timedelta(days=700)
    rows = []
    for i in range(N_CUSTOMERS):
        rate = rng.gamma(2.0, 1 / 40)  # orders per day
        stop = start + pd.Timedelta(days=int(rng.uniform(200, 900)))  # some stop buying
        t = start + pd.Timedelta(days=float(rng.exponential(60)))
        while t < min(stop, pd.Timestamp(LAST_SNAPSHOT)):
            rows.append((f"C{i:04d}", t, float(rng.lognormal(5, 0.6))))
            t += pd.Timedelta(days=float(rng.exponential(1 / rate)))
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount_cny"])
    orders["order_id"] = [f"O{i:06d}" for i in range(len(orders))]
    orders["is_paid"] = True
    snaps = []
    for w in range(WEEKS):
        snap = pd.Timestamp(LAST_SNAPSHOT) - pd.Timedelta(weeks=WEEKS - 1 - w)
        end = snap + pd.Timedelta(days=1)
        seen = orders[orders["ordered_at"] < end]
        g = seen.groupby("customer_id")
        days = (end - seen["ordered_at"]).dt.days
        f = pd.DataFrame({
            "tenure_days": (end - g["ordered_at"].min()).dt.days,
            "days_since_last_order": (end - g["ordered_at"].max()).dt.days,
            "orders_90d": (days <= 90).groupby(seen["customer_id"]).sum(),
            "orders_365d": (days <= 365).groupby(seen["customer_id"]).sum(),
            "orders_total": g.size(),
            "revenue_90d_cny": seen["amount_cny"].where(days <= 90, 0).groupby(
                seen["customer_id"]).sum(),
            "revenue_365d_cny": seen["amount_cny"].where(days <= 365, 0).groupby(
                seen["customer_id"]).sum(),
            "revenue_total_cny": g["amount_cny"].sum(),
            "avg_order_value_cny": g["amount_cny"].mean(),
        }).reset_index()
        for col in FEATURE_COLS:
            if col not in f:
                f[col] = rng.poisson(0.3, len(f))
        f.insert(1, "snapshot_date", snap.date())
        snaps.append(f)
    return orders, pd.concat(snaps, ignore_index=True)


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    with fresh_data_dir(tmp_path, monkeypatch):
        orders, snaps = generated_marts()
        with connect() as con:
            replace_table(con, "marts.orders", orders)
            replace_table(con, "marts.customer_features_weekly", snaps)
        yield tmp_path


def run(asset, refit: bool = False) -> dict:
    op = asset.op.name
    result = dg.materialize([asset], run_config={"ops": {op: {"config": {"refit": refit}}}})
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def versions(name: str) -> list[int]:
    client = MlflowClient(config.settings().mlflow_tracking_uri)
    return sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))


def table(sql: str) -> pd.DataFrame:
    with connect(read_only=True) as con:
        return con.sql(sql).df()


def test_churn_reuses_its_champion_on_the_newest_week_alone(warehouse):
    from pipelines.defs.ml import customer_churn

    first = run(customer_churn)
    assert first["refit"] is True and first["refit_decision"] == "refit: no champion yet"
    assert versions("customer_churn") == [1]
    scores = table("select * from ml.customer_churn order by customer_id")

    # the reuse path needs neither the older weeks nor the orders (labels): drop them
    with connect() as con:
        con.sql("drop table marts.orders")
        con.sql("delete from marts.customer_features_weekly where snapshot_date < ?",
                params=[LAST_SNAPSHOT])
    second = run(customer_churn)
    assert second["refit"] is False
    assert second["refit_decision"] == f"reused champion v1 trained {LAST_SNAPSHOT}"
    assert versions("customer_churn") == [1]  # nothing trained, nothing registered
    again = table("select * from ml.customer_churn order by customer_id")
    pd.testing.assert_frame_equal(again, scores)  # same probabilities, reasons, model_version
    assert set(again["model_version"]) == {"1"}


def test_segments_reuse_and_a_forced_refit_trains_a_challenger(warehouse):
    from pipelines.defs.ml import customer_segments

    run(customer_segments)
    first = table("select * from ml.customer_segments order by customer_id")
    second = run(customer_segments)
    assert second["refit"] is False and second["model_version"] == "1"
    assert "challenger_version" not in second
    assert versions("customer_segmentation") == [1]
    pd.testing.assert_frame_equal(
        table("select * from ml.customer_segments order by customer_id"), first
    )
    forced = run(customer_segments, refit=True)
    assert forced["refit_decision"].startswith("refit: asked for")
    assert forced["challenger_version"] == "2" and versions("customer_segmentation") == [1, 2]
    assert "promotion_reason" in forced  # the challenger went through the gate (0017)


def test_an_old_champion_is_refitted(warehouse, monkeypatch):
    from pipelines.defs.ml import customer_segments

    run(customer_segments)
    monkeypatch.setenv("C360_REFIT_EVERY_WEEKS", "0")  # every champion is too old
    config.settings.cache_clear()
    meta = run(customer_segments)
    assert meta["refit"] is True and "refit every 0" in meta["refit_decision"]
    assert versions("customer_segmentation") == [1, 2]
    monkeypatch.setenv("C360_REFIT_EVERY_WEEKS", "4")
    monkeypatch.setenv("C360_REFIT", "1")
    config.settings.cache_clear()
    assert run(customer_segments)["refit_decision"].startswith("refit: asked for")
    assert versions("customer_segmentation") == [1, 2, 3]


def test_value_reuses_the_champion_for_a_later_week(warehouse, monkeypatch):
    """One week later the champion's fitted parameters score this week's as_of: customers'
    ages grow, tiers and tier migration are computed, no new version."""
    from dataclasses import replace

    from models_ml import config as ml_config
    from pipelines.defs.ml import customer_value

    # the reuse is under test, not the model selection: BG/NBD alone saves three PyMC fits
    defaults = ml_config.DEFAULTS
    monkeypatch.setattr(ml_config, "DEFAULTS", replace(
        defaults, clv=replace(defaults.clv, purchase_model="bgnbd")))

    run(customer_value)
    before = table("select * from ml.customer_value order by customer_id")
    assert versions("customer_value") == [1]
    assert run(customer_value)["refit"] is False  # the same week: the registered fit scores
    pd.testing.assert_frame_equal(  # exactly what the fit in memory gave
        table("select * from ml.customer_value order by customer_id"), before
    )
    with connect() as con:  # one more week of snapshots (same customers, a week older)
        con.sql("insert into marts.customer_features_weekly select * replace "
                "(snapshot_date + interval 7 day as snapshot_date) from "
                "marts.customer_features_weekly where snapshot_date = ?", params=[LAST_SNAPSHOT])
    meta = run(customer_value)
    assert meta["refit"] is False and meta["model_version"] == "1"
    assert versions("customer_value") == [1]
    after = table("select * from ml.customer_value order by customer_id")
    assert (after["snapshot_date"].dt.date == LAST_SNAPSHOT + timedelta(days=7)).all()
    assert (after["T"] > before["T"]).all()  # a week older; nobody bought in between
    assert after["tier_change"].isin(["same", "up", "down"]).all()  # last week's tiers known
    assert (after["predicted_clv_12m"] <= before["predicted_clv_12m"] + 1e-9).all()
