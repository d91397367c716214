"""Campaign evaluation against the control group, and targeting for the next campaign.

Evaluation (`attribute_outcomes`, `evaluate_campaigns`): every member of a campaign with a
control group is followed for `attribution_days` (default 30) from the campaign's first send
(the control group is never sent anything, so the campaign's send time is the start for both
groups). Outcomes per member: responded and converted (the CRM's own flags, counted when they
fall in the window) and the paid orders and revenue of the member's customer in the window.
Per campaign (and per segment) the treatment and control rates are compared:

- absolute uplift (difference of proportions) with Newcombe's hybrid score interval, relative
  uplift (ratio - 1) with the log-adjusted interval (statsmodels), and a two-sided test;
- incremental revenue = (revenue per treated member - revenue per control member) x treated
  members, with a Welch interval, and ROI = (incremental revenue - cost) / cost.

A campaign whose conversion interval includes 0 is reported `not_significant`.

Targeting (`fit_uplift_model`, `score_uplift`, `assign_holdout`): a regularised logistic
regression of conversion on features from the week before each past campaign, the treatment
flag and their interactions (an S-learner); a customer's uplift score is
P(convert | treated) - P(convert | not treated).
The target list for the next campaign is taken from the highest scores among contactable
customers, and a seeded random share is held out as the control group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUP_KEYS = ["campaign_id", "segment_type", "segment"]
# columns of ml.campaign_results (the contract of bi.campaign_results)
RESULT_COLUMNS = [
    "campaign_id",
    "segment_type",
    "segment",
    "campaign_name",
    "channel",
    "campaign_start",
    "attribution_days",
    "confidence_level",
    "treatment_members",
    "control_members",
    "treatment_responses",
    "control_responses",
    "response_rate_treatment",
    "response_rate_control",
    "response_uplift",
    "response_uplift_ci_low",
    "response_uplift_ci_high",
    "response_relative_uplift",
    "response_relative_uplift_ci_low",
    "response_relative_uplift_ci_high",
    "response_p_value",
    "response_significant",
    "treatment_conversions",
    "control_conversions",
    "conversion_rate_treatment",
    "conversion_rate_control",
    "conversion_uplift",
    "conversion_uplift_ci_low",
    "conversion_uplift_ci_high",
    "conversion_relative_uplift",
    "conversion_relative_uplift_ci_low",
    "conversion_relative_uplift_ci_high",
    "conversion_p_value",
    "conversion_significant",
    "order_rate_treatment",
    "order_rate_control",
    "revenue_per_member_treatment",
    "revenue_per_member_control",
    "revenue_uplift_per_member",
    "revenue_uplift_ci_low",
    "revenue_uplift_ci_high",
    "incremental_revenue_cny",
    "incremental_revenue_ci_low",
    "incremental_revenue_ci_high",
    "cost_cny",
    "roi",
    "verdict",
]


@dataclass(frozen=True)
class CampaignConfig:
    attribution_days: int = 30
    alpha: float = 0.05  # 1 - confidence level of every interval
    primary_metric: str = "conversion"  # the verdict follows this metric's interval
    min_group_size: int = 30  # segment rows with fewer members per group are left out
    control_share: float = 0.2  # share of the next campaign's targets held out as control
    target_share: float = 0.3  # share of contactable customers targeted (highest uplift)
    seed: int = 42
    max_iter: int = 1000
    regularisation_c: float = 0.1  # inverse L2 strength of the logistic regression


def campaign_starts(members: pd.DataFrame) -> pd.DataFrame:
    """First send per campaign (only campaigns with a send)."""
    sent = members[members["sent_at"].notna()]
    return sent.groupby("campaign_id", as_index=False)["sent_at"].min().rename(
        columns={"sent_at": "campaign_start"}
    )


def attribute_outcomes(members: pd.DataFrame, orders: pd.DataFrame, attribution_days: int = 30
                       ) -> pd.DataFrame:
    """One row per campaign member with the outcomes in the attribution window.

    members: campaign_id, customer_id (may be null), is_treatment, sent_at, responded_at,
    converted_at, cost_cny. orders: customer_id, ordered_at, amount_cny (paid orders).
    Adds campaign_start, window_end, responded, converted, orders_in_window,
    revenue_in_window.
    """
    df = members.merge(campaign_starts(members), on="campaign_id", how="inner")
    df["window_end"] = df["campaign_start"] + pd.Timedelta(days=attribution_days)

    def within(col: str) -> pd.Series:
        t = df[col]
        return t.notna() & (t >= df["campaign_start"]) & (t < df["window_end"])

    df["responded"] = within("responded_at")
    df["converted"] = within("converted_at")
    df["_member"] = np.arange(len(df))
    linked = df.loc[df["customer_id"].notna(), ["_member", "customer_id", "campaign_start",
                                                 "window_end"]]
    hits = linked.merge(orders[["customer_id", "ordered_at", "amount_cny"]], on="customer_id")
    hits = hits[(hits["ordered_at"] >= hits["campaign_start"])
                & (hits["ordered_at"] < hits["window_end"])]
    per = hits.groupby("_member").agg(orders_in_window=("amount_cny", "size"),
                                      revenue_in_window=("amount_cny", "sum"))
    df = df.join(per, on="_member")
    df["orders_in_window"] = df["orders_in_window"].fillna(0).astype(int)
    df["revenue_in_window"] = df["revenue_in_window"].fillna(0.0).astype(float)
    return df.drop(columns="_member")


def proportion_uplift(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> dict:
    """Difference and ratio of two proportions with confidence intervals and p-value."""
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    out = {"rate_treatment": x_t / n_t if n_t else np.nan,
           "rate_control": x_c / n_c if n_c else np.nan,
           "uplift": np.nan, "uplift_ci_low": np.nan, "uplift_ci_high": np.nan,
           "relative_uplift": np.nan, "relative_uplift_ci_low": np.nan,
           "relative_uplift_ci_high": np.nan, "p_value": np.nan}
    if not n_t or not n_c:
        return out
    out["uplift"] = out["rate_treatment"] - out["rate_control"]
    lo, hi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb",
                                        compare="diff", alpha=alpha)
    out["uplift_ci_low"], out["uplift_ci_high"] = float(lo), float(hi)
    if x_c > 0:
        out["relative_uplift"] = out["rate_treatment"] / out["rate_control"] - 1
        lo, hi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="log-adjusted",
                                            compare="ratio", alpha=alpha)
        out["relative_uplift_ci_low"], out["relative_uplift_ci_high"] = lo - 1, hi - 1
    if 0 < x_t + x_c < n_t + n_c:
        with np.errstate(divide="ignore", invalid="ignore"):  # ratio stats of a zero rate
            out["p_value"] = float(test_proportions_2indep(x_t, n_t, x_c, n_c, method="score",
                                                           compare="diff").pvalue)
    else:
        out["p_value"] = 1.0
    return out


def revenue_uplift(rev_t: np.ndarray, rev_c: np.ndarray, alpha: float = 0.05) -> dict:
    """Revenue per member, treatment minus control, with a Welch interval."""
    from scipy import stats

    out = {"revenue_per_member_treatment": float(np.mean(rev_t)) if len(rev_t) else np.nan,
           "revenue_per_member_control": float(np.mean(rev_c)) if len(rev_c) else np.nan,
           "revenue_uplift_per_member": np.nan, "revenue_uplift_ci_low": np.nan,
           "revenue_uplift_ci_high": np.nan}
    if len(rev_t) < 2 or len(rev_c) < 2:
        return out
    out["revenue_uplift_per_member"] = out["revenue_per_member_treatment"] - out[
        "revenue_per_member_control"]
    if np.var(rev_t) + np.var(rev_c) == 0:
        out["revenue_uplift_ci_low"] = out["revenue_uplift_ci_high"] = out[
            "revenue_uplift_per_member"]
        return out
    ci = stats.ttest_ind(rev_t, rev_c, equal_var=False).confidence_interval(1 - alpha)
    out["revenue_uplift_ci_low"], out["revenue_uplift_ci_high"] = ci.low, ci.high
    return out


def verdict(low: float, high: float) -> str:
    if np.isnan(low) or np.isnan(high):
        return "not_evaluable"
    if low > 0:
        return "significant_positive"
    if high < 0:
        return "significant_negative"
    return "not_significant"


def _evaluate_group(g: pd.DataFrame, cfg: CampaignConfig) -> dict:
    t, c = g[g["is_treatment"]], g[~g["is_treatment"]]
    row: dict = {"treatment_members": len(t), "control_members": len(c)}
    for metric in ("response", "conversion"):
        col = "responded" if metric == "response" else "converted"
        res = proportion_uplift(int(t[col].sum()), len(t), int(c[col].sum()), len(c), cfg.alpha)
        row[f"treatment_{metric}s"] = int(t[col].sum())
        row[f"control_{metric}s"] = int(c[col].sum())
        row |= {f"{metric}_{k}": v for k, v in res.items()}
        row[f"{metric}_significant"] = verdict(res["uplift_ci_low"], res["uplift_ci_high"]
                                               ).startswith("significant")
    row["order_rate_treatment"] = float((t["orders_in_window"] > 0).mean()) if len(t) else np.nan
    row["order_rate_control"] = float((c["orders_in_window"] > 0).mean()) if len(c) else np.nan
    rev = revenue_uplift(t["revenue_in_window"].to_numpy(float),
                         c["revenue_in_window"].to_numpy(float), cfg.alpha)
    row |= rev
    n_t = len(t)
    row["incremental_revenue_cny"] = rev["revenue_uplift_per_member"] * n_t
    row["incremental_revenue_ci_low"] = rev["revenue_uplift_ci_low"] * n_t
    row["incremental_revenue_ci_high"] = rev["revenue_uplift_ci_high"] * n_t
    row["cost_cny"] = float(g["cost_cny"].sum())
    cost = row["cost_cny"]
    row["roi"] = (row["incremental_revenue_cny"] - cost) / cost if cost > 0 else np.nan
    p = cfg.primary_metric
    row["verdict"] = verdict(row[f"{p}_uplift_ci_low"], row[f"{p}_uplift_ci_high"])
    return row


def evaluate_campaigns(outcomes: pd.DataFrame, cfg: CampaignConfig = CampaignConfig(),
                       segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per campaign (segment_type 'all') and, when `segments` is given (customer_id,
    segment_type, segment), per campaign and segment with enough members in both groups.
    Campaigns without a control group get verdict 'no_control_group'."""
    frames = [outcomes.assign(segment_type="all", segment="all")]
    if segments is not None and len(segments):
        frames.append(outcomes.merge(segments, on="customer_id", how="inner"))
    rows = []
    for key, g in pd.concat(frames, ignore_index=True).groupby(GROUP_KEYS, sort=True):
        n_t, n_c = int(g["is_treatment"].sum()), int((~g["is_treatment"]).sum())
        if key[1] != "all" and min(n_t, n_c) < cfg.min_group_size:
            continue
        if n_c == 0:
            row = {"treatment_members": n_t, "control_members": 0,
                   "cost_cny": float(g["cost_cny"].sum()), "verdict": "no_control_group"}
        else:
            row = _evaluate_group(g, cfg)
        first = g.iloc[0]
        rows.append({"campaign_id": key[0], "segment_type": key[1], "segment": key[2],
                     "campaign_name": first.get("campaign_name"), "channel": first.get("channel"),
                     "campaign_start": first["campaign_start"],
                     "attribution_days": cfg.attribution_days,
                     "confidence_level": 1 - cfg.alpha, **row})
    out = pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)
    for col in ("response_significant", "conversion_significant"):
        if col in out:
            out[col] = out[col].fillna(False).astype(bool)
    return out


