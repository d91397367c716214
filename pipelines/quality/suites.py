"""Great Expectations suites stored as JSON files in `expectations/`, validated on DataFrames.

GE's SQL path against DuckDB fails every expectation (STACK_FACTS), so the data is read through
a short read-only DuckDB connection and validated with GE's pandas path. Each suite file is a
GE ExpectationSuite with `meta.customer360`:

- `table`: the warehouse table (schema.table) validated, whose asset the check belongs to;
- `asset` (optional): attach the check to this asset instead, when the table's direct
  downstream assets are built in the same step (a check can only stop later steps);
- `query` (optional): SQL whose result is validated instead of the table's columns. Used for
  aggregates (reconciliation counts, shares, freshness), so a large table is never loaded;
- `sample_rows` (optional): row-level suites validate at most this many rows (a repeatable
  reservoir sample) of a larger table, and say so in the result;
- `per_contract` (optional): the suite is instantiated once per ingestion contract, with
  `{contract}` in the name, table and query replaced by the contract's name.

Severity is GE's own per-expectation `severity`: `critical` means *block* (a failure would
corrupt published tables: the check fails with severity ERROR and, being blocking, stops every
downstream asset of the run), `warning`/`info` mean *warn* (reported, nothing stopped). A suite
is a blocking check when it has at least one block expectation. Limits that come from the
configuration are `{"$PARAMETER": name}` values filled from `pipelines.quality.parameters`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

DEFAULT_SAMPLE_ROWS = 200_000
BLOCK = "block"
WARN = "warn"
# kwargs that are not part of "what was expected"
_NOT_EXPECTED = {"batch_id", "column", "column_A", "column_B", "column_list", "result_format"}


@dataclass(frozen=True)
class Suite:
    name: str
    table: str  # schema.table in the warehouse
    asset_key: tuple[str, ...]
    blocking: bool
    description: str
    path: Path
    query: str | None = None
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    replacements: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def data(self) -> dict:
        text = self.path.read_text(encoding="utf-8")
        for key, value in self.replacements.items():
            text = text.replace("{" + key + "}", value)
        return json.loads(text)

    @property
    def expectations(self) -> list[dict]:
        return self.data["expectations"]


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    kwargs: dict
    success: bool
    severity: str  # GE's: critical | warning | info
    observed: object
    column: str | None = None
    why: str = ""

    @property
    def level(self) -> str:
        """block | warn (the project's words for GE's critical | warning, info)."""
        return BLOCK if self.severity == "critical" else WARN

    @property
    def expected(self) -> str:
        if "column_A" in self.kwargs:
            relation = "=" if "equal" in self.expectation else (
                ">=" if self.kwargs.get("or_equal") else ">")
            return f"{self.kwargs['column_A']} {relation} {self.kwargs['column_B']}"
        return ", ".join(
            f"{k}={v}" for k, v in self.kwargs.items() if k not in _NOT_EXPECTED
        ) or "(see expectation)"

    @property
    def message(self) -> str:
        """One line for the Dagster UI: which expectation, on what, observed vs expected."""
        on = f" on column `{self.column}`" if self.column else ""
        if "column_A" in self.kwargs:
            on = f" on columns `{self.kwargs['column_A']}` vs `{self.kwargs['column_B']}`"
        why = f" ({self.why})" if self.why else ""
        return (
            f"[{self.level.upper()}] {self.expectation}{on}: observed {self.observed}, "
            f"expected {self.expected}{why}"
        )


@dataclass(frozen=True)
class SuiteRun:
    suite: Suite
    outcomes: list[ExpectationOutcome]
    rows_validated: int
    rows_in_table: int | None
    docs_page: Path | None

    @property
    def passed(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def blocked(self) -> bool:
        return any(o.level == BLOCK for o in self.failed)

    @property
    def summary(self) -> str:
        """The check's description in the Dagster UI: what failed and what it means."""
        sample = (
            f" (a sample of {self.rows_validated:,} of {self.rows_in_table:,} rows)"
            if self.rows_in_table is not None and self.rows_in_table > self.rows_validated
            else ""
        )
        suite = f"Great Expectations suite {self.suite.path.name}"
        if self.passed:
            return f"{suite}: {len(self.outcomes)} expectations passed{sample}."
        blocks = sum(o.level == BLOCK for o in self.failed)
        head = (
            f"{suite}: {len(self.failed)} of {len(self.outcomes)} expectations failed{sample}; "
            + (
                f"{blocks} block: downstream assets of {'/'.join(self.suite.asset_key)} were "
                "not materialised in this run (fix the data or the upstream step, then re-run)."
                if blocks
                else "warnings only: downstream assets still ran."
            )
        )
        lines = [head, *(f"- {o.message}" for o in self.failed)]
        if self.docs_page is not None:
            lines.append(f"Data Docs: {self.docs_page}")
        return "\n".join(lines)


