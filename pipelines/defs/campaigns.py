"""Campaign assets: evaluation against control groups, and uplift scores for the next campaign.

Thin wrappers around models_ml.campaigns: read marts, evaluate or fit, log to MLflow, write ml.*.
The target list itself (consent and contact caps applied) is the dbt model bi.campaign_targets.
"""

from datetime import timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from models_ml.campaigns import CampaignConfig
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.defs.ml import (
    FEATURE_COLS,
    FEATURES,
    latest_snapshot,
    model_output_metadata,
    paid_orders,
    refit_decision,
    tracking,
    week_features,
)
from pipelines.warehouse import connect, table_exists, write_table

MEMBERS = dg.AssetKey(["marts", "campaign_members"])
ORDERS = dg.AssetKey(["marts", "orders"])
MIN_TRAINING_ROWS = 200  # fewer past members with features: no model, no scores
MAX_SMD = 0.2  # held-out vs targeted customers: a larger standardised difference is suspect
_D = CampaignConfig()


class CampaignRunConfig(dg.Config):
    attribution_days: int = Field(_D.attribution_days, description="Days after a campaign's "
                                  "first send in which responses, conversions and orders count.")
    alpha: float = Field(_D.alpha, description="1 - confidence level of the intervals.")
    control_share: float = Field(_D.control_share, description="Share of the next campaign's "
                                 "targets held out as the random control group.")
    seed: int = Field(_D.seed, description="Seed of the control group draw.")
    refit: bool = Field(False, description="campaign_scores: train a new campaign_response "
                        "model even when the champion could be reused (decision 0019); "
                        "C360_REFIT=1 does the same.")

    def campaign_config(self) -> CampaignConfig:
        return CampaignConfig(attribution_days=self.attribution_days, alpha=self.alpha,
                              control_share=self.control_share, seed=self.seed)


def load_outcomes(con, attribution_days: int) -> pd.DataFrame:
    from models_ml.campaigns import attribute_outcomes

    members = con.sql(
        "select campaign_id, campaign_name, channel, customer_id, is_treatment, sent_at, "
        "responded_at, converted_at, cast(cost_cny as double) as cost_cny "
        "from marts.campaign_members order by all"  # a fixed order: identical re-runs
    ).df()
    snapshot_end = con.sql("select max(ordered_at) from marts.orders").fetchone()[0]
    orders = paid_orders(con, snapshot_end + timedelta(seconds=1))
    return attribute_outcomes(members, orders, attribution_days)


def member_snapshots(con, outcomes: pd.DataFrame, feature_cols: list[str] = FEATURE_COLS
                     ) -> pd.DataFrame:
    """The weekly snapshot rows `training_frame` matches to campaign members: for each
    member's customer and campaign start, the customer's latest snapshot usable before the
    start (an ASOF join in DuckDB). Reading every snapshot (customers x weeks) into pandas
    took ~19 GB at 1M customers; these rows give `training_frame` the same matches."""
    members = outcomes.loc[outcomes["customer_id"].notna(), ["customer_id", "campaign_start"]]
    con.register("_members", members.drop_duplicates())
    try:
        return con.sql(f"""
            with snapshots as (
                select customer_id, snapshot_date, {', '.join(feature_cols)},
                       cast(snapshot_date as timestamp) + interval 1 day as usable_from
                from marts.customer_features_weekly
                where customer_id in (select customer_id from _members)
            )
            select distinct s.customer_id, s.snapshot_date, {', '.join(
                f's.{c}' for c in feature_cols)}
            from _members m asof join snapshots s
              on m.customer_id = s.customer_id
             and cast(m.campaign_start as timestamp) > s.usable_from
            order by s.customer_id, s.snapshot_date""").df()
    finally:
        con.unregister("_members")


def current_segments(con) -> pd.DataFrame:
    """customer_id, segment_type, segment: the latest RFM segment and value x churn quadrant
    (the current assignment, not the one at the time of each campaign)."""
    frames = []
    for table, col, kind in (("customer_segments", "rfm_segment", "rfm_segment"),
                             ("retention_actions", "quadrant", "retention_quadrant")):
        if table_exists(con, "ml", table):
            df = con.sql(f"select customer_id, {col} as segment from ml.{table} "
                         f"where {col} is not null order by customer_id").df()
            frames.append(df.assign(segment_type=kind))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["customer_id", "segment", "segment_type"])


