"""The identity step's weekly (incremental) run on a copy of a pipeline's warehouse.

    python -m pipelines.identity.bench_weekly --warehouse data/warehouse/customer360.duckdb \\
        --models data/models --work /tmp/weekly [--delta-modulo 100] [--full]

Not a test: a benchmark that prints figures (docs/benchmarks.md, "Weekly identity run").
The warehouse and the Splink model are copied into `--work` (the originals are only read).
The copy is turned into the state before a week: the records first mapped by the newest run
(the week's new records) and every record whose id hashes to 0 modulo `--delta-modulo`
leave `identity.customer_map`, and `identity.match_columns` is filled for the records that
stay (as the previous week's run leaves it; `--cold` leaves it empty: the first run of this
code). Then `resolve` runs as the `identity_resolution` asset does, incremental (or full
with `--full`), and the stage times, wall and CPU seconds and peak memory are printed.
"""
# A command-line benchmark talks to the terminal:
# ruff: noqa: T201

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

import duckdb

from pipelines.identity import match_cache
from pipelines.identity.matcher import SplinkMatcher
from pipelines.identity.resolve import INPUT, resolve


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_week(con, delta_modulo: int, cold: bool) -> int:
    """Remove the week's records from the map (and fill the kept matching columns of the
    others unless `cold`); returns the records left to match."""
    con.sql("delete from identity.customer_map where first_seen_at = "
            "(select max(first_seen_at) from identity.customer_map) "
            f"or hash(source_record_id) % {int(delta_modulo)} = 0")
    con.sql("drop table if exists identity.match_columns")
    if not cold:
        known = con.sql(f"select r.* from {INPUT} r semi join identity.customer_map m "
                        "using (source_system, source_record_id) "
                        "order by source_system, source_record_id").df()
        match_cache.own_columns(con, known)
    con.sql("checkpoint")
    total, mapped = con.sql(f"select (select count(*) from {INPUT}), "
                            "(select count(*) from identity.customer_map)").fetchone()
    return total - mapped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True,
                        help="the models folder holding identity/splink_model.json")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--delta-modulo", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="a full re-cluster instead")
    parser.add_argument("--cold", action="store_true", help="no kept matching columns")
    parser.add_argument("--memory-limit", default="4GB")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    base = args.work / f"week_{args.delta_modulo}{'_cold' if args.cold else ''}.duckdb"
    if not base.exists():  # the week's starting point, made once per settings
        t0 = time.perf_counter()
        shutil.copy(args.warehouse, args.work / "partial.duckdb")
        with duckdb.connect(str(args.work / "partial.duckdb")) as con:
            con.sql(f"set memory_limit = '{args.memory_limit}'")
            waiting = prepare_week(con, args.delta_modulo, args.cold)
        (args.work / "partial.duckdb").rename(base)
        print(f"starting point {base.name}: {waiting:,} records to match "
              f"({time.perf_counter() - t0:.0f} s to make)")
    run = args.work / "run.duckdb"
    shutil.copy(base, run)
    models = args.work / "models"
    shutil.rmtree(models, ignore_errors=True)
    shutil.copytree(args.models / "identity", models)
    matcher = SplinkMatcher(model_path=models / "splink_model.json")
    with duckdb.connect(str(run)) as con:
        con.sql(f"set memory_limit = '{args.memory_limit}'")
        wall, cpu = time.perf_counter(), time.process_time()
        result = resolve(con, matcher=matcher, full=args.full, log=lambda s: print(f"  {s}"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{result.mode} run: matched {result.matched_records:,} of {result.records:,} "
          f"records -> {result.customers:,} customers; own matching columns derived for "
          f"{matcher.derived_records:,} records")
    print(f"identity step: {wall:.1f} s wall, {cpu:.1f} s CPU (this process; DuckDB threads "
          f"included), peak RSS {_peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
