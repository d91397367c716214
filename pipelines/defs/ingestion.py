"""Ingestion assets: one per source contract, loading landing files into raw.*."""

import dagster as dg

from pipelines.config import settings
from pipelines.defs.common import OWNERS, WAREHOUSE_POOL, markdown_table
from pipelines.ingest.contracts import Contract, load_contracts
from pipelines.ingest.loader import ingest_contract
from pipelines.warehouse import connect


def reconcile(con, contract: Contract) -> dg.AssetCheckResult:
    """rows read = rows loaded + rows quarantined + rows suppressed (erased people) for every
    file, and the raw table holds exactly the loaded rows minus those erased since."""
    bad_files, loaded, in_table = con.sql(
        f"""
        select
            (select count(*) from raw.file_registry where contract = '{contract.name}'
               and status = 'loaded'
               and rows_read <> rows_loaded + rows_quarantined + rows_suppressed),
            (select coalesce(sum(rows_loaded - rows_erased), 0) from raw.file_registry
               where contract = '{contract.name}' and status = 'loaded'),
            (select count(*) from {contract.table})
        """
    ).fetchone()
    return dg.AssetCheckResult(
        check_name="rows_reconcile",
        passed=bad_files == 0 and loaded == in_table,
        metadata={
            "files_not_reconciling": bad_files,
            "rows_loaded_per_registry": int(loaded),
            "rows_in_raw_table": in_table,
        },
    )


def build_ingestion_asset(contract: Contract) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", contract.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"duckdb", "python"},
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
        description=f"{contract.description}. Files `{contract.files}` under the landing folder, "
        f"loaded per the contract `{contract.path.name if contract.path else contract.name}`; "
        "rows that cannot be parsed or typed go to raw.quarantine.",
        check_specs=[
            dg.AssetCheckSpec(
                "rows_reconcile",
                asset=key,
                blocking=True,
                description="rows read = rows loaded + quarantined + suppressed",
            )
        ],
        metadata={
            "contract": str(contract.path),
            "format": contract.format,
            "encoding": contract.encoding,
        },
    )
    def _ingest(context: dg.AssetExecutionContext):
        def loaded_one(r, seconds: float) -> None:  # as each file finishes, with its rate
            rate = r.rows_read / max(seconds, 1e-3)
            context.log.info(
                f"{r.path.name}: read {r.rows_read:,}, loaded {r.rows_loaded:,}, quarantined "
                f"{r.rows_quarantined:,} in {seconds:.1f} s ({rate:,.0f} rows/s, "
                f"batch {r.batch_id})"
            )
            for warning in r.warnings:
                context.log.warning(f"{r.path.name}: {warning}")

        with connect() as con:
            results = ingest_contract(
                con, contract, settings().landing_dir, settings().landing_settle_seconds,
                progress=loaded_one,
            )
            check = reconcile(con, contract)
            total_rows = con.sql(f"select count(*) from {contract.table}").fetchone()[0]
        loaded = [r for r in results if r.status == "loaded"]
        failed = [r for r in results if r.status == "failed"]
        deferred = [r for r in results if r.status == "deferred"]
        for r in deferred:
            context.log.warning(f"left for the next run: {r.error}")
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} file(s) of {contract.name} break the contract "
                f"{contract.path.name if contract.path else ''} and were not loaded (the other "
                "files were; fix or remove the file, then re-run): "
                + "; ".join(r.error or "" for r in failed),
                metadata={"files_failed": len(failed), "files_loaded": len(loaded),
                          "docs": "docs/bad_input.md"},
            )
        yield dg.MaterializeResult(
            metadata={
                "files_loaded": len(loaded),
                "files_skipped_already_loaded": len(results) - len(loaded) - len(deferred),
                "files_deferred_still_being_written": len(deferred),
                "rows_read": sum(r.rows_read for r in loaded),
                "rows_loaded": sum(r.rows_loaded for r in loaded),
                "rows_quarantined": sum(r.rows_quarantined for r in loaded),
                "rows_suppressed_erased_people": sum(r.rows_suppressed for r in loaded),
                "dagster/row_count": total_rows,
                "files": dg.MetadataValue.md(
                    markdown_table(
                        [
                            {
                                "file": r.path.name,
                                "read": r.rows_read,
                                "loaded": r.rows_loaded,
                                "quarantined": r.rows_quarantined,
                            }
                            for r in loaded
                        ]
                    )
                ),
            }
        )
        yield check

    return _ingest


ingestion_assets = [build_ingestion_asset(c) for c in load_contracts(settings().contracts_dir)]