def empty_scores() -> pd.DataFrame:
    """ml.campaign_scores without rows, with its column types (no model could be trained)."""
    return pd.DataFrame({
        "customer_id": pd.Series(dtype="string"),
        "snapshot_date": pd.Series(dtype="datetime64[us]"),
        **{c: pd.Series(dtype="float64") for c in ("p_convert_treated", "p_convert_untreated",
                                                    "uplift_score")},
        "held_out": pd.Series(dtype="bool"),
        "holdout_reason": pd.Series(dtype="string"),
        "control_share": pd.Series(dtype="float64"),
        "holdout_seed": pd.Series(dtype="int64"),
        "model_version": pd.Series(dtype="string"),
    })


def _round(df: pd.DataFrame) -> pd.DataFrame:
    return df.round(4)


@dg.asset(
    key=dg.AssetKey(["ml", "campaign_results"]),
    deps=[MEMBERS, ORDERS, dg.AssetKey(["ml", "customer_segments"]),
          dg.AssetKey(["ml", "retention_actions"])],
    group_name="ml",
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    kinds={"python", "statsmodels"},
    description="Per campaign (and per RFM segment and value x churn quadrant): response and "
    "conversion in treatment vs control within the attribution window, absolute and relative "
    "uplift with confidence intervals, incremental revenue, ROI after cost and a verdict "
    "(not_significant when the interval includes 0).",
)
def campaign_results(context: dg.AssetExecutionContext, config: CampaignRunConfig
                     ) -> dg.MaterializeResult:
    from models_ml.campaigns import evaluate_campaigns

    cfg = config.campaign_config()
    with connect(read_only=True) as con:
        outcomes = load_outcomes(con, cfg.attribution_days)
        segments = current_segments(con)
    results = evaluate_campaigns(outcomes, cfg, segments)
    rows = write_table("ml.campaign_results", results)
    overall = results[results["segment_type"] == "all"] if len(results) else results
    shown = [c for c in ("campaign_id", "treatment_members", "control_members",
                         "conversion_uplift", "conversion_uplift_ci_low",
                         "conversion_uplift_ci_high", "incremental_revenue_cny", "roi",
                         "verdict") if c in overall]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "attribution_days": cfg.attribution_days,
            "campaigns": dg.MetadataValue.md(
                markdown_table(_round(overall[shown]).to_dict("records"))),
        }
    )


@dg.asset(
    key=dg.AssetKey(["ml", "campaign_scores"]),
    deps=[MEMBERS, ORDERS, FEATURES],
    group_name="ml",
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    kinds={"python", "mlflow", "scikitlearn"},
    check_specs=[dg.AssetCheckSpec(
        "control_group_balanced", asset=dg.AssetKey(["ml", "campaign_scores"]),
        description=f"Held-out customers look like the others: standardised mean difference "
        f"of every feature below {MAX_SMD}.")],
    description="Uplift score per customer for the next campaign (model `campaign_response` in "
    "MLflow, trained on the members of past campaigns with their features from the week before "
    "the send), and the seeded random draw that holds a customer out as control. "
    "bi.campaign_targets picks the targets among contactable customers.",
)
def campaign_scores(context: dg.AssetExecutionContext, config: CampaignRunConfig
                    ) -> dg.MaterializeResult:
    import mlflow

    from models_ml import refit
    from models_ml.campaigns import assign_holdout, score_uplift, standardised_mean_differences

    cfg = config.campaign_config()
    with connect(read_only=True) as con:
        newest = latest_snapshot(con)
    decision = refit_decision(context, config, "campaign_response", newest,
                              [*FEATURE_COLS, "treatment"])
    champion, decision = refit.load_champion(
        decision, lambda: mlflow.sklearn.load_model(
            f"models:/campaign_response/{decision.champion.version}"))
    if not decision.refit:
        # the champion scores the newest week: no older snapshots, no campaign outcomes (0019)
        with connect(read_only=True) as con:
            latest = week_features(con, newest, FEATURE_COLS)
        snapshot = latest["snapshot_date"].max()
        out = score_uplift(champion, latest, FEATURE_COLS)
        version = decision.champion.version
        metrics: dict[str, float] = {}
    else:
        fitted = fit_campaign_model(context, cfg)
        if isinstance(fitted, dg.MaterializeResult):
            return fitted
        out, latest, snapshot, version, metrics = fitted
    out.insert(1, "snapshot_date", snapshot)
    out["held_out"] = assign_holdout(out["customer_id"], cfg.control_share, cfg.seed).to_numpy()
    out["holdout_reason"] = out["held_out"].map(
        {True: f"random control group: seeded draw (seed {cfg.seed}) below control share "
               f"{cfg.control_share}", False: None})
    out["control_share"] = cfg.control_share
    out["holdout_seed"] = cfg.seed
    smd = standardised_mean_differences(latest, out["held_out"], FEATURE_COLS)
    metrics["max_standardised_mean_difference"] = max(smd.values())
    out["model_version"] = str(version)
    rows = write_table("ml.campaign_scores", out)
    worst = max(smd, key=smd.get)
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(
            check_name="control_group_balanced", passed=bool(smd[worst] < MAX_SMD),
            metadata={"worst_feature": worst, "max_smd": round(smd[worst], 4)})],
        metadata={
            **model_output_metadata(rows, snapshot, version, decision),
            "held_out": int(out["held_out"].sum()),
            "balance_smd": dg.MetadataValue.md(markdown_table(
                [{"feature": k, "smd": round(v, 4)} for k, v in smd.items()])),
            **{k: v for k, v in metrics.items() if pd.notna(v)},
        }
    )


