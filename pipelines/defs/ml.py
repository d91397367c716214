"""ML assets: thin wrappers that read marts, call models_ml, log to MLflow, write ml.*."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.warehouse import connect, table_exists, write_table

FEATURES = dg.AssetKey(["marts", "customer_features_weekly"])
UPSTREAM = [dg.AssetKey(["marts", "customer_360"]), dg.AssetKey(["marts", "orders"]), FEATURES]
FEATURE_COLS = [
    "tenure_days",
    "days_since_last_order",
    "orders_90d",
    "orders_365d",
    "orders_total",
    "revenue_90d_cny",
    "revenue_365d_cny",
    "revenue_total_cny",
    "avg_order_value_cny",
    "refunds_365d",
    "distinct_categories_total",
    "tickets_90d",
    "complaints_90d",
    "complaints_365d",
    "social_interactions_90d",
    "campaign_responses_365d",
]
MIN_LABELED_WEEKS = 8  # enough weeks to train on older ones and validate on later ones
SEGMENT_FEATURES = [
    "days_since_last_order",
    "orders_365d",
    "revenue_365d_cny",
    "avg_order_value_cny",
    "distinct_categories_total",
    "complaints_365d",
    "social_interactions_90d",
    "tenure_days",
]


def latest_snapshot(con) -> date:
    return con.sql("select max(snapshot_date) from marts.customer_features_weekly").fetchone()[0]


def paid_orders(con, before: date) -> pd.DataFrame:
    # con.execute, not con.sql(..., params=): a relation from a query with parameters took
    # 6 s here at 1M customers instead of 1.3 s, and 9.5 s instead of 0.5 s for one weekly
    # snapshot of customer_features_weekly (DuckDB 1.4)
    return con.execute(
        "select customer_id, order_id, ordered_at, cast(amount_cny as double) as amount_cny "
        "from marts.orders where is_paid and customer_id is not null and ordered_at < ? "
        # a fixed row order: model fits (k-means init, boosting splits) depend on it, and the
        # same inputs must give the same published tables (docs/reliability.md)
        "order by customer_id, ordered_at, order_id", [before]).df()


def week_features(con, snapshot: date, cols: list[str]) -> pd.DataFrame:
    """customer_id, snapshot_date and `cols` of one weekly snapshot, by customer: a model
    scoring the newest week reads only that week's rows and its own columns (0019)."""
    return con.execute(
        f"select customer_id, snapshot_date, {', '.join(cols)} "
        "from marts.customer_features_weekly where snapshot_date = ? order by customer_id",
        [snapshot]).df()


def previous_week(con, history: str, snapshot: date, cols: list[str]) -> pd.DataFrame | None:
    """Rows of the latest snapshot before `snapshot` in ml.<history> (None if there is none)."""
    if not table_exists(con, "ml", history):
        return None
    df = con.execute(
        f"select {', '.join(cols)} from ml.{history} where snapshot_date = "
        f"(select max(snapshot_date) from ml.{history} where snapshot_date < ?)", [snapshot]).df()
    return df if len(df) else None


def append_history(history: str, df: pd.DataFrame) -> None:
    """Replace this snapshot's rows in ml.<history> (a rerun of the same week is idempotent)."""
    with connect() as con:
        con.register("_df", df)
        con.sql(f"create table if not exists ml.{history} as select * from _df limit 0")
        con.sql(f"delete from ml.{history} where snapshot_date in (select snapshot_date from _df)")
        con.sql(f"insert into ml.{history} by name select * from _df")
        con.unregister("_df")


def load_churn_champion(tr):
    """(champion ChurnModel, its MLflow run) from the registry, or (None, None)."""
    import mlflow

    from models_ml.churn import from_estimator

    current = tr.champion_version("customer_churn")
    if current is None:
        return None, None
    run = mlflow.get_run(current.run_id)
    estimator = mlflow.sklearn.load_model(f"models:/customer_churn/{current.version}")
    ref = mlflow.artifacts.load_dict(f"runs:/{current.run_id}/churn_reference.json")
    return from_estimator(estimator, ref["feature_cols"], ref["reference"]), run


def load_segmentation_champion(tr):
    """(champion k-means Pipeline, its version) from the registry, or (None, None)."""
    import mlflow

    current = tr.champion_version("customer_segmentation")
    if current is None:
        return None, None
    model = mlflow.sklearn.load_model(f"models:/customer_segmentation/{current.version}")
    return model, int(current.version)


