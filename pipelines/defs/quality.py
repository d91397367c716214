"""Great Expectations suites from expectations/*.json as Dagster asset checks."""

import dagster as dg

from pipelines.config import EXPECTATIONS_DIR, settings
from pipelines.defs.common import WAREHOUSE_POOL, markdown_table
from pipelines.quality.suites import Suite, load_suites, read_sql, validate
from pipelines.warehouse import connect


def columns_of(suite: Suite) -> list[str]:
    cols = []
    for e in suite.data["expectations"]:
        for key in ("column", "column_A", "column_B"):
            if key in e["kwargs"] and e["kwargs"][key] not in cols:
                cols.append(e["kwargs"][key])
        cols += [c for c in e["kwargs"].get("column_list", []) if c not in cols]
    return cols


def build_ge_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(list(suite.asset_key)),
        name=f"ge_{suite.name}",
        blocking=suite.blocking,
        pool=WAREHOUSE_POOL,
        description=f"{suite.description} (Great Expectations suite {suite.path.name}"
        f"{', blocks downstream assets on a critical failure' if suite.blocking else ''})",
    )
    def _check() -> dg.AssetCheckResult:
        cols = columns_of(suite)
        with connect(read_only=True) as con:
            total = con.sql(f"select count(*) from {suite.table}").fetchone()[0]
            sql, sampled = read_sql(suite, cols, total, settings().ge_max_rows)
            df = con.sql(sql).df()
        docs_page = settings().quality_dir / "data_docs" / f"{suite.name}.html"
        passed, outcomes = validate(suite, df, docs_page)
        critical_failed = any(not o.success and o.severity == "critical" for o in outcomes)
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if critical_failed else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_validated": len(df),
                "rows_in_table": total,
                "sampled": sampled,  # large tables: a repeatable sample (C360_GE_MAX_ROWS)
                "expectations": len(outcomes),
                "failed": sum(not o.success for o in outcomes),
                # GE's report of this validation: one offline HTML file, served by `make docs`
                "data_docs": dg.MetadataValue.path(str(docs_page)),
                "results": dg.MetadataValue.md(
                    markdown_table(
                        [
                            {
                                "expectation": o.expectation,
                                "kwargs": ", ".join(f"{k}={v}" for k, v in o.kwargs.items()),
                                "severity": o.severity,
                                "passed": o.success,
                                "observed": o.observed,
                            }
                            for o in outcomes
                        ]
                    )
                ),
            },
        )

    return _check


ge_checks = [build_ge_check(s) for s in load_suites(EXPECTATIONS_DIR)]
