"""BG/NBD + Gamma-Gamma CLV (models_ml.clv) and its MLflow pyfunc. One MAP fit per module."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models_ml.clv import (
    OUTPUT_COLUMNS,
    PURCHASE_PARAMS,
    ClvModel,
    clv_summary,
    fit_clv,
    load_clv,
    predict_clv,
    predict_from_summary,
    save_clv,
    value_tiers,
)
from tests.conftest import throwaway_mlflow

AS_OF = date(2024, 7, 1)


def make_orders(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Poisson purchasing with geometric dropout, plus two hand-made customers."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(AS_OF)
    start = end - pd.Timedelta(days=730)
    rows = []
    for i in range(n):
        rate, p_drop, spend = rng.gamma(1.0, 1 / 20), rng.beta(1, 4), rng.gamma(4, 60)
        t = float(rng.integers(0, 700))
        while t < 730:
            rows.append((f"c{i:04d}", start + pd.Timedelta(days=t), rng.gamma(6, spend / 6)))
            if rng.random() < p_drop:
                break
            t += rng.exponential(1 / rate)
    week = pd.Timedelta(weeks=1)
    for w in (70, 56, 42, 28, 14, 1):  # still buying every quarter
        rows.append(("steady", end - w * week, 300.0))
    for w in (70, 69, 68, 67, 66, 65):  # same count, stopped 65 weeks ago
        rows.append(("stopped", end - w * week, 300.0))
    df = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount_cny"])
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return make_orders()


@pytest.fixture(scope="module")
def model(orders: pd.DataFrame) -> ClvModel:
    return fit_clv(orders, AS_OF)


@pytest.fixture(scope="module")
def predictions(model: ClvModel, orders: pd.DataFrame) -> pd.DataFrame:
    return predict_clv(model, orders, AS_OF)


def test_summary_is_in_weeks(orders: pd.DataFrame) -> None:
    summary = clv_summary(orders, AS_OF).set_index("customer_id")
    assert summary.loc["steady", "frequency"] == 5
    assert summary.loc["steady", "T"] == pytest.approx(70.0)
    assert summary.loc["steady", "recency"] == pytest.approx(69.0)
    assert (summary["recency"] <= summary["T"]).all()


def test_predictions_non_negative(predictions: pd.DataFrame, model: ClvModel) -> None:
    assert list(predictions.columns) == OUTPUT_COLUMNS
    assert predictions["customer_id"].is_unique
    values = predictions[["expected_purchases_12m", "p_alive", "predicted_clv_12m"]]
    assert np.isfinite(values.to_numpy()).all()
    assert (values >= 0).all().all()
    assert predictions["p_alive"].le(1).all()
    assert model.gamma_gamma is not None and model.population_mean_spend > 0


def test_one_time_buyers_get_population_mean_spend(predictions, model) -> None:
    one_time = predictions[predictions["frequency"] == 0]
    assert len(one_time) > 0
    assert np.allclose(one_time["expected_spend_cny"], model.population_mean_spend)


def test_recent_repeat_buyer_expected_to_buy_more(predictions: pd.DataFrame) -> None:
    by_id = predictions.set_index("customer_id")
    steady, stopped = by_id.loc["steady"], by_id.loc["stopped"]
    assert steady["frequency"] == stopped["frequency"]
    assert steady["expected_purchases_12m"] > stopped["expected_purchases_12m"]
    assert steady["p_alive"] > stopped["p_alive"]
    assert steady["predicted_clv_12m"] > stopped["predicted_clv_12m"]


def test_discounting_lowers_value(model: ClvModel, orders: pd.DataFrame, predictions) -> None:
    discounted = predict_clv(model, orders, AS_OF, discount_rate_monthly=0.01)
    ratio = discounted["predicted_clv_12m"].sum() / predictions["predicted_clv_12m"].sum()
    assert 0.9 < ratio < 1.0


def test_value_tiers_shares(predictions: pd.DataFrame) -> None:
    tiers = value_tiers(predictions)
    shares = tiers.value_counts(normalize=True)
    assert shares["top"] == pytest.approx(0.2, abs=0.01)
    assert shares["middle"] == pytest.approx(0.3, abs=0.01)
    assert shares["base"] == pytest.approx(0.5, abs=0.01)
    top_min = predictions.loc[tiers == "top", "predicted_clv_12m"].min()
    assert top_min >= predictions.loc[tiers == "middle", "predicted_clv_12m"].max()


def test_save_load_round_trip(model, orders, predictions, tmp_path) -> None:
    paths = save_clv(model, tmp_path / "clv")
    reloaded = load_clv(paths)
    again = predict_clv(reloaded, orders, AS_OF)
    pd.testing.assert_frame_equal(again, predictions)
    # parameters only: the per-customer fit data is not written by default
    import arviz as az

    saved = az.from_netcdf(paths["purchases"])
    assert saved.fit_data.sizes["index"] == 1
    assert "observed_data" not in saved.groups()


@pytest.fixture()
def mlflow_store(tmp_path):
    from models_ml import tracking

    with throwaway_mlflow(tmp_path, "clv-test"):
        yield tracking


def test_register_and_load_pyfunc(model, orders, predictions, mlflow_store) -> None:
    import mlflow

    tracking = mlflow_store
    version = tracking.log_and_register(
        "customer_value", "clv", model, {"customers": len(predictions)},
        {"mean_clv_12m": float(predictions["predicted_clv_12m"].mean())}, {}, None,
    )  # fmt: skip
    assert version == 1
    client = mlflow.MlflowClient()
    run = client.get_run(client.get_model_version_by_alias("customer_value", "champion").run_id)
    names = {f"map_{k}" for k in PURCHASE_PARAMS[model.purchase_model]}
    assert names | {"map_p", "map_q", "map_v"} <= set(run.data.metrics)
    assert run.data.tags["purchase_model"] == model.purchase_model
    assert f"backtest_mae_{model.purchase_model}" in run.data.metrics
    loaded = mlflow.pyfunc.load_model("models:/customer_value@champion")
    summary = clv_summary(orders, AS_OF).head(20)
    out = loaded.predict(summary)
    expected = predictions.head(20)
    np.testing.assert_allclose(out["predicted_clv_12m"], expected["predicted_clv_12m"], rtol=1e-9)
    assert list(out["customer_id"]) == list(expected["customer_id"])


def test_tier_migration_against_last_week():
    from models_ml.clv import tier_migration

    current = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "value_tier": ["top", "base", "middle", "top"]}
    )
    previous = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "value_tier": ["middle", "middle", "middle"]}
    )
    out = tier_migration(current, previous).set_index("customer_id")["tier_change"]
    assert out.to_dict() == {"a": "up", "b": "down", "c": "same", "d": "new"}
    assert (tier_migration(current, None)["tier_change"] == "new").all()


def test_value_tiers_follow_configured_shares():
    from models_ml.clv import value_tiers

    df = pd.DataFrame({"predicted_clv_12m": np.arange(10, dtype=float)})
    assert value_tiers(df, 0.1, 0.2).value_counts().to_dict() == {"base": 7, "middle": 2, "top": 1}
    assert value_tiers(df).value_counts().to_dict() == {"base": 5, "middle": 3, "top": 2}


def test_auto_selection_picks_the_lowest_backtest_mae(model: ClvModel) -> None:
    maes = {n: model.selection[f"backtest_mae_{n}"] for n in ("bgnbd", "mbgnbd", "paretonbd")}
    assert all(np.isfinite(v) for v in maes.values())
    assert model.purchase_model == min(maes, key=maes.get)
    # the gate's pre-cut fit: same model, fitted before the last third of the 2-year history
    assert model.backtest is not None and model.backtest.purchase_model == model.purchase_model
    assert model.selection["backtest_weeks"] == pytest.approx(104.3 / 3, abs=0.2)
    assert model.backtest.as_of == (pd.Timestamp(AS_OF) - pd.Timedelta(days=243)).date()


def test_pareto_nbd_round_trip(orders: pd.DataFrame, tmp_path) -> None:
    from dataclasses import replace

    from models_ml.config import ClvConfig

    pareto = fit_clv(orders, AS_OF, replace(ClvConfig(), purchase_model="paretonbd"))
    assert pareto.purchase_model == "paretonbd" and set(pareto.params()) >= {"s", "beta"}
    before = predict_clv(pareto, orders, AS_OF)
    after = predict_clv(load_clv(save_clv(pareto, tmp_path / "p")), orders, AS_OF)
    pd.testing.assert_frame_equal(after, before)
    steady = before.set_index("customer_id").loc[["steady", "stopped"], "p_alive"]
    assert steady["steady"] > steady["stopped"]


def test_worse_clv_challenger_is_not_promoted(orders: pd.DataFrame, mlflow_store) -> None:
    """Gate (0017): a challenger fitted on inflated orders loses to the champion's MAE."""
    from dataclasses import replace

    from models_ml.clv import clv_champion_backtest
    from models_ml.config import ClvConfig

    tracking = mlflow_store
    cfg = replace(ClvConfig(), purchase_model="bgnbd")
    champion_as_of = (pd.Timestamp(AS_OF) - pd.Timedelta(weeks=8)).date()
    champion = fit_clv(orders, champion_as_of, cfg)
    # every order also placed again three days later: about twice the true purchase rate
    echo = orders.assign(
        ordered_at=orders["ordered_at"] + pd.Timedelta(days=3),
        order_id=orders["order_id"] + "e",
    )
    inflated = pd.concat([orders, echo], ignore_index=True)
    worse = fit_clv(inflated, AS_OF, cfg)
    good = fit_clv(orders, AS_OF, cfg)
    bad_mae, champ_mae, described = clv_champion_backtest(worse, champion, orders, AS_OF)
    good_mae, champ_again, _ = clv_champion_backtest(good, champion, orders, AS_OF)
    assert champ_again == pytest.approx(champ_mae)  # same window, same rows
    assert bad_mae > champ_mae and "customers, purchase days" in described
    assert str(champion_as_of) in described  # window starts at the champion's as_of

    v1 = tracking.log_and_register("customer_value", "clv", champion, {}, {}, {}, None)
    v2 = tracking.log_and_register(
        "customer_value", "clv", worse, {}, {}, {}, None, set_champion=False
    )
    decision = tracking.promote_if_better(
        "customer_value", v2, "holdout_mae", bad_mae, champ_mae, higher_is_better=False
    )
    assert not decision["promoted"]
    assert int(tracking.champion_version("customer_value").version) == v1
    if good_mae <= champ_mae:  # a challenger at least as good takes the alias
        v3 = tracking.log_and_register(
            "customer_value", "clv", good, {}, {}, {}, None, set_champion=False
        )
        assert tracking.promote_if_better(
            "customer_value", v3, "holdout_mae", good_mae, champ_mae, higher_is_better=False
        )["promoted"]