def drift_reason_for_run(run_id: str | None) -> str | None:
    """Why the model version logged by MLflow run `run_id` must be replaced: its latest
    ml.model_drift rows flag drift (0015); None if they do not (or there are none)."""
    if run_id is None:
        return None
    with connect(read_only=True) as con:
        if not table_exists(con, "ml", "model_drift"):
            return None
        drifted = con.execute(
            "select name from ml.model_drift where run_id = ? and refit_recommended "
            "and status = 'drift' and kind <> 'clock' order by psi desc", [run_id]).fetchall()
    if not drifted:
        return None
    return "champion inputs drifted (PSI >= 0.25): " + ", ".join(r[0] for r in drifted)


def tracking(experiment: str = "customer360"):
    """models_ml.tracking pointed at `experiment` (one experiment per model)."""
    from models_ml import tracking

    s = settings()
    tracking.configure(s.mlflow_tracking_uri, experiment, s.mlflow_artifacts_dir)
    return tracking


class ModelRunConfig(dg.Config):
    refit: bool = Field(False, description="Train a challenger (and gate it against the "
                        "champion) even when the champion could be reused (decision 0019); "
                        "C360_REFIT=1 does the same for every model asset.")


def refit_decision(context, config, name: str, snapshot: date, features=None,
                   features_param: str | None = "features", drift: bool = False):
    """models_ml.refit.decide for registered model `name` with this run's settings."""
    from models_ml import refit

    s = settings()
    tr = tracking(name)
    champion = tr.champion_summary(name, features_param)
    decision = refit.decide(
        champion,
        snapshot,
        every_weeks=s.refit_every_weeks,
        forced=bool(getattr(config, "refit", False) or s.refit),
        features=features,
        drift_reason=drift_reason_for_run(champion.run_id) if drift and champion else None,
    )
    context.log.info(f"{name}: {decision.reason}")
    return decision


def model_output_metadata(rows: int, snapshot: date, version, decision, gate=None) -> dict:
    """What every model asset reports: rows written, snapshot, the model version that scored
    them, whether it was refitted and why (0019), and the champion gate's outcome if one ran."""
    return {"dagster/row_count": rows, "snapshot_date": str(snapshot),
            "model_version": str(version), "refit": decision.refit,
            "refit_decision": decision.reason, **(gate or {})}


def ml_asset(name: str, description: str, kinds: set[str]):
    return dg.asset(
        key=dg.AssetKey(["ml", name]),
        deps=UPSTREAM,
        group_name="ml",
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
        kinds={"python", "mlflow", *kinds},
        description=description,
    )


