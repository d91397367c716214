"""Identity resolution of N source records on this machine (issue 3's scale target).

    python -m pipelines.identity.bench_scale --warehouse <run>/warehouse/customer360.duckdb \\
        --truth <exports>/truth/person_map.csv --records 1000000 --work /tmp/identity-scale

Not a test: a benchmark that prints figures (docs/benchmarks.md, "Identity at 1M records").
Whole people are taken from the warehouse's `staging.int_customer_records_unioned` (in the
order of a hash of their person id, until N records) into a fresh DuckDB file in `--work`
(the warehouse is only read). `resolve` then runs there as a pipeline's first identity run
does: it trains a Splink model, scores every pair, clusters under the guards and assigns
ids. Printed: wall and CPU seconds, peak RSS of this process (the warehouse connection and
Splink's DuckDB run inside it), and pairwise and B-cubed scores against the truth.
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

from pipelines.config import settings
from pipelines.identity.evaluate import pairwise_scores
from pipelines.identity.matcher import SplinkMatcher
from pipelines.identity.resolve import INPUT, resolve


def take_people(con, warehouse: Path, truth: Path, records: int) -> int:
    """Copy the records of whole people, up to `records` of them, into `con`'s INPUT table
    and the truth of those records into `truth`; returns the records copied."""
    con.sql(f"attach '{warehouse}' as source (read_only true)")
    con.sql(f"create table truth as select * from read_csv('{truth}', all_varchar = true)")
    con.sql(f"""
        create table people as
        with sizes as (select person_id, count(*) as n from truth group by person_id),
        running as (
            select person_id, sum(n) over (order by hash(person_id), person_id
                                           rows unbounded preceding) as total
            from sizes)
        select person_id from running where total <= {int(records)}""")
    con.sql("create schema staging")
    con.sql(f"""
        create table {INPUT} as select r.* from source.{INPUT} r
        join truth t using (source_system, source_record_id) semi join people using (person_id)
        order by r.source_system, r.source_record_id""")
    con.sql("delete from truth where person_id not in (select person_id from people)")
    con.sql("detach source")
    return con.sql(f"select count(*) from {INPUT}").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True, help="person_map.csv")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    s = settings()
    print(f"memory limits: warehouse connection {s.duckdb_memory_limit}, Splink's database "
          f"{s.matcher_memory_limit}; {s.duckdb_threads} DuckDB threads")
    with duckdb.connect(str(args.work / "warehouse.duckdb")) as con:
        con.sql(f"set memory_limit = '{s.duckdb_memory_limit}'")
        con.sql(f"set threads = {s.duckdb_threads}")
        t0 = time.perf_counter()
        n = take_people(con, args.warehouse, args.truth, args.records)
        con.sql("checkpoint")
        print(f"{n:,} records of whole people copied in {time.perf_counter() - t0:.0f} s")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        matcher = SplinkMatcher(model_path=args.work / "models" / "splink_model.json")
        wall, cpu = time.perf_counter(), time.process_time()
        result = resolve(con, matcher=matcher, log=lambda line: print(f"  {line}"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        predicted = con.sql("select source_system, source_record_id, customer_id "
                            "from identity.customer_map").df()
        truth = con.sql("select source_system, source_record_id, person_id from truth").df()
    got = pairwise_scores(predicted, truth)
    print(f"{result.mode} run ({matcher.train_reason}): {result.records:,} records -> "
          f"{result.customers:,} customers ({got['persons']:,} people)")
    print(f"identity step: {wall:.1f} s wall ({wall / 60:.1f} min), {cpu:.1f} s CPU (this "
          f"process; DuckDB threads included), peak RSS {peak:,.0f} MB (copying the records "
          f"before it: {before:,.0f} MB)")
    print(f"pairwise precision {got['precision']:.4f} recall {got['recall']:.4f} "
          f"F1 {got['f1']:.4f}; B-cubed F1 {got['bcubed_f1']:.4f}; false merge pairs "
          f"{got['false_merge_pairs']:,}, missed pairs {got['missed_pairs']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
