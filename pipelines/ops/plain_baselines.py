"""The plain-tool baselines of `make bench` (pipelines/scale_bench.py), each run as its own
process so its CPU and memory are measured alone:

- `read DATA_DIR`: every landing file read by DuckDB's own reader (`read_csv` with the
  contract's delimiter, `read_json` for JSON lines, `read_parquet`) into a table of a fresh
  DuckDB file, with the pipeline's memory limit and threads: what ingestion costs without
  contracts, lineage, checks, quarantine and the file registry.
- `ingest DATA_DIR`: the same files through the pipeline's own loader
  (`pipelines.ingest.loader.ingest_contract`, one contract after another, no Dagster) into a
  fresh warehouse: the loader's side of the ratio, with seconds per contract.
- `splink DATA_DIR`: the same records identity reads (`staging.int_customer_records_unioned`
  of the bench warehouse, with the matching columns of `probabilistic.prepare`), a plain
  Splink model (library comparisons, the pipeline's prediction blocking rules, u by sampling,
  m by EM), clustered at the pipeline's match threshold; pairwise scores of it and of the
  pipeline's `identity.customer_map` against the generator's truth.

Each prints one JSON line last.
"""
# ruff: noqa: T201

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.config import settings
from pipelines.ingest.contracts import load_contracts


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def plain_read_sql(fmt: str, path: Path, delimiter: str, encoding: str) -> str:
    """DuckDB's own reader for one landing file, everything left to its sniffer. CSV types are
    sniffed over the whole file (`sample_size=-1`): types sniffed from a sample made
    `ignore_errors` drop the 105,965 shop customers (of 834,012 at 1M) whose ids did not fit
    the sampled BIGINT, so the read did not load the same rows."""
    if fmt == "csv":
        enc = "" if encoding.lower() in ("utf-8", "utf-8-sig") else f", encoding={_lit(encoding)}"
        return (f"read_csv({_lit(str(path))}, delim={_lit(delimiter)}, header=true, "
                f"sample_size=-1, ignore_errors=true{enc})")
    if fmt == "jsonl":
        return f"read_json({_lit(str(path))}, format='newline_delimited', ignore_errors=true)"
    return f"read_parquet({_lit(str(path))})"


def plain_read(data_dir: Path) -> dict:
    s = settings()
    files = []
    for contract in load_contracts(s.contracts_dir):
        for path in sorted((data_dir / "landing").glob(contract.files)):
            files.append((contract, path))
    rows, by_contract = 0, {}
    with tempfile.TemporaryDirectory(prefix="c360-plain-read-", dir=data_dir) as tmp:
        t0 = time.perf_counter()
        with duckdb.connect(str(Path(tmp) / "plain.duckdb")) as con:
            con.sql(f"set memory_limit = {_lit(s.duckdb_memory_limit)}")
            con.sql(f"set threads = {int(s.duckdb_threads)}")
            for i, (contract, path) in enumerate(files):
                started = time.perf_counter()
                enc = contract.encoding
                source = path
                if contract.format == "csv" and enc.lower() not in (
                        "utf-8", "utf-8-sig", "utf-16", "latin-1"):
                    # DuckDB's reader has no such encoding: transcode, as ingestion does
                    source = Path(tmp) / f"{i}.csv"
                    with path.open(encoding=enc, newline="") as src, source.open(
                            "w", encoding="utf-8", newline="") as dst:
                        while chunk := src.read(1 << 22):
                            dst.write(chunk)
                    enc = "utf-8"
                sql = plain_read_sql(contract.format, source, contract.delimiter, enc)
                con.sql(f"create table t{i} as select * from {sql}")
                rows += con.sql(f"select count(*) from t{i}").fetchone()[0]
                by_contract[contract.name] = round(
                    by_contract.get(contract.name, 0) + time.perf_counter() - started, 2)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": rows, "files": len(files), "by_contract": by_contract}


def loader_ingest(data_dir: Path) -> dict:
    from pipelines.ingest.loader import ingest_contract
    from pipelines.warehouse import connect

    seconds, rows = {}, 0
    with tempfile.TemporaryDirectory(prefix="c360-ingest-", dir=data_dir) as tmp:
        os.environ["C360_WAREHOUSE"] = str(Path(tmp) / "warehouse.duckdb")
        settings.cache_clear()
        t0 = time.perf_counter()
        with connect() as con:
            for contract in load_contracts(settings().contracts_dir):
                started = time.perf_counter()
                results = ingest_contract(con, contract, data_dir / "landing")
                seconds[contract.name] = round(time.perf_counter() - started, 2)
                rows += sum(r.rows_read for r in results)
        total = time.perf_counter() - t0
    return {"seconds": total, "rows": rows, "by_contract": seconds}


def plain_splink(data_dir: Path) -> dict:
    import numpy as np
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from pipelines.identity import probabilistic as prob
    from pipelines.identity.deterministic import RECORD_KEY
    from pipelines.identity.evaluate import pairwise_scores

    s = settings()
    warehouse = data_dir / "warehouse" / "customer360.duckdb"
    t0 = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        records = con.sql("select * from staging.int_customer_records_unioned "
                          "order by source_system, source_record_id").df()
        ours = con.sql(f"select {', '.join(RECORD_KEY)}, customer_id "
                       "from identity.customer_map").df()
    prepared = prob.prepare(records)
    scalar = [c for c in prepared.columns
              if c not in ("det_cluster",) and prepared[c].map(
                  lambda v: isinstance(v, list | np.ndarray)).sum() == 0]
    data = prepared[scalar]
    t1 = time.perf_counter()
    settings_ = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                     datetime_format="%Y-%m-%d"),
            cl.EmailComparison("email_key"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("city_norm").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street_norm", [0.9]),
        ],
        blocking_rules_to_generate_predictions=prob._prediction_blocking_rules(),
    )
    with prob.matcher_connection(s.duckdb_threads) as con:  # as the pipeline's Splink
        db_api = DuckDBAPI(connection=con)
        linker = Linker(db_api.register(data, table_name="records"), settings_, log_level=None)
        with prob.quiet_max_pairs_warning():
            linker.training.estimate_probability_two_random_records_match(
                prob._deterministic_rules(), recall=0.7)
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("name_letters"))
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("email_key"))
        predictions = linker.inference.predict(threshold_match_probability=s.match_threshold)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=s.match_threshold
        ).as_pandas_dataframe()
    t2 = time.perf_counter()
    by_id = dict(zip(clusters["unique_id"], clusters["cluster_id"]))
    labels = [str(by_id.get(i, f"single{i}")) for i in data["unique_id"]]
    truth = pd.read_csv(data_dir / "truth" / "person_map.csv", dtype=str,
                        keep_default_na=False)
    plain = pairwise_scores(records[RECORD_KEY].assign(customer_id=labels), truth)
    pipeline = pairwise_scores(ours, truth)
    return {"seconds": t2 - t0, "splink_seconds": t2 - t1, "prepare_seconds": t1 - t0,
            "records": len(records),
            "plain": plain, "pipeline": pipeline}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    what, data_dir = argv[0], Path(argv[1]).resolve()
    run = {"read": plain_read, "ingest": loader_ingest, "splink": plain_splink}[what]
    result = run(data_dir)
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