def test_fit_on_a_sample_above_max_fit_customers_scores_everyone(orders, model) -> None:
    """Above `max_fit_customers` the parameters come from a seeded sample (0080), and every
    customer is still scored."""
    from dataclasses import replace

    from models_ml.clv import ClvConfig

    cfg = replace(ClvConfig(), purchase_model="bgnbd", max_fit_customers=150)
    a = fit_clv(orders, AS_OF, cfg)
    assert a.n_customers == 150 < model.n_customers
    scored = predict_clv(a, orders, AS_OF)
    assert len(scored) == model.n_customers and scored["predicted_clv_12m"].notna().all()


def test_predictions_per_distinct_summary_equal_the_library_per_customer(model, orders) -> None:
    """`predict_from_summary` asks pymc-marketing once per distinct summary and hands the
    result to every customer holding it: the values must be the library's own per customer."""
    summary = clv_summary(orders, AS_OF)
    twins = summary.sample(60, random_state=3)  # customers with another's exact summary
    summary = pd.concat([summary, twins.assign(customer_id="twin-" + twins["customer_id"])],
                        ignore_index=True).sample(frac=1, random_state=4)
    ours = predict_from_summary(model, summary).set_index("customer_id")
    data = summary[["customer_id", "frequency", "recency", "T"]]
    direct = model.purchases.expected_purchases(data=data, future_t=52.0)
    alive = model.purchases.expected_probability_alive(data=data)
    for column, values in (("expected_purchases_12m", direct), ("p_alive", alive)):
        library = values.mean(("chain", "draw")).to_series()
        assert np.allclose(ours.loc[library.index, column].to_numpy(),
                           library.clip(lower=0).to_numpy(), rtol=0, atol=1e-12), column
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    spend = model.gamma_gamma.expected_customer_spend(
        data=repeat[["customer_id", "frequency", "monetary_value"]])
    spend = spend.mean(("chain", "draw")).to_series()
    assert np.allclose(ours.loc[spend.index, "expected_spend_cny"], spend, rtol=0, atol=1e-9)


