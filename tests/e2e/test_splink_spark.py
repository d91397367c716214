"""Opt-in (C360_SPARK_TESTS=1, needs the `spark` extra and Java 17+; `make spark-tests`):
identity resolution with C360_SPLINK_BACKEND=spark trains and scores its Splink model on Spark
(local mode) and resolves the generated people as the DuckDB backend does. A few minutes:
Spark runs each of Splink's steps as jobs, slow on small data."""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("C360_SPARK_TESTS") != "1", reason="Spark tests: set C360_SPARK_TESTS=1"
    ),
]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch, tmp_path):
    """The settings are cached: this test's data folder and backend must not outlive it."""
    from pipelines import config

    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("C360_SPLINK_BACKEND", "duckdb")  # restored after the test
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_identity_resolves_on_splinks_spark_backend_as_on_duckdb(tmp_path):
    pytest.importorskip("pyspark", reason="the `spark` extra is not installed")
    import pandas as pd

    from pipelines import config
    from pipelines.identity import probabilistic
    from pipelines.identity.bench_spark import compare, resolve_on, same_customers
    from pipelines.identity.evaluate import pairwise_scores

    runs = compare(tmp_path, customers=150)
    spark = runs["spark"]
    assert spark.trained and len(spark.mapping) > 200
    model = probabilistic.load_model(spark.model_path)
    assert model["sql_dialect"] == "spark"
    assert "jaro_winkler(" in str(model) and "list_has_all" not in str(model)
    # the same people in the same customers as on DuckDB
    assert same_customers(spark, runs["duckdb"])
    truth = pd.read_csv(tmp_path / "data" / "truth" / "person_map.csv", dtype=str)
    assert pairwise_scores(spark.mapping, truth)["precision"] > 0.95
    # the next run reuses the Spark model, and a DuckDB run retrains rather than load it
    again = resolve_on("spark", tmp_path / "spark" / "warehouse.duckdb", tmp_path / "spark")
    assert not again.trained
    os.environ["C360_SPLINK_BACKEND"] = "duckdb"
    config.settings.cache_clear()
    assert probabilistic.spec_changed(model)
