"""Publish step: bi.* to a read-only serving DuckDB file and Parquet, swapped in atomically."""

import dagster as dg

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.publish import SERVING_FILE, publish

BI_TABLES = [
    "customer_360",
    "customer_identities",
    "customer_id_aliases",
    "customer_segments",
    "customer_value",
    "customer_churn",
    "cross_sell_offers",
    "product_prospects",
    "product_affinity",
    "retention_actions",
    "retention_summary",
]


@dg.asset(
    key=dg.AssetKey(["serving", "customer360"]),
    deps=[dg.AssetKey(["bi", t]) for t in BI_TABLES],
    group_name="serving",
    kinds={"duckdb", "parquet"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,  # reads the warehouse: must not overlap a writer
    description=(
        f"The files BI tools read: `{SERVING_FILE}` (schema bi, open it read-only) and "
        "`parquet/<table>.parquet`, built aside and moved into place atomically."
    ),
)
def serving_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    serving_dir = settings().serving_dir
    counts = publish(serving_dir)
    return dg.MaterializeResult(
        metadata={
            "serving_file": dg.MetadataValue.path(str(serving_dir / SERVING_FILE)),
            "parquet_dir": dg.MetadataValue.path(str(serving_dir / "parquet")),
            "tables": dg.MetadataValue.md(
                markdown_table([{"table": f"bi.{t}", "rows": n} for t, n in counts.items()])
            ),
        }
    )