def fit_campaign_model(context, cfg: CampaignConfig):
    """The refit path of campaign_scores: train campaign_response on the members of past
    campaigns, register it (champion) and score the newest week. Returns (scores, the newest
    snapshot's features, snapshot, version, metrics), or the asset's result when there is not
    enough history to train."""
    from models_ml.campaigns import (
        design,
        fit_uplift_model,
        score_uplift,
        training_frame,
        uplift_metrics,
        validation_split,
    )

    with connect(read_only=True) as con:
        outcomes = load_outcomes(con, cfg.attribution_days)
        snapshots = member_snapshots(con, outcomes)
        snapshot = latest_snapshot(con)
        latest = week_features(con, snapshot, FEATURE_COLS)
    train = training_frame(outcomes, snapshots, FEATURE_COLS)
    if len(train) < MIN_TRAINING_ROWS or train["converted"].nunique() < 2:
        reason = (f"not enough history: campaign_response needs at least {MIN_TRAINING_ROWS} "
                  f"members of past campaigns with a control group, a feature snapshot before "
                  f"the send and some conversions; found {len(train)} members, "
                  f"{int(train['converted'].sum())} conversions. No scores, no targets.")
        context.log.warning(reason)
        rows = write_table("ml.campaign_scores", empty_scores())
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(
                check_name="control_group_balanced", passed=True,
                metadata={"skipped": "no scores (not enough campaign history)"})],
            metadata={"dagster/row_count": rows, "skipped_reason": reason})
    fit_part, valid_part = validation_split(train)
    metrics: dict[str, float] = {"training_members": float(len(train)),
                                 "training_campaigns": float(train["campaign_id"].nunique())}
    if len(valid_part) and len(fit_part):
        from sklearn.metrics import roc_auc_score

        holdout_model = fit_uplift_model(fit_part, FEATURE_COLS, cfg)
        scored = score_uplift(holdout_model, valid_part, FEATURE_COLS)
        scored[["is_treatment", "converted"]] = valid_part[["is_treatment", "converted"]].values
        p_obs = scored["p_convert_treated"].where(scored["is_treatment"],
                                                  scored["p_convert_untreated"])
        if scored["converted"].nunique() == 2:
            metrics["valid_roc_auc"] = float(roc_auc_score(scored["converted"], p_obs))
        metrics |= {f"valid_{k}": v for k, v in uplift_metrics(scored, 0.3).items()}
        metrics["valid_campaigns"] = float(valid_part["campaign_id"].nunique())
    model = fit_uplift_model(train, FEATURE_COLS, cfg)
    version = tracking("campaign_response").log_and_register(
        name="campaign_response",
        model_kind="sklearn",
        model=model,
        params={"features": ",".join(FEATURE_COLS + ["treatment"]),
                "attribution_days": cfg.attribution_days, "snapshot_date": str(snapshot),
                "learner": "s-learner logistic regression with treatment interactions"},
        metrics=metrics,
        artifacts={},
        input_example=design(train.head(5), FEATURE_COLS, 1.0),
    )
    return score_uplift(model, latest, FEATURE_COLS), latest, snapshot, version, metrics


campaign_assets = [campaign_results, campaign_scores]
