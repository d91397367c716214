"""Churn labels, time-split training, scoring and reasons (models_ml.churn)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models_ml.churn import SCORE_COLUMNS, label_snapshots, reason_text, score_churn, train_churn
from models_ml.config import ChurnConfig

FEATURES = [
    "tenure_days", "days_since_last_order", "orders_90d", "orders_365d", "revenue_90d_cny",
    "avg_order_value_cny", "complaints_90d", "tickets_90d",
]  # fmt: skip


def test_labels_on_a_hand_made_case() -> None:
    snapshots = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "a", "d"],
            "snapshot_date": [date(2024, 1, 1)] * 3 + [date(2024, 3, 15), date(2024, 1, 31)],
        }
    )
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "d"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 10:00",  # snapshot day itself: does not count
                    "2024-03-31 23:00",  # day 90: inside the horizon
                    "2024-04-01 00:30",  # day 91: outside
                    "2024-01-31 12:00",  # only on its snapshot day
                ]
            ).tz_localize("UTC"),
            "amount_cny": [10.0, 20.0, 30.0, 40.0],
        }
    )
    labeled = label_snapshots(snapshots, orders, horizon_days=90, data_end=date(2024, 5, 1))
    assert labeled["churned"].iloc[:3].tolist() == [0.0, 1.0, 1.0]
    assert np.isnan(labeled["churned"].iloc[3])  # 2024-03-15 + 90 d is after data_end
    assert labeled["churned"].iloc[4] == 1.0  # 2024-01-31 + 90 d = 2024-04-30 <= data_end
    assert list(labeled.columns) == ["customer_id", "snapshot_date", "churned"]


def test_label_boundary_is_data_end_inclusive() -> None:
    snapshots = pd.DataFrame({"customer_id": ["x"], "snapshot_date": [date(2024, 1, 1)]})
    orders = pd.DataFrame({"customer_id": ["y"], "ordered_at": [pd.Timestamp("2024-01-01")]})
    on_time = label_snapshots(snapshots, orders, 90, data_end=date(2024, 3, 31))
    too_late = label_snapshots(snapshots, orders, 90, data_end=date(2024, 3, 30))
    assert on_time["churned"].iloc[0] == 1.0
    assert np.isnan(too_late["churned"].iloc[0])


def make_labeled(n_customers: int = 400, n_weeks: int = 30, seed: int = 3) -> pd.DataFrame:
    """Weekly snapshots whose churn depends on recency, activity and complaints."""
    rng = np.random.default_rng(seed)
    n = n_customers * n_weeks
    dates = pd.date_range("2023-01-02", periods=n_weeks, freq="7D").date
    days = rng.exponential(60, n)
    orders_90d = rng.poisson(np.clip(6 - days / 20, 0.2, None))
    complaints = rng.poisson(0.3, n).astype(float)
    logit = -1.0 + days / 40 - 0.4 * orders_90d + 0.8 * complaints
    frame = pd.DataFrame(
        {
            "customer_id": np.tile([f"c{i:04d}" for i in range(n_customers)], n_weeks),
            "snapshot_date": np.repeat(dates, n_customers),
            "tenure_days": rng.integers(30, 1500, n).astype(float),
            "days_since_last_order": days,
            "orders_90d": orders_90d.astype(float),
            "orders_365d": (orders_90d + rng.poisson(3, n)).astype(float),
            "revenue_90d_cny": orders_90d * rng.gamma(4, 50, n),
            "avg_order_value_cny": rng.gamma(4, 50, n),
            "complaints_90d": complaints,
            "tickets_90d": rng.poisson(0.5, n).astype(float),
        }
    )
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    frame.loc[rng.random(n) < 0.05, "complaints_90d"] = np.nan  # nulls are allowed
    return frame


# one OpenMP thread: on a shared CI core, waiting threads made this fit 60x slower
ONE_THREAD = ChurnConfig(n_threads=1)


@pytest.fixture(scope="module")
def trained():
    labeled = make_labeled()
    model, metrics = train_churn(labeled, FEATURES, seed=42, config=ONE_THREAD)
    return labeled, model, metrics


def test_time_split_trains_on_older_dates(trained) -> None:
    labeled, _, metrics = trained
    assert metrics["train_min_date"] == str(labeled["snapshot_date"].min())
    assert metrics["train_max_date"] < metrics["valid_min_date"]
    assert metrics["calibration_min_date"] <= metrics["train_max_date"]
    assert metrics["valid_max_date"] == str(labeled["snapshot_date"].max())
    n_dates = labeled["snapshot_date"].nunique()
    n_valid_dates = len(
        pd.date_range(metrics["valid_min_date"], metrics["valid_max_date"], freq="7D")
    )
    assert n_valid_dates == n_dates - round(0.7 * n_dates)
    assert metrics["n_train"] + metrics["n_calibration"] + metrics["n_valid"] == len(labeled)
    # the returned model is refitted on all dates, calibrated on the latest ones
    assert metrics["final_calibration_max_date"] == str(labeled["snapshot_date"].max())
    assert metrics["final_train_max_date"] < metrics["final_calibration_min_date"]


def test_validated_model_can_be_returned_as_is() -> None:
    labeled = make_labeled(100, 12)
    model, metrics = train_churn(labeled, FEATURES,
                                 config=ChurnConfig(refit_on_all=False, n_threads=1))
    assert "final_train_max_date" not in metrics
    # its drift reference: the newest weeks it was trained on, its calibration dates
    assert model.reference_dates == (metrics["calibration_min_date"], metrics["train_max_date"])
    with pytest.raises(ValueError, match="embargo"):
        train_churn(labeled, FEATURES, config=ChurnConfig(embargo_days=400, n_threads=1))


def test_metrics_show_signal(trained) -> None:
    _, _, metrics = trained
    assert metrics["roc_auc"] > 0.7
    assert 0 < metrics["pr_auc"] <= 1
    assert 0 < metrics["brier"] < 0.25
    assert metrics["log_loss"] > 0
    assert 0.5 < metrics["baseline_auc_days_since_last_order"] < 1


def test_scores_bands_and_reasons(trained) -> None:
    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    latest = latest.drop(columns="churned")
    scored = score_churn(model, latest, FEATURES)
    assert list(scored.columns) == SCORE_COLUMNS
    assert len(scored) == len(latest)
    assert scored["churn_probability"].between(0, 1).all()
    expected_band = np.where(
        scored["churn_probability"] >= 0.6,
        "high",
        np.where(scored["churn_probability"] >= 0.3, "medium", "low"),
    )
    assert (scored["risk_band"] == expected_band).all()
    for col in ("reason_1", "reason_2", "reason_3"):
        assert scored[col].map(lambda s: isinstance(s, str)).all()
    # a reason never follows an empty slot
    assert not ((scored["reason_1"] == "") & (scored["reason_2"] != "")).any()
    high = scored[scored["risk_band"] == "high"]
    assert (high["reason_1"] != "").all()
    assert high["reason_1"].str.contains("no order for").any()


def test_each_row_is_scored_as_itself_whatever_its_twins_and_order(trained) -> None:
    """Scores and reasons are computed once per distinct feature row and spread back."""
    from models_ml._frames import numeric
    from models_ml.churn import contributions

    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    latest = latest.drop(columns="churned")
    latest = latest.assign(customer_id=latest["customer_id"].astype(str))
    twins = latest.assign(customer_id="twin_" + latest["customer_id"])
    scored = score_churn(model, pd.concat([latest, twins]).sample(frac=1, random_state=3),
                         FEATURES).set_index("customer_id")
    own = scored.loc[latest["customer_id"]]
    x = numeric(latest, FEATURES)
    np.testing.assert_allclose(own["churn_probability"], model.estimator.predict_proba(x)[:, 1],
                               rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(own.reset_index(drop=True),
                                  scored.loc[twins["customer_id"]].reset_index(drop=True))
    delta = contributions(model, x)  # the first reason: the row's strongest positive SHAP value
    top = delta.argmax(axis=1)
    strong = delta.max(axis=1) >= model.config.min_reason_shap
    expected = [reason_text(FEATURES[j], v, model.reference[FEATURES[j]]) if ok else ""
                for j, v, ok in zip(top, x.to_numpy()[np.arange(len(x)), top], strong)]
    assert own["reason_1"].tolist() == expected


def test_more_days_since_last_order_never_lowers_risk(trained) -> None:
    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    base = score_churn(model, latest, FEATURES)["churn_probability"]
    later = latest.assign(days_since_last_order=latest["days_since_last_order"] + 60)
    shifted = score_churn(model, later, FEATURES)["churn_probability"]
    assert shifted.mean() > base.mean()
    assert (shifted.to_numpy() >= base.to_numpy() - 1e-12).all()  # monotonic constraint


def test_reason_text() -> None:
    assert reason_text("days_since_last_order", 120, 30) == "no order for 120 days"
    assert reason_text("complaints_90d", 2, 0) == "2 complaints in 90 days"
    assert reason_text("complaints_90d", 1, 0) == "1 complaint in 90 days"
    assert reason_text("orders_90d", 0, 2) == "no orders in 90 days"
    assert reason_text("revenue_90d_cny", float("nan"), 100) == "nothing spent in 90 days"
    assert reason_text("some_new_feature", 3, 1) == "some new feature high (3)"


def test_more_complaints_never_lower_risk(trained) -> None:
    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    base = score_churn(model, latest, FEATURES)["churn_probability"].to_numpy()
    angry = latest.assign(complaints_90d=latest["complaints_90d"].fillna(0) + 3)
    more = score_churn(model, angry, FEATURES)["churn_probability"].to_numpy()
    assert more.mean() > base.mean()
    assert (more >= base - 1e-12).all()


def test_a_more_recent_purchase_never_raises_risk(trained) -> None:
    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    base = score_churn(model, latest, FEATURES)["churn_probability"].to_numpy()
    recent = latest.assign(days_since_last_order=latest["days_since_last_order"] / 4)
    now = score_churn(model, recent, FEATURES)["churn_probability"].to_numpy()
    assert (now <= base + 1e-12).all()


def test_renaming_a_customer_changes_no_score(trained) -> None:
    labeled, model, _ = trained
    latest = labeled[labeled["snapshot_date"] == labeled["snapshot_date"].max()]
    renamed = latest.assign(customer_id="zz_" + latest["customer_id"])
    a = score_churn(model, latest, FEATURES).drop(columns="customer_id")
    b = score_churn(model, renamed, FEATURES).drop(columns="customer_id")
    pd.testing.assert_frame_equal(a, b)
    retrained, _ = train_churn(
        labeled.assign(customer_id="zz_" + labeled["customer_id"]), FEATURES, 42, ONE_THREAD
    )
    c = score_churn(retrained, renamed, FEATURES).drop(columns="customer_id")
    pd.testing.assert_frame_equal(a, c)


def test_champion_backtest_uses_rows_unseen_by_both(trained) -> None:
    from models_ml.churn import champion_backtest

    labeled, model, metrics = trained
    ch, champ, how = champion_backtest(model, None, labeled, metrics["valid_min_date"], None)
    assert champ is None and ch == pytest.approx(metrics["roc_auc"], abs=1e-9)
    # a champion trained up to the first validation date is compared on the later ones only
    cut = sorted(labeled["snapshot_date"].unique())
    cut = [str(d) for d in cut if str(d) >= metrics["valid_min_date"]]
    ch, champ, how = champion_backtest(model, model, labeled, metrics["valid_min_date"], cut[0])
    assert champ is not None and 0.5 < ch <= 1 and str(len(cut) - 1) not in ("0",)
    assert cut[1] in how and cut[0] not in how
    _, none, how = champion_backtest(model, model, labeled, metrics["valid_min_date"], cut[-1])
    assert none is None and "no labeled dates" in how


def test_reasons_are_exact_shap_values(trained) -> None:
    import shap

    from models_ml._frames import numeric
    from models_ml.churn import contributions

    labeled, model, _ = trained
    x = numeric(labeled.head(300), model.feature_cols)
    values = contributions(model, x)
    assert values.shape == (300, len(model.feature_cols))
    expected = shap.TreeExplainer(model.base).expected_value
    # SHAP values add up to the booster's raw score (log-odds), rows with NaN included
    np.testing.assert_allclose(
        values.sum(axis=1) + np.ravel(expected)[-1], model.base.decision_function(x), atol=1e-6
    )
    days = model.feature_cols.index("days_since_last_order")
    assert np.corrcoef(x["days_since_last_order"], values[:, days])[0, 1] > 0.5


def test_tree_shap_by_pattern_equals_shap_on_every_row(trained) -> None:
    """The per-pattern computation (0069) gives shap's own values for every row: missing
    values, values exactly on a split threshold and repeated rows included."""
    import shap

    from models_ml._frames import numeric
    from models_ml.churn import tree_shap

    labeled, model, _ = trained
    x = numeric(labeled, model.feature_cols).to_numpy(dtype=float, copy=True)
    rng = np.random.default_rng(0)
    x[rng.random(x.shape) < 0.05] = np.nan
    tree = shap.TreeExplainer(model.base).model.trees[0]
    node = int(np.flatnonzero(tree.children_left >= 0)[0])
    x[:50, tree.features[node]] = tree.thresholds[node]  # on the split: goes left
    expected = np.asarray(shap.TreeExplainer(model.base).shap_values(x), dtype=float)
    got = tree_shap(model.base, x)
    assert np.isnan(x).any(axis=1).sum() > 100
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_clv_baseline_auc_ranks_frequent_buyers_as_staying() -> None:
    from models_ml.churn import clv_baseline_auc

    rng = np.random.default_rng(3)
    start = pd.Timestamp("2024-01-01")
    rows, labels = [], []
    for i in range(120):
        frequent = i % 2 == 0
        gaps = rng.exponential(10 if frequent else 120, 100)
        days = np.cumsum(gaps)
        days = days[days < 360]
        rows += [(f"c{i}", start + pd.Timedelta(days=float(d)), 100.0) for d in days]
        labels.append((f"c{i}", 0.0 if frequent else 1.0))
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount_cny"])
    labeled = pd.DataFrame(labels, columns=["customer_id", "churned"])
    labeled["snapshot_date"] = date(2024, 12, 26)
    auc = clv_baseline_auc(labeled, orders, "2024-12-26", horizon_days=90)
    assert auc > 0.8
    assert np.isnan(clv_baseline_auc(labeled, orders, "2023-06-01"))


def test_drift_reference_describes_the_newest_training_weeks() -> None:
    """Customers' recency trends over the weeks (histories lengthen, the base ages): the model
    trained this run must not look drifted on its own newest labeled week. A reference pooled
    over all weeks did (decision 0088: 1M customers, score PSI 0.31 on the week it was
    trained for, refit the next week)."""
    from models_ml import drift
    from models_ml.churn import drift_reference

    labeled = make_labeled(400, 30, seed=5)
    week = labeled.groupby("snapshot_date").ngroup().to_numpy()
    labeled["days_since_last_order"] *= 0.3 + week / 10  # mean 18 days -> 105 days
    model, metrics = train_churn(labeled, FEATURES, seed=1, config=ONE_THREAD)
    ref = drift_reference(model)
    assert ref["_dates"] == [metrics["final_calibration_min_date"],
                             metrics["final_calibration_max_date"]]
    # the final calibration weeks, all of them at this size (fewer than 20,000 rows)
    n_calib = (labeled["snapshot_date"].astype(str) >= metrics["final_calibration_min_date"]).sum()
    assert ref["_rows"] == n_calib
    assert set(FEATURES) | {"churn_probability"} <= set(ref)

    def psi_of(rows: pd.DataFrame) -> pd.Series:
        current = rows.assign(churn_probability=model.predict_proba(rows))
        return drift.drift_table(ref, current).set_index("name")["psi"]

    dates = sorted(labeled["snapshot_date"].unique())
    newest = psi_of(labeled[labeled["snapshot_date"] == dates[-1]])
    assert newest["days_since_last_order"] < drift.WATCH
    assert newest["churn_probability"] < drift.WATCH
    # real drift still shows: the oldest weeks look nothing like the reference
    oldest = psi_of(labeled[labeled["snapshot_date"] == dates[0]])
    assert oldest["days_since_last_order"] >= drift.DRIFT
    assert oldest["churn_probability"] >= drift.DRIFT
