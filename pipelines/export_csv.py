"""CSV exports of the published BI tables for spreadsheet users, with formula text neutralised.

The warehouse, the serving DuckDB file and the Parquet files keep text exactly as it arrived
(a customer may really be called `=SUM(...)`); Parquet and DuckDB carry types, so no reader
evaluates it. A spreadsheet opening a CSV does evaluate a cell starting with `=`, `+`, `-`, `@`,
tab or carriage return (CSV/formula injection, OWASP): in text columns such a cell is written
with a leading `'`, which spreadsheets show as text. Numbers and dates are written as they are.

    python -m pipelines.export_csv customer_360 --out exports/customer_360.csv
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

from pipelines.config import settings
from pipelines.publish import SERVING_FILE

FORMULA_START = r"^[=+\-@\t\r]"


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def neutralised_select(con, relation: str) -> str:
    """SELECT of `relation` with every text column's formula-like cells prefixed by `'`."""
    columns = con.sql(f"describe {relation}").fetchall()
    exprs = []
    for name, type_, *_ in columns:
        if type_ == "VARCHAR":
            exprs.append(
                f"case when regexp_matches({q(name)}, '{FORMULA_START}') then '''' || {q(name)} "
                f"else {q(name)} end as {q(name)}"
            )
        else:
            exprs.append(q(name))
    return f"select {', '.join(exprs)} from {relation}"


def export_csv(table: str, out: Path, serving_file: Path | None = None) -> int:
    """Write bi.<table> of the serving file to `out` (via a temporary name, then renamed);
    returns the number of rows."""
    serving_file = serving_file or settings().serving_dir / SERVING_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with duckdb.connect(str(serving_file), read_only=True) as con:
        sql = neutralised_select(con, f"bi.{q(table)}")
        con.sql(f"copy ({sql}) to '{tmp}' (format csv, header true)")
        rows = con.sql(f"select count(*) from bi.{q(table)}").fetchone()[0]
    os.replace(tmp, out)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="a bi table, e.g. customer_360")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = export_csv(args.table, args.out)
    print(f"{rows} rows of bi.{args.table} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