# --- targeting --------------------------------------------------------------------------


def training_frame(outcomes: pd.DataFrame, snapshots: pd.DataFrame, feature_cols: list[str]
                   ) -> pd.DataFrame:
    """Members of past campaigns with control groups, with their features from the latest
    weekly snapshot strictly before the campaign start (point in time) and label converted."""
    has_control = outcomes.groupby("campaign_id")["is_treatment"].transform(lambda s: (~s).any())
    df = outcomes[has_control & outcomes["customer_id"].notna()].copy()
    snaps = snapshots[["customer_id", "snapshot_date", *feature_cols]].copy()
    # one key type on both sides: an empty snapshot read (no weekly snapshots before any
    # campaign) comes back as object columns, and merge_asof refuses mixed key types
    df["customer_id"] = df["customer_id"].astype(str)
    snaps["customer_id"] = snaps["customer_id"].astype(str)
    snaps["snapshot_ts"] = pd.to_datetime(snaps["snapshot_date"]).dt.tz_localize(None)
    df["start_ts"] = pd.to_datetime(df["campaign_start"]).dt.tz_localize(None)
    # a snapshot dated d holds the week ending d: usable from the day after
    snaps["usable_from"] = snaps["snapshot_ts"] + pd.Timedelta(days=1)
    df = pd.merge_asof(df.sort_values("start_ts"), snaps.sort_values("usable_from"),
                       left_on="start_ts", right_on="usable_from", by="customer_id",
                       direction="backward", allow_exact_matches=False)
    return df.dropna(subset=[feature_cols[0]])