@ml_asset(
    "customer_segments",
    "RFM quintile scores and named RFM segments, plus k-means "
    "behavioural clusters (k by silhouette) described in words; model "
    "`customer_segmentation` in MLflow.",
    {"scikitlearn"},
)
def customer_segments(
    context: dg.AssetExecutionContext, config: ModelRunConfig
) -> dg.MaterializeResult:
    from models_ml import refit
    from models_ml.plots import segment_profiles_figure
    from models_ml.rfm import rfm_scores
    from models_ml.segments import (
        assign_clusters,
        cluster_quality,
        fit_clusters,
        segment_stability,
    )

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
        orders = paid_orders(con, snapshot + timedelta(days=1))
        features = con.execute(  # only the columns clustered on (memory at scale)
            f"select customer_id, {', '.join(SEGMENT_FEATURES)} "
            "from marts.customer_features_weekly where snapshot_date = ? order by customer_id",
            [snapshot]).df()
        previous = previous_week(
            con, "customer_segments_history", snapshot, ["customer_id", "cluster", "rfm_segment"]
        )
    rfm = rfm_scores(orders, snapshot + timedelta(days=1))
    tr = tracking("customer_segmentation")
    decision = refit_decision(
        context, config, "customer_segmentation", snapshot, SEGMENT_FEATURES
    )
    champion, decision = refit.load_champion(
        decision, lambda: load_segmentation_champion(tr)[0]
    )
    gate: dict = {}
    if not decision.refit:  # the champion assigns this week's customers (0019)
        used_version = decision.champion.version
        assignments, profiles = assign_clusters(champion, features, SEGMENT_FEATURES)
        metrics = {"k": int(champion[-1].n_clusters)} | segment_stability(
            assignments.merge(rfm[["customer_id", "rfm_segment"]], on="customer_id", how="left"),
            previous,
        )
    else:
        model, assignments, profiles, metrics = fit_clusters(features, SEGMENT_FEATURES)
        champion, champion_version = (
            load_segmentation_champion(tr) if decision.champion_usable else (None, None)
        )
        # the gate (0017): silhouette of each model's clusters on this week's customers
        challenger_score = cluster_quality(model, features, SEGMENT_FEATURES)["silhouette"]
        champion_quality = (
            cluster_quality(champion, features, SEGMENT_FEATURES) if champion is not None else {}
        )
        metrics |= {f"champion_{k}": v for k, v in champion_quality.items()}
        current = assignments.merge(
            rfm[["customer_id", "rfm_segment"]], on="customer_id", how="left"
        )
        metrics |= segment_stability(current, previous)
        version = tr.log_and_register(
            name="customer_segmentation",
            model_kind="sklearn",
            model=model,
            params={
                "features": ",".join(SEGMENT_FEATURES),
                "snapshot_date": str(snapshot),
                "k": metrics.get("k"),
            },
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
            artifacts={
                "cluster_profiles.csv": profiles,
                "segment_profiles.png": segment_profiles_figure(profiles),
            },
            input_example=features[SEGMENT_FEATURES].head(5),
            set_champion=False,
        )
        decision_gate = tr.promote_if_better(
            "customer_segmentation",
            version,
            "silhouette",
            challenger_score,
            champion_quality.get("silhouette"),
            backtest=f"{len(features)} customers of snapshot {snapshot}",
            refit_reason=decision.why if decision.replaces_champion else None,
        )
        context.log.info(f"champion decision: {decision_gate}")
        used_version = version
        if not decision_gate["promoted"] and champion is not None:
            used_version = champion_version
            assignments, profiles = assign_clusters(champion, features, SEGMENT_FEATURES)
        gate = {
            "challenger_version": str(version),
            "promoted": str(decision_gate["promoted"]),
            "promotion_reason": decision_gate["reason"],
        }
    out = (
        features[["customer_id"]]
        .merge(rfm, on="customer_id", how="left")
        .merge(assignments, on="customer_id", how="left")
    )
    out.insert(1, "snapshot_date", snapshot)
    out["model_version"] = str(used_version)
    rows = write_table("ml.customer_segments", out)
    append_history(
        "customer_segments_history",
        out[["customer_id", "snapshot_date", "cluster", "rfm_segment", "model_version"]],
    )
    return dg.MaterializeResult(
        metadata={
            **model_output_metadata(rows, snapshot, used_version, decision, gate),
            "segments": dg.MetadataValue.md(
                markdown_table(
                    out["rfm_segment"]
                    .value_counts()
                    .rename_axis("segment")
                    .reset_index()
                    .to_dict("records")
                )
            ),
            "clusters": dg.MetadataValue.md(
                markdown_table(profiles[["cluster", "size", "description"]].to_dict("records"))
            ),
            **{k: v for k, v in metrics.items() if isinstance(v, int | float)},
        }
    )


