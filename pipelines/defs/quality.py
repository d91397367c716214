"""Great Expectations suites from expectations/*.json as Dagster asset checks.

A suite with at least one block (GE `critical`) expectation is a blocking check: when a block
expectation fails, the check fails with severity ERROR and Dagster materialises nothing
downstream of the checked asset in that run (dbt models, ML assets, the publish step). Warn
expectations only mark the check as a warning. See pipelines/quality/suites.py.
"""

import dagster as dg

from pipelines.config import EXPECTATIONS_DIR, settings
from pipelines.defs.common import WAREHOUSE_POOL, markdown_table
from pipelines.quality.suites import Suite, load_suites, run_suite


def build_ge_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(list(suite.asset_key)),
        name=f"ge_{suite.name}",
        blocking=suite.blocking,
        pool=WAREHOUSE_POOL,
        description=f"{suite.description} (Great Expectations suite {suite.path.name}"
        f"{'; a failed block expectation stops everything downstream' if suite.blocking else ''}"
        ")",
    )
    def _check() -> dg.AssetCheckResult:
        run = run_suite(suite, docs_dir=settings().quality_dir / "data_docs")
        failed = run.failed
        return dg.AssetCheckResult(
            passed=run.passed,
            severity=dg.AssetCheckSeverity.ERROR if run.blocked else dg.AssetCheckSeverity.WARN,
            description=run.summary,
            metadata={
                "rows_validated": run.rows_validated,
                **({"rows_in_table": run.rows_in_table} if run.rows_in_table is not None else {}),
                "expectations": len(run.outcomes),
                "failed": len(failed),
                "failed_block": sum(o.level == "block" for o in failed),
                "failed_warn": sum(o.level == "warn" for o in failed),
                # GE's report of this validation: one offline HTML file, served by `make docs`
                "data_docs": dg.MetadataValue.path(str(run.docs_page)),
                **(
                    {"failures": dg.MetadataValue.md("\n".join(f"- {o.message}" for o in failed))}
                    if failed
                    else {}
                ),
                "results": dg.MetadataValue.md(
                    markdown_table(
                        [
                            {
                                "expectation": o.expectation,
                                "column": o.column or "",
                                "expected": o.expected,
                                "severity": o.level,
                                "passed": o.success,
                                "observed": o.observed,
                            }
                            for o in run.outcomes
                        ]
                    )
                ),
            },
        )

    return _check


ge_checks = [build_ge_check(s) for s in load_suites(EXPECTATIONS_DIR)]