def test_clv_vs_realised_scores_a_forecast_against_the_orders_that_followed():
    from models_ml.bench import clv_vs_realised

    pred = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                         "expected_purchases_12m": [2.0, 1.0, 0.0, 0.0, 1.0],
                         "predicted_clv_12m": [300.0, 50.0, 0.0, 0.0, 100.0]})
    future = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "e"],  # a: two orders on one day = 2 purchase days
        "ordered_at": pd.to_datetime(["2027-01-04 09:00", "2027-01-04 18:00", "2027-02-01 10:00",
                                      "2027-01-10 10:00", "2027-03-01 10:00"]),
        "amount_cny": [100.0, 100.0, 100.0, 50.0, 100.0],
    })
    out = clv_vs_realised(pred, future, 26)
    assert out["purchases_aggregate_pct"] == 0.0 and out["spend_aggregate_pct"] == 0.0
    assert out["purchases_mae"] == 0.0 and out["spend_mae"] == 0.0
    assert out["top20_spend_share"] == out["top20_spend_share_oracle"] == 300 / 450
    wrong = clv_vs_realised(pred.assign(predicted_clv_12m=[0.0, 0.0, 0.0, 300.0, 0.0]), future, 26)
    assert wrong["top20_spend_share"] == 0.0 and wrong["spend_spearman"] < 0