@ml_asset(
    "customer_value",
    "12-month CLV with a purchase model (BG/NBD, MBG/NBD or Pareto/NBD, chosen by a "
    "backtest inside the history) + Gamma-Gamma (PyMC-Marketing, MAP), "
    "P(alive), value tiers (top 20% / next 30% / rest) and the tier change since the "
    "previous run; model `customer_value` in MLflow.",
    {"pymc"},
)
def customer_value(context: dg.AssetExecutionContext, config: ModelRunConfig
                   ) -> dg.MaterializeResult:
    from models_ml import refit
    from models_ml.clv import (
        clv_champion_backtest,
        fit_clv,
        predict_clv,
        tier_migration,
        value_tiers,
    )
    from models_ml.config import DEFAULTS
    from models_ml.plots import clv_distribution_figure

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
        orders = paid_orders(con, snapshot + timedelta(days=1))
        previous = previous_week(
            con, "customer_value_history", snapshot, ["customer_id", "value_tier"]
        )
    cfg = DEFAULTS.clv
    as_of = snapshot + timedelta(days=1)
    tr = tracking("customer_value")
    decision = refit_decision(context, config, "customer_value", snapshot, features_param=None)
    champion, decision = refit.load_champion(
        decision, lambda: tr.load_clv_champion("customer_value")[0]
    )

    def scored_by(clv_model) -> pd.DataFrame:
        # this week's summaries (T, recency at as_of), tiers and migration from its values
        scored = predict_clv(clv_model, orders, as_of, cfg.horizon_weeks)
        scored["value_tier"] = value_tiers(scored, cfg.top_share, cfg.middle_share)
        scored = tier_migration(scored, previous)  # previous_value_tier, tier_change
        scored.insert(1, "snapshot_date", snapshot)
        return scored

    gate: dict = {}
    if not decision.refit:  # the champion's fitted parameters score this week (0019)
        used_version, purchase_model = decision.champion.version, champion.purchase_model
        out = scored_by(champion)
    else:
        model = fit_clv(orders, as_of, cfg)
        purchase_model = model.purchase_model
        champion, champion_version = (
            tr.load_clv_champion("customer_value") if decision.champion_usable else (None, None)
        )
        # the gate (0017): purchase-day MAE on a window neither model was fitted on
        challenger_mae, champion_mae, backtest = clv_champion_backtest(
            model, champion, orders, as_of
        )
        out = scored_by(model)
        version = tr.log_and_register(
            name="customer_value",
            model_kind="clv",
            model=model,
            params={
                "snapshot_date": str(snapshot),
                "customers": len(out),
                "top_share": cfg.top_share,
                "middle_share": cfg.middle_share,
                "purchase_model": model.purchase_model,
            },
            metrics={
                "mean_clv_12m": float(out["predicted_clv_12m"].mean()),
                "mean_expected_purchases_12m": float(out["expected_purchases_12m"].mean()),
                **{f"tier_change_{k}": int(v)
                   for k, v in out["tier_change"].value_counts().items()},
            },
            artifacts={
                "clv_distribution.png": clv_distribution_figure(
                    out["predicted_clv_12m"], out["value_tier"]
                )
            },
            input_example=None,
            set_champion=False,
        )
        decision_gate = tr.promote_if_better(
            "customer_value",
            version,
            "holdout_mae",
            challenger_mae,
            champion_mae,
            higher_is_better=False,
            backtest=backtest,
            refit_reason=decision.why if decision.replaces_champion else None,
        )
        context.log.info(f"champion decision: {decision_gate}")
        used_version = version
        if not decision_gate["promoted"] and champion is not None:
            # the champion scores this week's customers; tiers and migration follow its values
            used_version, purchase_model = champion_version, champion.purchase_model
            out = scored_by(champion)
        gate = {
            "challenger_version": str(version),
            "promoted": str(decision_gate["promoted"]),
            "promotion_reason": decision_gate["reason"],
        }
    out["model_version"] = str(used_version)
    rows = write_table("ml.customer_value", out)
    append_history(
        "customer_value_history",
        out[["customer_id", "snapshot_date", "value_tier", "predicted_clv_12m", "model_version"]],
    )
    tiers = out.groupby("value_tier")["predicted_clv_12m"].agg(["count", "sum"]).reset_index()
    return dg.MaterializeResult(
        metadata={
            **model_output_metadata(rows, snapshot, used_version, decision, gate),
            "purchase_model": purchase_model,
            "tiers": dg.MetadataValue.md(markdown_table(tiers.to_dict("records"))),
        }
    )


