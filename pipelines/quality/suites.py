"""Great Expectations suites stored as JSON files in `expectations/`, validated on DataFrames.

GE's SQL path against DuckDB fails every expectation (STACK_FACTS), so a table is read through
a short read-only DuckDB connection and validated with GE's pandas path. Each suite file is a
GE ExpectationSuite with `meta.customer360`: the table it checks, the columns to read, and
whether a failure blocks everything downstream.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Suite:
    name: str
    table: str  # schema.table in the warehouse
    asset_key: tuple[str, ...]
    blocking: bool
    description: str
    path: Path

    @property
    def data(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    kwargs: dict
    success: bool
    severity: str  # critical | warning | info
    observed: object


def load_suites(directory: Path) -> list[Suite]:
    suites = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = data.get("meta", {}).get("customer360", {})
        table = meta["table"]
        suites.append(
            Suite(
                name=data["name"],
                table=table,
                asset_key=tuple(table.split(".")),
                blocking=bool(meta.get("blocking", False)),
                description=meta.get("description", data["name"]),
                path=path,
            )
        )
    return suites


@cache
def _context():
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(
    suite: Suite, df: pd.DataFrame, docs_page: Path | None = None
) -> tuple[bool, list[ExpectationOutcome]]:
    """Validate a DataFrame against the suite; (all passed, per-expectation outcomes). With
    `docs_page`, also write the result as an offline Data Docs page there."""
    import great_expectations as gx

    context = _context()
    data = suite.data
    gx_suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"])
    if len(gx_suite.expectations) != len(data["expectations"]):
        # GE logs and drops an expectation it cannot build; a suite must never shrink silently
        raise ValueError(
            f"{suite.path}: {len(data['expectations'])} expectations in the file, "
            f"only {len(gx_suite.expectations)} could be built"
        )
    source_name = f"pandas_{suite.name}"
    try:
        source = context.data_sources.get(source_name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(source_name)
    try:
        asset = source.get_asset(suite.name)
    except (LookupError, ValueError):
        asset = source.add_dataframe_asset(suite.name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except (KeyError, ValueError):
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(gx_suite)
    if docs_page is not None:
        from pipelines.quality.data_docs import write_validation_page

        write_validation_page(result, docs_page)
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            kwargs={k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"},
            success=bool(r.success),
            severity=getattr(
                r.expectation_config.severity, "value", str(r.expectation_config.severity)
            ),
            observed=r.result.get("observed_value", r.result.get("unexpected_count")),
        )
        for r in result.results
    ]
    return bool(result.success), outcomes


# Suites whose expectations describe the whole table (row counts) are always read in full.
WHOLE_TABLE_EXPECTATIONS = ("expect_table_",)


def read_sql(suite: Suite, columns: list[str], total_rows: int, max_rows: int) -> tuple[str, bool]:
    """The query that reads what `suite` validates, and whether it is a sample.

    Only the suite's columns are read. A table of more than `max_rows` rows is validated on a
    repeatable reservoir sample of `max_rows` rows (every row-level expectation still applies
    to each sampled row; a duplicate is found when both copies are sampled), so memory stays
    bounded at any size; a suite with table-level expectations is read in full."""
    select = f"select {', '.join(columns) or '*'} from {suite.table}"
    whole = any(
        (e.get("type") or e.get("expectation_type", "")).startswith(WHOLE_TABLE_EXPECTATIONS)
        for e in suite.data["expectations"]
    )
    if total_rows <= max_rows or whole:
        return select, False
    return f"{select} using sample reservoir({int(max_rows)} rows) repeatable (42)", True
