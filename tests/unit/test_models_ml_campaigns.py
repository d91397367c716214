"""Campaign evaluation (uplift with intervals, revenue, ROI) and targeting (uplift model,
random control group)."""

import numpy as np
import pandas as pd
import pytest

from models_ml.campaigns import (
    RESULT_COLUMNS,
    CampaignConfig,
    assign_holdout,
    attribute_outcomes,
    evaluate_campaigns,
    fit_uplift_model,
    proportion_uplift,
    score_uplift,
    standardised_mean_differences,
    training_frame,
    uplift_metrics,
    validation_split,
)

T0 = pd.Timestamp("2026-03-02 10:00", tz="UTC")


def ts(days: float | None):
    return pd.NaT if days is None else T0 + pd.Timedelta(days=days)


def members_frame(rows):
    cols = ["campaign_id", "customer_id", "is_treatment", "sent_at", "responded_at",
            "converted_at", "cost_cny"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("sent_at", "responded_at", "converted_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def test_outcomes_count_only_inside_the_attribution_window():
    members = members_frame([
        # treatment sent 1 h after the first send; converted on day 10, ordered on day 5
        ("c1", "A", True, ts(0), ts(1), ts(10), 0.1),
        ("c1", "B", True, ts(1 / 24), None, ts(31), 0.1),  # conversion after 30 days
        ("c1", "C", False, None, None, ts(3), 0.0),  # control: window from the campaign start
        ("c1", None, False, None, None, None, 0.0),  # unmatched contact
        ("c2", "A", True, None, None, None, 0.0),  # never sent: no start, dropped
    ])
    orders = pd.DataFrame({
        "customer_id": ["A", "A", "C", "C"],
        "ordered_at": [ts(5), ts(-1), ts(29.9), ts(30)],
        "amount_cny": [100.0, 50.0, 20.0, 999.0],
    })
    out = attribute_outcomes(members, orders, attribution_days=30)
    assert set(out["campaign_id"]) == {"c1"}
    by = out.set_index(out["customer_id"].fillna("none"))
    assert by.loc["A", "converted"] and by.loc["A", "responded"]
    assert not by.loc["B", "converted"]
    assert by.loc["C", "converted"]
    assert by.loc["A", "revenue_in_window"] == 100.0  # not the order before the send
    assert by.loc["C", "revenue_in_window"] == 20.0  # day 30 is outside [start, start + 30d)
    assert by.loc["none", "orders_in_window"] == 0
    shorter = attribute_outcomes(members, orders, attribution_days=7).set_index("customer_id")
    assert not shorter.loc["A", "converted"] and shorter.loc["C", "converted"]


def test_proportion_uplift_interval_and_ratio():
    res = proportion_uplift(120, 1000, 60, 1000)
    assert res["uplift"] == pytest.approx(0.06)
    assert 0 < res["uplift_ci_low"] < 0.06 < res["uplift_ci_high"] < 0.12
    assert res["relative_uplift"] == pytest.approx(1.0)
    assert res["relative_uplift_ci_low"] < 1.0 < res["relative_uplift_ci_high"]
    assert res["p_value"] < 0.001
    same = proportion_uplift(50, 1000, 50, 1000)
    assert same["uplift_ci_low"] < 0 < same["uplift_ci_high"]
    assert same["p_value"] == pytest.approx(1.0)
    none = proportion_uplift(3, 100, 0, 100)  # zero control rate: no ratio, still a difference
    assert np.isnan(none["relative_uplift"]) and none["uplift_ci_low"] < 0.03


def synthetic_outcomes(rng, n, campaigns):
    """campaigns: {id: (control conversion rate, uplift, revenue per order)}."""
    frames = []
    for cid, (base, up, value) in campaigns.items():
        treat = rng.random(n) < 0.5
        conv = rng.random(n) < base + up * treat
        frames.append(pd.DataFrame({
            "campaign_id": cid, "campaign_name": f"name {cid}", "channel": "email",
            "customer_id": [f"{cid}-{i}" for i in range(n)], "is_treatment": treat,
            "campaign_start": T0, "responded": conv | (rng.random(n) < 0.05),
            "converted": conv, "orders_in_window": conv.astype(int),
            "revenue_in_window": np.where(conv, value, 0.0),
            "cost_cny": np.where(treat, 0.5, 0.0)}))
    return pd.concat(frames, ignore_index=True)


def test_evaluation_flags_real_and_null_effects_and_computes_roi():
    rng = np.random.default_rng(3)
    out = synthetic_outcomes(rng, 20_000, {"up": (0.02, 0.03, 200.0), "null": (0.03, 0.0, 200.0)})
    res = evaluate_campaigns(out).set_index("campaign_id")
    assert list(res.reset_index().columns) == RESULT_COLUMNS
    up, null = res.loc["up"], res.loc["null"]
    assert up["verdict"] == "significant_positive" and bool(up["conversion_significant"])
    assert null["verdict"] == "not_significant" and not bool(null["conversion_significant"])
    assert up["conversion_uplift_ci_low"] <= 0.03 <= up["conversion_uplift_ci_high"]
    treated = out[(out["campaign_id"] == "up") & out["is_treatment"]]
    control = out[(out["campaign_id"] == "up") & ~out["is_treatment"]]
    incremental = (treated["revenue_in_window"].mean() - control["revenue_in_window"].mean()
                   ) * len(treated)
    assert up["incremental_revenue_cny"] == pytest.approx(incremental)
    assert up["cost_cny"] == pytest.approx(0.5 * len(treated))
    assert up["roi"] == pytest.approx((incremental - up["cost_cny"]) / up["cost_cny"])
    assert up["incremental_revenue_ci_low"] < incremental < up["incremental_revenue_ci_high"]
    assert up["attribution_days"] == 30 and up["confidence_level"] == pytest.approx(0.95)


def test_no_control_group_and_segments():
    rng = np.random.default_rng(4)
    out = synthetic_outcomes(rng, 2_000, {"a": (0.05, 0.05, 10.0)})
    news = out.assign(campaign_id="news", is_treatment=True)
    segments = pd.DataFrame({"customer_id": out["customer_id"],
                             "segment_type": "rfm_segment",
                             "segment": np.where(np.arange(len(out)) < 1_960, "big", "tiny")})
    res = evaluate_campaigns(pd.concat([out, news]), CampaignConfig(min_group_size=30),
                             segments)
    keyed = res.set_index(["campaign_id", "segment_type", "segment"])
    assert keyed.loc[("news", "all", "all"), "verdict"] == "no_control_group"
    assert ("a", "rfm_segment", "big") in keyed.index
    assert ("a", "rfm_segment", "tiny") not in keyed.index  # 40 members: under 30 per group
    assert keyed.loc[("a", "rfm_segment", "big"), "treatment_members"] < keyed.loc[
        ("a", "all", "all"), "treatment_members"]


def test_intervals_cover_the_generators_true_uplift():
    """The generator's own campaigns (true uplift known, about a quarter with none): the
    intervals cover the truth in at least 90% of campaigns and the zero-uplift campaigns are
    mostly reported not significant (5% false positives expected at 95% confidence)."""
    from pipelines.campaign_bench import simulate, summarise

    df = pd.concat([simulate(4_000, seed, 40) for seed in (1, 2, 3)], ignore_index=True)
    s = summarise(df)
    assert s["campaigns"] == 120 and s["zero_uplift_campaigns"] >= 20
    assert s["response_coverage"] >= 0.9
    assert s["conversion_coverage"] >= 0.9
    assert s["zero_uplift_reported_significant"] <= 0.15


def test_the_default_export_has_a_zero_uplift_campaign_reported_not_significant():
    from pipelines.campaign_bench import simulate

    df = simulate(20_000, 7, 8)  # what `make demo` generates (8 campaigns, seed 7)
    zero = df[df["conversion_true"] == 0]
    assert len(zero) >= 1
    assert (zero["conversion_verdict"] == "not_significant").all()


def features_and_outcomes(rng, n=6_000):
    """Two past campaigns; the treatment only works for customers with x > 0."""
    x = rng.normal(size=n)
    treat = rng.random(n) < 0.5
    conv = rng.random(n) < 0.05 + 0.15 * treat * (x > 0)
    cid = np.where(np.arange(n) < n // 2, "c1", "c2")
    start = np.where(cid == "c1", T0, T0 + pd.Timedelta(days=70))
    outcomes = pd.DataFrame({"campaign_id": cid, "customer_id": [f"p{i}" for i in range(n)],
                             "is_treatment": treat, "converted": conv,
                             "campaign_start": pd.to_datetime(start, utc=True)})
    snaps = []
    for days, shift in ((-8, 0.0), (-1, 0.0), (2, 5.0)):  # the snapshot after the send lies
        snaps.append(pd.DataFrame({"customer_id": outcomes["customer_id"],
                                   "snapshot_date": (T0 + pd.Timedelta(days=days)).date(),
                                   "x": x + shift, "noise": rng.normal(size=n)}))
    return outcomes, pd.concat(snaps, ignore_index=True)


def test_training_frame_uses_only_snapshots_before_the_send():
    rng = np.random.default_rng(5)
    outcomes, snaps = features_and_outcomes(rng)
    snaps["snapshot_date"] = pd.to_datetime(snaps["snapshot_date"])
    train = training_frame(outcomes, snaps, ["x", "noise"])
    c1 = train[train["campaign_id"] == "c1"]
    assert len(c1) == (outcomes["campaign_id"] == "c1").sum()
    # week ending the day before the send (T0 - 1 day) is the newest usable one, not T0 + 2
    assert (c1["snapshot_date"] == (T0 - pd.Timedelta(days=1)).tz_localize(None).normalize()
            ).all()
    assert (c1["x"] < 4).mean() > 0.99  # never the (shifted) snapshot after the send
    c2 = train[train["campaign_id"] == "c2"]  # sent 70 days later: that snapshot is the newest
    assert (c2["x"] > 0).mean() > 0.99


def test_the_snapshot_rows_read_for_training_give_the_same_training_frame():
    import duckdb

    from pipelines.defs.campaigns import member_snapshots

    rng = np.random.default_rng(8)
    outcomes, _ = features_and_outcomes(rng, n=600)
    outcomes["customer_id"] = [f"p{i % 300}" for i in range(600)]  # in both campaigns
    # c2 starts at midnight: the week ending the day before is usable only from that instant
    c2 = outcomes["campaign_id"] == "c2"
    outcomes.loc[c2, "campaign_start"] = outcomes.loc[c2, "campaign_start"].dt.normalize()
    snaps = pd.concat([pd.DataFrame({
        "customer_id": [f"p{i}" for i in range(400)],  # p300..p399 were never members
        "snapshot_date": (T0 + pd.Timedelta(days=days)).date(),
        "x": rng.normal(size=400), "noise": rng.normal(size=400)})
        for days in (-15, -8, -1, 2, 55, 62, 69, 76)], ignore_index=True)
    snaps = snaps[rng.random(len(snaps)) < 0.8]  # customers without a row in some weeks
    con = duckdb.connect()
    con.sql("set TimeZone = 'UTC'")
    con.sql("create schema marts")
    con.sql("create table marts.customer_features_weekly as select * from snaps")
    read = member_snapshots(con, outcomes, ["x", "noise"])
    assert len(read) < len(snaps) / 3
    snaps["snapshot_date"] = pd.to_datetime(snaps["snapshot_date"]).astype("datetime64[us]")
    expected = training_frame(outcomes, snaps, ["x", "noise"])
    got = training_frame(outcomes, read, ["x", "noise"])
    assert len(got) > 500
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def test_no_snapshot_before_any_campaign_gives_an_empty_training_frame():
    # a first run with a single weekly snapshot: the snapshot read returns no rows
    outcomes, snaps = features_and_outcomes(np.random.default_rng(9), n=200)
    outcomes["customer_id"] = outcomes["customer_id"].astype("string")
    empty = snaps.iloc[0:0].astype(object)
    assert training_frame(outcomes, empty, ["x", "noise"]).empty


def test_uplift_model_ranks_persuadable_customers_first():
    rng = np.random.default_rng(6)
    outcomes, snaps = features_and_outcomes(rng)
    snaps["snapshot_date"] = pd.to_datetime(snaps["snapshot_date"])
    snaps = snaps[snaps["snapshot_date"] < T0.tz_localize(None)]  # not the shifted one
    train = training_frame(outcomes, snaps, ["x", "noise"])
    fit, valid = validation_split(train)
    assert set(valid["campaign_id"]) == {"c2"} and set(fit["campaign_id"]) == {"c1"}
    model = fit_uplift_model(fit, ["x", "noise"], CampaignConfig())
    scored = score_uplift(model, valid, ["x", "noise"])
    scored[["is_treatment", "converted"]] = valid[["is_treatment", "converted"]].to_numpy()
    scored["x"] = valid["x"].to_numpy()
    assert scored.loc[scored["x"] > 0.5, "uplift_score"].mean() > scored.loc[
        scored["x"] < -0.5, "uplift_score"].mean() + 0.05
    good = uplift_metrics(scored, 0.3)
    assert good["uplift_top30"] > good["uplift_all"] + 0.03
    shuffled = uplift_metrics(scored.assign(uplift_score=rng.permutation(scored["uplift_score"])))
    assert good["qini_auc"] > shuffled["qini_auc"] + 0.01


def test_holdout_is_seeded_random_and_balanced():
    rng = np.random.default_rng(7)
    n = 20_000
    feats = pd.DataFrame({"customer_id": [f"k{i:05d}" for i in range(n)],
                          "orders_365d": rng.poisson(3, n),
                          "revenue_365d_cny": rng.gamma(2, 500, n),
                          "days_since_last_order": rng.integers(0, 400, n)})
    held = assign_holdout(feats["customer_id"], 0.2, seed=42)
    assert held.mean() == pytest.approx(0.2, abs=0.01)
    again = assign_holdout(feats["customer_id"].sample(frac=1, random_state=1), 0.2, seed=42)
    assert (again.sort_index() == held).all()  # same customers + seed -> same groups
    assert not (assign_holdout(feats["customer_id"], 0.2, seed=43) == held).all()
    # balance among targets selected by a score that depends on the features
    score = feats["orders_365d"] + rng.normal(size=n)
    top = feats.assign(held=held)[score >= score.quantile(0.7)]
    smd = standardised_mean_differences(top, top["held"], ["orders_365d", "revenue_365d_cny",
                                                           "days_since_last_order"])
    assert max(smd.values()) < 0.1
    # the check can fail: a group chosen by a feature is unbalanced
    biased = standardised_mean_differences(top, top["orders_365d"] > 4, ["orders_365d"])
    assert biased["orders_365d"] > 0.5
