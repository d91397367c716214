"""Identity resolution asset: staging records in, identity.* out."""

import dagster as dg
from pydantic import Field

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.identity.matcher import SplinkMatcher, log_model_run
from pipelines.identity.resolve import resolve
from pipelines.warehouse import connect

CUSTOMER_MAP = dg.AssetKey(["identity", "customer_map"])
SPECS = [
    dg.AssetSpec(
        CUSTOMER_MAP,
        deps=[dg.AssetKey(["staging", "int_customer_records_unioned"])],
        description=(
            "Every source customer record with its stable customer_id. Records sharing a "
            "normalised email, E.164 phone, loyalty card or Weibo handle are linked, except "
            "identifiers shared by different people (role mailboxes, family phones: see "
            "identity.demoted_identifiers). Links never join records with different loyalty "
            "cards or birth dates, nor grow a cluster past the size limit. Ids survive re-runs; "
            "merges and splits are logged in identity.id_events."
        ),
    ),
    dg.AssetSpec(
        dg.AssetKey(["identity", "customer_aliases"]),
        deps=[CUSTOMER_MAP],
        description="Ids merged into another customer and the customer they resolve to now: "
        "BI joins on an old id keep working.",
    ),
    dg.AssetSpec(
        dg.AssetKey(["identity", "review_queue"]),
        deps=[CUSTOMER_MAP],
        description="Links a guard refused (different loyalty cards or birth dates, cluster "
        "size limit) and near-threshold matches, with the evidence, for a data steward.",
    ),
]


class IdentityConfig(dg.Config):
    refit_matcher: bool = Field(
        False, description="Retrain the Splink model instead of reusing the saved one (it is "
        "retrained anyway when missing or when the records drifted); implies a full re-cluster.")
    full_recluster: bool = Field(
        False, description="Match and cluster all records again instead of only the new and "
        "changed ones.")


@dg.multi_asset(
    specs=[s.replace_attributes(group_name="identity", owners=OWNERS,
                                kinds={"duckdb", "python", "splink"}) for s in SPECS],
    name="identity_resolution",
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "one_customer_per_record",
            asset=CUSTOMER_MAP,
            blocking=True,
            description="every source record maps to exactly one customer",
        )
    ],
)
def identity_resolution(context: dg.AssetExecutionContext, config: IdentityConfig):
    s = settings()
    matcher = SplinkMatcher(
        model_path=s.models_dir / "identity" / "splink_model.json",
        refit=config.refit_matcher,
        threshold=s.match_threshold,
    )
    with connect() as con:
        result = resolve(con, matcher=matcher, full=config.full_recluster,
                         log=context.log.info)
        dupes, missing = con.sql(
            "select (select count(*) from (select source_system, source_record_id "
            "from identity.customer_map group by all having count(*) > 1)), "
            "(select count(*) from staging.int_customer_records_unioned r anti join "
            "identity.customer_map m using (source_system, source_record_id))"
        ).fetchone()
        aliases = con.sql("select count(*) from identity.customer_aliases").fetchone()[0]
    context.log.info(f"{result.mode} run: matched {result.matched_records} of {result.records} "
                     f"records -> {result.customers} customers")
    charts = s.models_dir / "identity" / "charts"
    if matcher.trained:
        from models_ml import tracking

        tracking.configure(s.mlflow_tracking_uri, "customer360", s.mlflow_artifacts_dir)
        run_id = log_model_run(matcher, charts, {
            "records": result.records, "customers": result.customers,
            "splink_links": matcher.links, "review_queue": result.review_queue})
        context.log.info(f"trained the Splink model ({matcher.train_reason}); MLflow run {run_id}")
    yield dg.MaterializeResult(
        asset_key=CUSTOMER_MAP,
        metadata={
            "source_records": result.records,
            "mode": result.mode,
            "matched_records": result.matched_records,
            # records whose own matching columns were derived, not read from
            # identity.match_columns (decision 0075)
            "matching_columns_derived": matcher.derived_records or 0,
            "customers": result.customers,
            "dagster/row_count": result.records,
            "demoted_identifiers": result.demoted_identifiers,
            "splink_links": matcher.links,
            "splink_model": dg.MetadataValue.path(str(matcher.model_path)),
            "splink_model_trained_this_run": matcher.train_reason or "no (reused)",
            # Splink's own charts of the model in use (self-contained HTML, open offline)
            "match_weights_chart": dg.MetadataValue.path(str(charts / "match_weights.html")),
            "m_u_parameters_chart": dg.MetadataValue.path(str(charts / "m_u_parameters.html")),
            "match_rules": dg.MetadataValue.md(markdown_table(
                [{"rule": k, "records": v} for k, v in sorted(result.match_rules.items())])),
            "id_events": dg.MetadataValue.json(result.events),
        },
    )
    yield dg.MaterializeResult(asset_key=["identity", "customer_aliases"],
                               metadata={"dagster/row_count": aliases})
    yield dg.MaterializeResult(asset_key=["identity", "review_queue"],
                               metadata={"dagster/row_count": result.review_queue})
    yield dg.AssetCheckResult(
        asset_key=CUSTOMER_MAP,
        check_name="one_customer_per_record",
        passed=dupes == 0 and missing == 0,
        metadata={"records_with_several_customers": dupes, "records_without_customer": missing},
    )
