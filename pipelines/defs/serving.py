"""Publish step: bi.* to a read-only serving DuckDB file and Parquet, swapped in atomically."""

import dagster as dg

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.publish import RESTRICTED_FILE, SERVING_FILE, publish
from pipelines.warehouse import encryption_status

BI_TABLES = [
    "customer_360",
    "customer_identities",
    "customer_id_aliases",
    "customer_segments",
    "customer_value",
    "customer_churn",
    "contact_eligibility",
    "contactable_customers",
    "contact_exclusions",
    "cross_sell_offers",
    "product_prospects",
    "product_affinity",
    "retention_actions",
    "retention_summary",
    "churn_watch_list",
    "campaign_results",
    "campaign_targets",
    "retention_campaigns",
]


@dg.asset(
    key=dg.AssetKey(["serving", "customer360"]),
    deps=[dg.AssetKey(["bi", t]) for t in BI_TABLES] + [dg.AssetKey(["marts", "customer_keys"])],
    group_name="serving",
    kinds={"duckdb", "parquet"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,  # reads the warehouse: must not overlap a writer
    description=(
        f"Analytics output for BI tools: `{SERVING_FILE}` (schema bi, open it read-only) and "
        "`parquet/<table>.parquet`, pseudonymous (customer_key, no PII-tagged column); and the "
        f"restricted output `{RESTRICTED_FILE}` with the full profile for authorised staff "
        "(encrypted when C360_ENCRYPTION_KEY is set). Built aside, moved into place atomically."
    ),
)
def serving_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    s = settings()
    serving_dir = s.serving_dir
    counts = publish(serving_dir, s.restricted_dir)
    context.log.info(encryption_status())
    return dg.MaterializeResult(
        metadata={
            "serving_file": dg.MetadataValue.path(str(serving_dir / SERVING_FILE)),
            "restricted_file": dg.MetadataValue.path(str(s.restricted_dir / RESTRICTED_FILE)),
            "encryption_at_rest": encryption_status(),
            "parquet_dir": dg.MetadataValue.path(str(serving_dir / "parquet")),
            "tables": dg.MetadataValue.md(
                markdown_table([{"table": f"bi.{t}", "rows": n} for t, n in counts.items()])
            ),
        }
    )