def validation_split(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older campaigns, the latest campaign): validate on a campaign the model has not seen."""
    starts = train.groupby("campaign_id")["campaign_start"].min().sort_values()
    if len(starts) < 2:
        return train, train.iloc[0:0]
    last = train["campaign_id"] == starts.index[-1]
    return train[~last], train[last]


def design(features: pd.DataFrame, feature_cols: list[str], treatment) -> pd.DataFrame:
    """Model inputs: signed log1p of each feature (missing -> -1), the treatment flag and
    each feature x treatment (so the effect of the campaign may differ by customer)."""
    x = features[feature_cols].astype(float)
    x = np.sign(x) * np.log1p(x.abs())
    x = x.fillna(-1.0).reset_index(drop=True)
    t = pd.Series(np.broadcast_to(np.asarray(treatment, dtype=float), len(x)))
    inter = x.mul(t, axis=0).add_suffix("_x_treatment")
    return pd.concat([x, t.rename("treatment"), inter], axis=1)


def fit_uplift_model(train: pd.DataFrame, feature_cols: list[str],
                     cfg: CampaignConfig = CampaignConfig()):
    """Regularised logistic regression of `converted` on features, treatment and their
    interactions (an S-learner; few conversions per campaign do not support a deeper model)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = design(train, feature_cols, train["is_treatment"].to_numpy(float))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.regularisation_c,
                                                               max_iter=cfg.max_iter))
    model.fit(x, train["converted"].astype(int).to_numpy())
    return model


