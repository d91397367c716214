"""The cross_sell asset's weekly work on a small warehouse and a throwaway MLflow store:
the SQL input equals the pandas one, a second run reuses the fitted rules and publishes the
same tables, refits follow the 0019 policy, and a reuse week with new purchases never offers
them (decision 0070)."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models_ml.config import DEFAULTS
from models_ml.cross_sell import baskets_from_lines
from pipelines import config
from pipelines.cross_sell_run import (
    EXPERIMENT,
    cross_sell_week,
    read_baskets,
    run_week,
)
from pipelines.warehouse import connect, replace_table
from tests.conftest import fresh_data_dir

SNAPSHOT = date(2026, 11, 8)
PRODUCTS = [f"SKU-{k:03d}" for k in range(25)]


def order_lines(seed: int, n_orders: int, start: pd.Timestamp, days: int) -> pd.DataFrame:
    """Paid and unpaid lines of `n_orders` orders of 200 customers, product pairs favoured."""
    rng = np.random.default_rng(seed)
    rows = []
    for o in range(n_orders):
        customer = f"C{rng.integers(200):04d}"
        first = int(rng.integers(len(PRODUCTS)))
        skus = {PRODUCTS[first]}
        if rng.random() < 0.7:  # the product next to it in the list goes with it
            skus.add(PRODUCTS[(first + 1) % len(PRODUCTS)])
        at = start + pd.Timedelta(minutes=int(rng.integers(days * 24 * 60)))
        for n, sku in enumerate(sorted(skus), start=1):
            rows.append({
                "order_id": f"O{seed}-{o:05d}", "line_number": n, "customer_id": customer,
                "sku": sku, "product_name": f"name of {sku}",
                "product_category": None if sku.endswith("7") else f"cat{int(sku[-3:]) % 5}",
                "is_paid": bool(rng.random() < 0.95), "ordered_at": at,
            })  # fmt: skip
    return pd.DataFrame(rows)


LINES = order_lines(1, 1500, pd.Timestamp("2025-06-01"), 520)


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    with fresh_data_dir(tmp_path, monkeypatch):
        snaps = pd.DataFrame({"customer_id": ["C0000"], "snapshot_date": [SNAPSHOT]})
        with connect() as con:
            replace_table(con, "marts.order_items", LINES)
            replace_table(con, "marts.customer_features_weekly", snaps)
        yield tmp_path


def published() -> dict[str, pd.DataFrame]:
    with connect(read_only=True) as con:
        return {
            "offers": con.sql("select * from ml.cross_sell_offers "
                              "order by customer_id, offer_rank").df(),
            "prospects": con.sql("select * from ml.product_prospects "
                                 "order by sku, prospect_rank").df(),
            "affinity": con.sql("select * from ml.product_affinity").df(),
        }  # fmt: skip


def fit_runs() -> list:
    client = MlflowClient(config.settings().mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_sql_baskets_equal_the_pandas_ones(warehouse):
    as_of = SNAPSHOT + timedelta(days=1)
    with connect(read_only=True) as con:
        sql = read_baskets(con, as_of, basket="order")
    ref = baskets_from_lines(LINES, as_of)

    def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
        cols = list(b.columns)
        a = a[cols].sort_values(cols[:2], ignore_index=True)
        b = b.sort_values(cols[:2], ignore_index=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)

    same(sql.pairs, ref.pairs)
    same(sql.products, ref.products)
    same(sql.product_days, ref.product_days)
    same(sql.order_pairs, ref.order_pairs)
    assert (ref.products["product_category"] == "unknown").any()


def test_reuse_publishes_the_refit_tables_and_refits_follow_the_policy(warehouse, monkeypatch):
    first, _ = run_week()
    assert first.decision.refit and first.decision.reason == "refit: no champion yet"
    assert "backtest" in first.seconds and first.metrics["offer_hit_rate_90d"] >= 0
    tables = published()
    assert (tables["offers"]["basis"] == "affinity").any()
    assert len(fit_runs()) == 1

    second, _ = run_week()
    assert not second.decision.refit
    assert second.decision.reason == f"reused champion v1 trained {SNAPSHOT}"
    assert not {"fit", "backtest", "mlflow_log"} & set(second.seconds)
    assert len(fit_runs()) == 1  # nothing fitted, nothing logged
    again = published()
    for name in tables:  # same rows and the same model_run_id
        pd.testing.assert_frame_equal(again[name], tables[name])
    assert set(again["offers"]["model_run_id"]) == {first.run_id}

    forced, _ = run_week(refit_asked=True)
    assert forced.decision.reason.startswith("refit: asked for")
    assert forced.run_id != first.run_id and len(fit_runs()) == 2
    assert set(published()["offers"]["model_run_id"]) == {forced.run_id}

    monkeypatch.setenv("C360_REFIT_EVERY_WEEKS", "0")
    config.settings.cache_clear()
    old, _ = run_week()
    assert old.decision.refit and "refit every 0" in old.decision.reason
    assert "champion v3" in cross_sell_week(SNAPSHOT, DEFAULTS.cross_sell).decision.reason

    other = replace(DEFAULTS.cross_sell, min_lift=1.5)
    changed = cross_sell_week(SNAPSHOT, other, every_weeks=4)
    assert changed.decision.refit and "min_lift 1.0 -> 1.5" in changed.decision.reason


def test_a_reuse_week_with_new_purchases_never_offers_them(warehouse):
    first, _ = run_week()
    top = published()["offers"].query("offer_rank == 1")[["customer_id", "sku"]]
    # next week: every customer buys their best offer, plus a product new to the shop
    later = SNAPSHOT + timedelta(days=7)
    at = pd.Timestamp(later) - pd.Timedelta(days=2)
    new = pd.DataFrame({
        "order_id": [f"N{i}" for i in range(len(top))] + ["N-new"], "line_number": 1,
        "customer_id": [*top["customer_id"], "C9999"], "sku": [*top["sku"], "SKU-NEW"],
        "product_name": "x", "product_category": "cat0", "is_paid": True, "ordered_at": at,
    })  # fmt: skip
    with connect() as con:
        con.register("n", new)
        con.sql("insert into marts.order_items by name select * from n")
        con.sql("insert into marts.customer_features_weekly values ('C0000', ?)", params=[later])
    week, _ = run_week()
    assert not week.decision.refit and week.run_id == first.run_id
    with connect(read_only=True) as con:
        owned_offered = con.sql(
            "select count(*) from ml.cross_sell_offers o join marts.order_items i "
            "on i.customer_id = o.customer_id and i.sku = o.sku and i.is_paid "
            "and i.ordered_at < o.snapshot_date + interval 1 day"
        ).fetchone()[0]
        owned_prospect = con.sql(
            "select count(*) from ml.product_prospects p join marts.order_items i "
            "on i.customer_id = p.customer_id and i.sku = p.sku and i.is_paid "
            "and i.ordered_at < p.snapshot_date + interval 1 day"
        ).fetchone()[0]
        offers = con.sql("select * from ml.cross_sell_offers").df()
    assert owned_offered == 0 and owned_prospect == 0
    assert (offers["snapshot_date"].dt.date == later).all()
    assert "C9999" in set(offers["customer_id"])  # a new customer gets (popular) offers
    assert "SKU-NEW" not in set(offers["sku"])  # not in the rules until the next refit


def test_the_asset_reports_the_decision(warehouse):
    from pipelines.defs.ml import cross_sell

    def meta(refit: bool) -> dict:
        result = dg.materialize(
            [cross_sell], run_config={"ops": {"cross_sell": {"config": {"refit": refit}}}}
        )
        events = result.get_asset_materialization_events()
        assert len(events) == 3
        return {k: v.value for k, v in events[0].materialization.metadata.items()}

    first = meta(False)
    assert first["refit"] is True and first["refit_decision"] == "refit: no champion yet"
    second = meta(False)
    assert second["refit"] is False and second["mlflow_run"] == first["mlflow_run"]
    assert first["scoring"] == "everybody scored: refit"
    assert second["scoring"] == "0 customers rescored"  # nothing changed (decision 0085)
    assert meta(True)["refit_decision"].startswith("refit: asked for")


def state_tables() -> dict[str, pd.DataFrame]:
    with connect(read_only=True) as con:
        return {
            "customers": con.sql("select * from ml.cross_sell_customer_state "
                                 "order by customer_id").df(),
            "scoring": con.sql("select * from ml.cross_sell_state").df(),
        }  # fmt: skip


@pytest.mark.parametrize("depth", [100, 7])
def test_rescoring_only_changed_customers_equals_scoring_everybody(
    warehouse, monkeypatch, depth
):
    """Decision 0085: a reuse week where customers bought, lost a purchase, are new or gone,
    and a product stops being a candidate publishes exactly what scoring everybody does."""
    from models_ml import cross_sell

    monkeypatch.setattr(cross_sell, "PROSPECT_POOL", depth)  # 7: the pool bounds matter
    week1 = SNAPSHOT + timedelta(days=1)
    aging = "SKU-024"  # sold last just inside week 1's active_days window, outside week 2's
    with connect() as con:
        con.execute("update marts.order_items set ordered_at = ? where sku = ? and ordered_at "
                    ">= ?", [pd.Timestamp(week1) - pd.Timedelta(days=362), aging,
                             pd.Timestamp(week1) - pd.Timedelta(days=365)])  # fmt: skip
    first, _ = run_week()
    assert first.decision.refit and first.pool is not None
    before = published()
    offers1 = before["offers"]
    assert aging in set(offers1["sku"])

    later = SNAPSHOT + timedelta(days=7)
    at = pd.Timestamp(later) - pd.Timedelta(days=2)
    top = offers1.query("offer_rank == 1").head(12)
    buyers = list(top["customer_id"])
    prospect = before["prospects"]["customer_id"].iloc[0]  # a top prospect buys something
    gone = offers1["customer_id"].iloc[-1]
    refunded = sorted(set(offers1["customer_id"]) - {*buyers, gone, prospect})[0]
    new = pd.DataFrame({
        "order_id": [f"N{i}" for i in range(len(buyers) + 2)], "line_number": 1,
        "customer_id": [*buyers, prospect, "C9999"],
        "sku": [*top["sku"], before["prospects"]["sku"].iloc[0], "SKU-003"],
        "product_name": "x", "product_category": "cat0", "is_paid": True, "ordered_at": at,
    })  # fmt: skip
    with connect() as con:
        con.register("n", new)
        con.sql("insert into marts.order_items by name select * from n")
        con.execute("delete from marts.order_items where customer_id = ?", [gone])
        con.execute("update marts.order_items set is_paid = false where customer_id = $c and "
                    "sku = (select min(sku) from marts.order_items where customer_id = $c)",
                    {"c": refunded})  # every purchase of one product refunded
        con.sql("insert into marts.customer_features_weekly values ('C0000', ?)", params=[later])

    week, _ = run_week()
    assert not week.decision.refit and week.changes is not None, week.scoring
    part = published()
    part_state = state_tables()
    full, _ = run_week(incremental=False)
    assert full.changes is None and full.scoring == "everybody scored: asked"
    whole = published()
    for name in whole:
        pd.testing.assert_frame_equal(part[name], whole[name])
    for name, frame in state_tables().items():
        pd.testing.assert_frame_equal(part_state[name], frame)
    for key, value in full.metrics.items():
        assert week.metrics[key] == pytest.approx(value, rel=1e-12), key

    offers2 = whole["offers"]
    n_customers = offers2["customer_id"].nunique()
    aged = set(offers1.loc[offers1["sku"] == aging, "customer_id"])
    # only the changed customers were rescored, and each of them had to be
    changed = aged | {*buyers, prospect, refunded, "C9999", gone}
    assert week.changes.n_rescored == len(changed - {gone}) < n_customers
    assert set(week.changes.changed) == changed
    assert aging not in set(offers2["sku"]) and gone not in set(offers2["customer_id"])
    for who in changed - {gone, "C9999"}:
        one = offers1[offers1["customer_id"] == who][["sku", "score", "offer_rank"]]
        two = offers2[offers2["customer_id"] == who][["sku", "score", "offer_rank"]]
        assert not one.reset_index(drop=True).equals(two.reset_index(drop=True)), who
    assert (offers2["snapshot_date"].dt.date == later).all()

    again, _ = run_week()  # after a full scoring: nothing changed, nobody rescored
    assert again.changes is not None and again.changes.n_rescored == 0
    for name, frame in published().items():
        pd.testing.assert_frame_equal(frame, whole[name])
