"""Bounded reads at scale: GE samples of large tables, churn's column and customer sample."""

import json

import duckdb

from models_ml.churn import snapshots_sql
from pipelines.quality.suites import Suite, read_frame


def suite(tmp_path, expectations, sample_rows):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "expectations": expectations}))
    return Suite("s", "t", ("t",), False, "", path, sample_rows=sample_rows)


NOT_NULL = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}


def test_small_tables_are_read_whole_and_large_ones_sampled(tmp_path):
    with duckdb.connect() as con:
        con.sql("create table t as select range as a, range % 7 as b from range(5000)")
        df, total = read_frame(con, suite(tmp_path, [NOT_NULL], 10_000))
        assert total == 5000 and len(df) == 5000 and list(df.columns) == ["a"]
        df, _ = read_frame(con, suite(tmp_path, [NOT_NULL], 1000))
        assert len(df) == 1000 and list(df.columns) == ["a"]
        again, _ = read_frame(con, suite(tmp_path, [NOT_NULL], 1000))
        assert sorted(df["a"]) == sorted(again["a"])  # repeatable


def test_a_suite_with_a_row_count_expectation_is_never_sampled(tmp_path):
    rows = {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}
    with duckdb.connect() as con:
        con.sql("create table t as select range as a from range(5000)")
        df, _ = read_frame(con, suite(tmp_path, [NOT_NULL, rows], 1000))
        assert len(df) == 5000


def test_churn_snapshots_keep_the_newest_week_whole_and_sample_customers():
    with duckdb.connect() as con:
        con.sql(
            "create table f as select 'c' || c.range as customer_id, "
            "date '2026-01-05' + 7 * cast(w.range as integer) as snapshot_date, "
            "c.range * 1.0 as x, 'unused' as y from range(2000) c, range(10) w"
        )
        whole = con.sql(snapshots_sql(["customer_id", "snapshot_date", "x"], 20_000, 50_000,
                                      table="f")).df()
        assert len(whole) == 20_000 and "y" not in whole.columns
        part = con.sql(snapshots_sql(["customer_id", "snapshot_date", "x"], 20_000, 5_000,
                                     table="f")).df()
    newest = part[part["snapshot_date"] == part["snapshot_date"].max()]
    assert len(newest) == 2000  # scored in full
    older = part[part["snapshot_date"] < part["snapshot_date"].max()]
    assert 2_500 < len(older) < 7_500  # about max_rows
    per_customer = older.groupby("customer_id").size()
    assert (per_customer == 9).all()  # a sampled customer keeps all its weeks


def test_model_fits_default_to_one_openmp_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    from models_ml._frames import openmp_threads

    def omp():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]

    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime

    monkeypatch.delenv("C360_ML_THREADS", raising=False)
    with openmp_threads(None):
        assert set(omp()) == {1}
    monkeypatch.setenv("C360_ML_THREADS", "2")
    with openmp_threads(None):
        assert set(omp()) == {2}
    with openmp_threads(1):
        assert set(omp()) == {1}


def test_model_and_publish_reads_never_bind_parameters_through_con_sql():
    # DuckDB 1.4 ran a relation built by con.sql(query, params=...) 4-19x slower than
    # con.execute(query, params): 9.5 s instead of 0.5 s for one weekly snapshot at 1M
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [*root.glob("pipelines/defs/*.py"), root / "pipelines/cross_sell_run.py",
             *root.glob("models_ml/*.py")]
    slow = [f"{f.name}: {m.group(0)[:60]}" for f in files
            for m in re.finditer(r"\.sql\((?:[^()]|\([^()]*\))*?params=\[", f.read_text())]
    assert len(files) > 10 and slow == []
