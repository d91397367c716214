"""Identity resolution asset: staging records in, identity.customer_map out."""

import dagster as dg

from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.identity.resolve import resolve
from pipelines.warehouse import connect

CUSTOMER_MAP = dg.AssetKey(["identity", "customer_map"])


@dg.asset(
    key=CUSTOMER_MAP,
    deps=[dg.AssetKey(["staging", "int_customer_records_unioned"])],
    group_name="identity",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Resolves every source customer record to a stable customer_id. Records sharing a "
        "normalised email, E.164 phone, loyalty card or Weibo handle are linked, except "
        "identifiers shared by different people (role mailboxes, family phones), which are "
        "demoted to identity.demoted_identifiers. Ids survive re-runs; merges and splits are "
        "logged in identity.id_events."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "one_customer_per_record",
            asset=CUSTOMER_MAP,
            blocking=True,
            description="every source record maps to exactly one customer",
        )
    ],
)
def customer_map(context: dg.AssetExecutionContext):
    with connect() as con:
        result = resolve(con)
        dupes, missing = con.sql(
            "select (select count(*) from (select source_system, source_record_id "
            "from identity.customer_map group by all having count(*) > 1)), "
            "(select count(*) from staging.int_customer_records_unioned r anti join "
            "identity.customer_map m using (source_system, source_record_id))"
        ).fetchone()
    context.log.info(f"{result.records} records -> {result.customers} customers")
    yield dg.MaterializeResult(
        metadata={
            "source_records": result.records,
            "customers": result.customers,
            "dagster/row_count": result.records,
            "demoted_identifiers": result.demoted_identifiers,
            "match_rules": dg.MetadataValue.md(
                markdown_table(
                    [{"rule": k, "records": v} for k, v in sorted(result.match_rules.items())]
                )
            ),
            "id_events": dg.MetadataValue.json(result.events),
        }
    )
    yield dg.AssetCheckResult(
        check_name="one_customer_per_record",
        passed=dupes == 0 and missing == 0,
        metadata={"records_with_several_customers": dupes, "records_without_customer": missing},
    )