def score_uplift(model, features: pd.DataFrame, feature_cols: list[str]) -> pd.DataFrame:
    """P(convert | treated), P(convert | not treated) and their difference per row."""
    p1 = model.predict_proba(design(features, feature_cols, 1.0))[:, 1]
    p0 = model.predict_proba(design(features, feature_cols, 0.0))[:, 1]
    return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(),
                         "p_convert_treated": p1, "p_convert_untreated": p0,
                         "uplift_score": p1 - p0})


def uplift_metrics(scored: pd.DataFrame, k: float = 0.3) -> dict[str, float]:
    """Qini AUC and observed uplift in the top share k by uplift_score (scikit-uplift) and over
    everyone. scored: uplift_score, is_treatment, converted."""
    import warnings

    from sklift.metrics import qini_auc_score, uplift_at_k

    y = scored["converted"].astype(int).to_numpy()
    t = scored["is_treatment"].astype(int).to_numpy()
    out = {"uplift_all": float(y[t == 1].mean() - y[t == 0].mean())
           if 0 < t.sum() < len(t) else float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out["qini_auc"] = float(qini_auc_score(y, scored["uplift_score"].to_numpy(), t))
            out[f"uplift_top{int(k * 100)}"] = float(
                uplift_at_k(y, scored["uplift_score"].to_numpy(), t, strategy="overall", k=k))
        except ValueError:  # e.g. no conversions or one group only in the validation campaign
            pass
    return out


def assign_holdout(customer_ids: pd.Series, control_share: float, seed: int) -> pd.Series:
    """True for customers held out as the control group: an independent seeded draw per
    customer, in customer_id order (the same customers and seed give the same groups)."""
    order = np.argsort(customer_ids.to_numpy().astype(str), kind="stable")
    draw = np.empty(len(customer_ids))
    draw[order] = np.random.default_rng(seed).random(len(customer_ids))
    return pd.Series(draw < control_share, index=customer_ids.index)


def standardised_mean_differences(df: pd.DataFrame, group: pd.Series, cols: list[str]
                                  ) -> dict[str, float]:
    """|mean(held out) - mean(targeted)| / pooled sd per feature (balance of the groups)."""
    out = {}
    g = group.to_numpy(bool)
    for col in cols:
        a, b = df.loc[g, col].astype(float), df.loc[~g, col].astype(float)
        sd = np.sqrt((a.var() + b.var()) / 2)
        out[col] = float(abs(a.mean() - b.mean()) / sd) if sd > 0 else 0.0
    return out