@ml_asset(
    "customer_churn",
    "Calibrated churn probability (no purchase in the next 90 days), "
    "trained on older weekly snapshots and validated on later ones, with risk band and "
    "top three reasons; model `customer_churn` in MLflow.",
    {"scikitlearn"},
)
def customer_churn(context: dg.AssetExecutionContext, config: ModelRunConfig
                   ) -> dg.MaterializeResult:
    from models_ml import refit
    from models_ml.churn import score_churn

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
    tr = tracking("customer_churn")
    decision = refit_decision(context, config, "customer_churn", snapshot, FEATURE_COLS,
                              drift=True)
    champion, decision = refit.load_champion(decision, lambda: load_churn_champion(tr)[0])
    if not decision.refit:
        # the champion scores the newest week: only its rows and the model's columns are read,
        # no older snapshots and no orders (labels are for training only) (0019)
        with connect(read_only=True) as con:
            latest = week_features(con, snapshot, champion.feature_cols)
        used_version = decision.champion.version
        out = score_churn(champion, latest, champion.feature_cols)
        gate: dict = {}
        metrics: dict = {}
    else:
        out, used_version, gate, metrics = train_and_score_churn(context, tr, snapshot, decision)
    out["model_version"] = str(used_version)
    rows = write_table("ml.customer_churn", out)
    return dg.MaterializeResult(
        metadata={
            **model_output_metadata(rows, snapshot, used_version, decision, gate),
            "risk_bands": dg.MetadataValue.md(
                markdown_table(
                    out["risk_band"]
                    .value_counts()
                    .rename_axis("band")
                    .reset_index()
                    .to_dict("records")
                )
            ),
            **{k: v for k, v in metrics.items() if isinstance(v, int | float)},
        }
    )


def train_and_score_churn(context, tr, snapshot: date, decision):
    """The refit path of customer_churn: train a challenger on the labeled weekly snapshots,
    gate it against the champion (0012, 0015) and score the newest week with the winner.
    Returns (scores, model version used, gate metadata, challenger metrics)."""
    from models_ml.churn import (
        champion_backtest,
        clv_baseline_auc,
        drift_reference,
        label_snapshots,
        score_churn,
        snapshots_sql,
        train_churn,
    )
    from models_ml.plots import churn_calibration_figure, churn_lift_figure, lift_table

    with connect(read_only=True) as con:
        # only the columns used; a customer sample of the older weeks at scale (memory)
        total = con.sql("select count(*) from marts.customer_features_weekly").fetchone()[0]
        snapshots = con.sql(snapshots_sql(
            ["customer_id", "snapshot_date", *FEATURE_COLS], total,
            settings().churn_max_train_rows)).df()
        orders = paid_orders(con, snapshot + timedelta(days=1))
    labeled = label_snapshots(snapshots, orders, data_end=snapshot).dropna(subset=["churned"])
    if labeled["snapshot_date"].nunique() < MIN_LABELED_WEEKS:
        raise dg.Failure(
            description=f"churn needs weekly snapshots at least {MIN_LABELED_WEEKS} weeks older "
            f"than the 90-day horizon; found {labeled['snapshot_date'].nunique()}. Backfill "
            "marts/customer_features_weekly (backfill_snapshots_job) over the past year first."
        )
    model, metrics = train_churn(labeled, FEATURE_COLS)
    # the CLV model's expected purchases as a churn score, on the first validation date
    metrics["baseline_auc_clv_expected_purchases"] = clv_baseline_auc(
        labeled, orders, metrics["valid_min_date"]
    )
    train_end = metrics.get("final_calibration_max_date", metrics["train_max_date"])
    champion, champion_ref = (
        load_churn_champion(tr) if decision.champion_usable else (None, None)
    )
    challenger_auc, champion_auc, backtest = champion_backtest(
        model,
        champion,
        labeled,
        metrics["valid_min_date"],
        champion_ref.data.params.get("train_end_date") if champion_ref else None,
    )
    latest = snapshots[snapshots["snapshot_date"] == pd.Timestamp(snapshot)]
    if latest.empty:
        latest = snapshots[snapshots["snapshot_date"] == snapshot]
    # inputs and score on the training rows of the newest labeled weeks (0015, 0088)
    drift_ref = drift_reference(model)
    yv, pv = model.validation["churned"], model.validation["churn_probability"]
    lift = lift_table(yv, pv)
    metrics["lift_top_decile"] = float(lift["lift"].iloc[0])
    version = tr.log_and_register(
        name="customer_churn",
        model_kind="sklearn",
        model=model,
        params={
            "snapshot_date": str(snapshot),
            "features": ",".join(FEATURE_COLS),
            "train_end_date": train_end,
            "valid_min_date": metrics["valid_min_date"],
            "valid_max_date": metrics["valid_max_date"],
            "drift_reference_dates": "..".join(model.reference_dates or ()),
        },
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        artifacts={
            "churn_calibration.png": churn_calibration_figure(yv, pv),
            "churn_lift.png": churn_lift_figure(yv, pv),
            "churn_lift.csv": lift,
            "drift_reference.json": drift_ref,
        },
        input_example=latest[FEATURE_COLS].head(5),
        set_champion=False,
    )
    gate = tr.promote_if_better(
        "customer_churn",
        version,
        "roc_auc",
        challenger_auc,
        champion_auc,
        backtest=backtest,
        refit_reason=decision.why if decision.replaces_champion else None,
    )
    if gate["promoted"] or champion is None:
        scorer, used_version = model, version
    else:
        scorer, used_version = champion, gate["champion_version"]
    context.log.info(f"champion decision: {gate}")
    gate = {
        "challenger_version": str(version),
        "promoted": str(gate["promoted"]),
        "promotion_reason": gate["reason"],
    }
    return score_churn(scorer, latest, scorer.feature_cols), used_version, gate, metrics


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["ml", name]),
            deps=[dg.AssetKey(["marts", "order_items"]), FEATURES],
            description=description,
            group_name="ml",
            owners=OWNERS,
            kinds={"python", "mlflow", "scipy"},
        )
        for name, description in (
            (
                "cross_sell_offers",
                "Per customer the top products they have not bought, from "
                "basket affinity rules (noisy-or of rule confidences), filled with popular ones.",
            ),
            (
                "product_prospects",
                "Per product the customers with the highest affinity score who have not bought it.",
            ),
            ("product_affinity", "Product and category pairs with support, confidence, lift."),
        )
    ],
    pool=WAREHOUSE_POOL,
    name="cross_sell",
)
def cross_sell(context: dg.AssetExecutionContext, config: ModelRunConfig):
    """Reuses the latest fitted rules or refits them (decision 0070: pipelines.cross_sell_run)."""
    from pipelines.cross_sell_run import run_week

    week, counts = run_week(refit_asked=config.refit)
    context.log.info(f"cross_sell: {week.decision.reason}; {week.scoring}; "
                     f"seconds {week.seconds}")
    snapshot, run_id, metrics = week.snapshot, week.run_id, week.metrics
    pairs = week.tables["product_affinity"]
    top = pairs[pairs["level"] == "category"].head(10)
    for name, rows in counts.items():
        meta = {"dagster/row_count": rows, "snapshot_date": str(snapshot), "mlflow_run": run_id,
                "refit": week.decision.refit, "refit_decision": week.decision.reason,
                "scoring": week.scoring}  # everybody scored and why, or how many (0085)
        if name == "product_affinity":
            meta["top_category_pairs"] = dg.MetadataValue.md(
                markdown_table(
                    top[["antecedent", "consequent", "support", "confidence", "lift"]]
                    .round(3)
                    .to_dict("records")
                )
            )
        if name == "cross_sell_offers":
            meta |= {k: float(v) for k, v in metrics.items()}
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["ml", name]), metadata=meta)