def _suite(path: Path, data: dict, replacements: dict) -> Suite:
    def fill(text: str) -> str:
        for key, value in replacements.items():
            text = text.replace("{" + key + "}", value)
        return text

    meta = data.get("meta", {}).get("customer360", {})
    table = fill(meta["table"])
    return Suite(
        name=fill(data["name"]),
        table=table,
        asset_key=tuple(fill(meta.get("asset", table)).split(".")),
        blocking=any(e.get("severity", "critical") == "critical" for e in data["expectations"]),
        description=fill(meta.get("description", data["name"])),
        path=path,
        query=fill(meta["query"]) if meta.get("query") else None,
        sample_rows=int(meta.get("sample_rows", DEFAULT_SAMPLE_ROWS)),
        replacements=replacements,
    )


def load_suites(directory: Path, contracts: Iterable[str] | None = None) -> list[Suite]:
    """Every suite in `directory`; `per_contract` suites once per contract name (by default
    the contracts in the configured contracts folder)."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("meta", {}).get("customer360", {}).get("per_contract"):
            if contracts is None:
                from pipelines.config import settings
                from pipelines.ingest.contracts import load_contracts

                contracts = [c.name for c in load_contracts(settings().contracts_dir)]
            suites += [_suite(path, data, {"contract": c}) for c in sorted(contracts)]
        else:
            suites.append(_suite(path, data, {}))
    return suites


@cache
def _context():
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _plain(value):
    """Observed values as short plain text (numpy scalars, rounded floats)."""
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return value if not math.isfinite(value) else round(value, 4)
    return value


@cache
def _pii_columns() -> frozenset[str]:
    from pipelines.publish import pii_columns

    return frozenset(pii_columns())


def _observed(result: dict, column: str | None = None) -> object:
    if "observed_value" in result:
        return _plain(result["observed_value"])
    if "unexpected_count" in result:
        text = f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected"
        examples = result.get("partial_unexpected_list") or []
        # the message is kept in Dagster's event log: no personal data in it
        if examples and column not in _pii_columns():
            text += f" (e.g. {[_plain(v) for v in examples[:3]]})"
        return text
    return None


def validate(
    suite: Suite,
    df: pd.DataFrame,
    docs_page: Path | None = None,
    parameters: dict | None = None,
) -> tuple[bool, list[ExpectationOutcome]]:
    """Validate a DataFrame against the suite; (all passed, per-expectation outcomes). With
    `docs_page`, also write the result as an offline Data Docs page there."""
    import great_expectations as gx

    if parameters is None:
        from pipelines.quality.parameters import suite_parameters

        parameters = suite_parameters()
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
    result = batch.validate(gx_suite, expectation_parameters=parameters)
    if docs_page is not None:
        from pipelines.quality.data_docs import write_validation_page

        write_validation_page(result, docs_page)
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                kwargs=kwargs,
                success=bool(r.success),
                severity=getattr(config.severity, "value", str(config.severity)),
                observed=_observed(r.result or {}, kwargs.get("column")),
                column=kwargs.get("column"),
                why=(config.meta or {}).get("why", ""),
            )
        )
    return bool(result.success), outcomes


def columns_of(suite: Suite) -> list[str]:
    cols: list[str] = []
    for e in suite.expectations:
        for key in ("column", "column_A", "column_B"):
            if key in e["kwargs"] and e["kwargs"][key] not in cols:
                cols.append(e["kwargs"][key])
        cols += [c for c in e["kwargs"].get("column_list", []) if c not in cols]
    return cols


def read_frame(con, suite: Suite, seed: int = 42) -> tuple[pd.DataFrame, int | None]:
    """What the suite validates: its query's result, or the columns it checks (a repeatable
    sample of at most `sample_rows` rows); with the table's row count for row-level suites."""
    if suite.query:
        return con.sql(suite.query).df(), None
    cols = ", ".join(f'"{c}"' for c in columns_of(suite)) or "*"
    total = con.sql(f"select count(*) from {suite.table}").fetchone()[0]
    sample = ""
    # a suite with table-level expectations (row counts) describes the whole table: never sampled
    whole = any(e["type"].startswith("expect_table_") for e in suite.expectations)
    if total > suite.sample_rows and not whole:
        sample = f" using sample reservoir({suite.sample_rows} rows) repeatable ({seed})"
    return con.sql(f"select {cols} from {suite.table}{sample}").df(), total


def run_suite(suite: Suite, docs_dir: Path | None = None, parameters: dict | None = None,
              con=None) -> SuiteRun:
    """Read (through `con`, or a short read-only warehouse connection closed before
    validating), validate, write the Data Docs page."""
    if con is None:
        from pipelines.warehouse import connect

        with connect(read_only=True) as ro:
            df, total = read_frame(ro, suite)
    else:
        df, total = read_frame(con, suite)
    docs_page = docs_dir / f"{suite.name}.html" if docs_dir is not None else None
    _, outcomes = validate(suite, df, docs_page, parameters)
    return SuiteRun(suite, outcomes, len(df), total, docs_page)
