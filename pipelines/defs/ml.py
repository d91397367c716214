"""ML assets: thin wrappers that read marts, call models_ml, log to MLflow, write ml.*."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.warehouse import connect

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
    return con.sql(
        "select customer_id, order_id, ordered_at, cast(amount_cny as double) as amount_cny "
        "from marts.orders where is_paid and customer_id is not null and ordered_at < ? "
        # a fixed row order: model fits (k-means init, boosting splits) depend on it, and the
        # same inputs must give the same published tables (docs/reliability.md)
        "order by customer_id, ordered_at, order_id",
        params=[before],
    ).df()


def write_table(table: str, df: pd.DataFrame) -> int:
    with connect() as con:
        con.register("_df", df)
        con.sql(f"create or replace table {table} as select * from _df")
        con.unregister("_df")
    return len(df)


def tracking():
    from models_ml import tracking

    s = settings()
    tracking.configure(s.mlflow_tracking_uri, "customer360", s.mlflow_artifacts_dir)
    return tracking


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
def customer_segments(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from models_ml.rfm import rfm_scores
    from models_ml.segments import fit_clusters

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
        orders = paid_orders(con, snapshot + timedelta(days=1))
        features = con.sql(
            "select * from marts.customer_features_weekly where snapshot_date = ? "
            "order by customer_id",
            params=[snapshot],
        ).df()
    rfm = rfm_scores(orders, snapshot + timedelta(days=1))
    model, assignments, profiles, metrics = fit_clusters(features, SEGMENT_FEATURES)
    version = tracking().log_and_register(
        name="customer_segmentation",
        model_kind="sklearn",
        model=model,
        params={
            "features": ",".join(SEGMENT_FEATURES),
            "snapshot_date": str(snapshot),
            "k": metrics.get("k"),
        },
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        artifacts={"cluster_profiles.csv": profiles},
        input_example=features[SEGMENT_FEATURES].head(5),
    )
    out = (
        features[["customer_id"]]
        .merge(rfm, on="customer_id", how="left")
        .merge(assignments, on="customer_id", how="left")
    )
    out.insert(1, "snapshot_date", snapshot)
    rows = write_table("ml.customer_segments", out)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "snapshot_date": str(snapshot),
            "model_version": str(version),
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
    "12-month CLV with BG/NBD + Gamma-Gamma (PyMC-Marketing, MAP), "
    "P(alive), value tiers (top 20% / next 30% / rest) and the tier change since the "
    "previous run; model `customer_value` in MLflow.",
    {"pymc"},
)
def customer_value(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from models_ml.clv import fit_clv, predict_clv, value_tiers

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
        orders = paid_orders(con, snapshot + timedelta(days=1))
        previous = None
        if con.sql(
            "select count(*) from information_schema.tables where table_schema = 'ml' "
            "and table_name = 'customer_value'"
        ).fetchone()[0]:
            previous = con.sql(
                "select customer_id, value_tier as previous_value_tier from ml.customer_value"
            ).df()
    model = fit_clv(orders, snapshot + timedelta(days=1))
    out = predict_clv(model, orders, snapshot + timedelta(days=1))
    out["value_tier"] = value_tiers(out)
    if previous is not None:
        out = out.merge(previous, on="customer_id", how="left")
    else:
        out["previous_value_tier"] = None
    out.insert(1, "snapshot_date", snapshot)
    version = tracking().log_and_register(
        name="customer_value",
        model_kind="clv",
        model=model,
        params={"snapshot_date": str(snapshot), "customers": len(out)},
        metrics={
            "mean_clv_12m": float(out["predicted_clv_12m"].mean()),
            "mean_expected_purchases_12m": float(out["expected_purchases_12m"].mean()),
        },
        artifacts={},
        input_example=None,
    )
    rows = write_table("ml.customer_value", out)
    tiers = out.groupby("value_tier")["predicted_clv_12m"].agg(["count", "sum"]).reset_index()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "snapshot_date": str(snapshot),
            "model_version": str(version),
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
def customer_churn(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from models_ml.churn import label_snapshots, score_churn, train_churn

    with connect(read_only=True) as con:
        snapshot = latest_snapshot(con)
        snapshots = con.sql(
            "select * from marts.customer_features_weekly order by snapshot_date, customer_id"
        ).df()
        orders = paid_orders(con, snapshot + timedelta(days=1))
    labeled = label_snapshots(snapshots, orders, data_end=snapshot).dropna(subset=["churned"])
    if labeled["snapshot_date"].nunique() < MIN_LABELED_WEEKS:
        raise dg.Failure(
            description=f"churn needs weekly snapshots at least {MIN_LABELED_WEEKS} weeks older "
            f"than the 90-day horizon; found {labeled['snapshot_date'].nunique()}. Backfill "
            "marts/customer_features_weekly (backfill_snapshots_job) over the past year first."
        )
    model, metrics = train_churn(labeled, FEATURE_COLS)
    latest = snapshots[snapshots["snapshot_date"] == pd.Timestamp(snapshot)]
    if latest.empty:
        latest = snapshots[snapshots["snapshot_date"] == snapshot]
    out = score_churn(model, latest, FEATURE_COLS)
    version = tracking().log_and_register(
        name="customer_churn",
        model_kind="sklearn",
        model=model,
        params={"snapshot_date": str(snapshot), "features": ",".join(FEATURE_COLS)},
        metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
        artifacts={},
        input_example=latest[FEATURE_COLS].head(5),
    )
    rows = write_table("ml.customer_churn", out)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "snapshot_date": str(snapshot),
            "model_version": str(version),
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


ml_assets = [customer_segments, customer_value, customer_churn]
