"""Erasure requests dropped in the landing folder, carried out after the weekly publish."""

import dagster as dg

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL

REQUESTS_GLOB = "privacy/erasure_requests/*.csv"


@dg.asset(
    key=dg.AssetKey(["privacy", "erasure_requests"]),
    deps=[dg.AssetKey(["serving", "customer360"])],
    group_name="privacy",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        f"Carries out the erasure requests in `<landing>/{REQUESTS_GLOB}` (columns customer_id, "
        "email, phone): removes each person from every layer, adds their salted identifier "
        "hashes to the suppression list, republishes the outputs, logs each erasure without "
        "the erased values (privacy.erasure_log) and deletes the request file."
    ),
)
def erasure_requests(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from pipelines.privacy.erase import erase, read_requests
    from pipelines.publish import publish_all

    files = sorted(settings().landing_dir.glob(REQUESTS_GLOB))
    done, rows = [], 0
    for path in files:
        for request in read_requests(path):
            entry = erase(request, republish=False)
            done.append(entry["request_id"])
            rows += sum(entry["scope"].values())
            context.log.info(f"erasure {entry['request_id']}: {entry['customers']} customer(s), "
                             f"{sum(entry['scope'].values())} rows")
        path.unlink()  # the request holds the erased values
    if done:
        publish_all(keep_previous=False)  # no earlier published version keeps erased rows
    return dg.MaterializeResult(metadata={
        "request_files": len(files), "erasures": len(done), "rows_erased": rows,
        "request_ids": dg.MetadataValue.json(done),
    })