RETENTION_TABLES = {
    "retention_actions": "Value x churn quadrant and retention play per customer, ranked by "
    "value at risk (CLV x churn probability).",
    "retention_summary": "Customers, CLV and value at risk per value x churn quadrant.",
    "churn_watch_list": "High-risk customers ranked by value at risk (CLV x churn probability), "
    "with the top three SHAP churn reasons in words and the retention play.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["ml", table]),
            deps=[dg.AssetKey(["ml", "customer_value"]), dg.AssetKey(["ml", "customer_churn"])],
            description=description,
            group_name="ml",
            owners=OWNERS,
            kinds={"python"},
        )
        for table, description in RETENTION_TABLES.items()
    ],
    pool=WAREHOUSE_POOL,
    name="retention",
)
def retention(context: dg.AssetExecutionContext):
    from models_ml.retention import churn_watch_list, load_config, retention_actions

    cfg = load_config(settings().retention_plays_file)
    with connect(read_only=True) as con:
        value = con.sql("select * from ml.customer_value").df()
        churn = con.sql("select * from ml.customer_churn").df()
    actions, summary = retention_actions(value, churn, cfg)
    watch = churn_watch_list(actions, cfg)
    snapshot = churn["snapshot_date"].max() if len(churn) else None
    versions: dict[str, str | None] = {}
    for frame, name in ((value, "value"), (churn, "churn")):
        known = "model_version" in frame and len(frame)
        versions[f"{name}_model_version"] = str(frame["model_version"].iloc[0]) if known else None
    for frame in (actions, summary, watch):
        frame.insert(0, "snapshot_date", snapshot)
        for key, v in versions.items():
            frame[key] = v
    rows_a = write_table("ml.retention_actions", actions)
    write_table("ml.retention_summary", summary)
    rows_w = write_table("ml.churn_watch_list", watch)
    shown = summary[["quadrant", "play", "customers", "value_at_risk_cny"]].round(0)
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(["ml", "retention_actions"]),
        metadata={
            "dagster/row_count": rows_a,
            "snapshot_date": str(snapshot),
            **{k: str(v) for k, v in versions.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(["ml", "retention_summary"]),
        metadata={
            "dagster/row_count": len(summary),
            "quadrants": dg.MetadataValue.md(markdown_table(shown.to_dict("records"))),
        },
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(["ml", "churn_watch_list"]),
        metadata={
            "dagster/row_count": rows_w,
            "value_at_risk_cny": float(watch["value_at_risk_cny"].sum()),
        },
    )


@dg.asset(
    key=dg.AssetKey(["ml", "model_drift"]),
    deps=[dg.AssetKey(["ml", "customer_churn"])],
    group_name="ml",
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    kinds={"python", "mlflow"},
    description="PSI of the churn model's input features and scores this week versus the "
    "training data of the model version that scored them (the rows of its newest labeled "
    "weeks: its drift_reference.json in MLflow, 0088). refit_recommended = any PSI >= 0.25 "
    "except clock features (tenure_days, kind "
    "'clock': they drift by construction); the next customer_churn run then trains a "
    "challenger and promotes it without the backtest gate.",
    check_specs=[
        dg.AssetCheckSpec(
            "churn_inputs_stable",
            asset=dg.AssetKey(["ml", "model_drift"]),
            blocking=False,
            description="Warns when a churn input (other than a clock feature such as "
            "tenure_days) or the score drifted (PSI >= 0.25).",
        )
    ],
)
def model_drift(context: dg.AssetExecutionContext):
    import mlflow

    from models_ml import drift

    with connect(read_only=True) as con:
        scores = con.sql(
            "select customer_id, churn_probability, model_version, snapshot_date "
            "from ml.customer_churn"
        ).df()
        snapshot = latest_snapshot(con)
        features = con.execute(  # the churn model's inputs only
            f"select customer_id, {', '.join(FEATURE_COLS)} "
            "from marts.customer_features_weekly where snapshot_date = ?", [snapshot]).df()
    version = str(scores["model_version"].iloc[0]) if len(scores) else None
    tracking("customer_churn")
    run_id, ref = None, {}
    if version is not None:
        run_id = mlflow.MlflowClient().get_model_version("customer_churn", version).run_id
        try:
            ref = mlflow.artifacts.load_dict(f"runs:/{run_id}/drift_reference.json")
        except Exception as exc:  # noqa: BLE001 - versions logged before drift references
            context.log.warning(f"no drift reference for customer_churn v{version}: {exc}")
    current = features.merge(scores[["customer_id", "churn_probability"]], on="customer_id")
    kinds = {"churn_probability": "score", **dict.fromkeys(drift.CLOCK_FEATURES, "clock")}
    table = drift.drift_table(ref, current, kinds)
    refit = drift.refit_recommended(table)
    table.insert(0, "snapshot_date", snapshot)
    table["model_version"] = version
    table["run_id"] = run_id
    table["refit_recommended"] = refit
    rows = write_table("ml.model_drift", table)
    shown = table[["name", "kind", "psi", "status"]].round(3).to_dict("records")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "model_version": version,
            "refit_recommended": refit,
            "max_psi": float(table["psi"].max()) if rows else 0.0,
            "psi": dg.MetadataValue.md(markdown_table(shown)),
        }
    )
    # clock features (tenure) drift by construction and are left out of the warning (0019)
    drifted = table.loc[(table["status"] == "drift") & (table["kind"] != "clock"), "name"].tolist()
    yield dg.AssetCheckResult(
        check_name="churn_inputs_stable",
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"drifted": ", ".join(drifted) or "none", "refit_recommended": refit},
        description="refit recommended: the next customer_churn run promotes its challenger"
        if drifted
        else "inputs and scores stable",
    )


ml_assets = [
    customer_segments,
    customer_value,
    customer_churn,
    cross_sell,
    retention,
    model_drift,
]
