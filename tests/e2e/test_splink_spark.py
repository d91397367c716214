"""Opt-in (C360_SPARK_TESTS=1, needs the `spark` extra and Java 17+; `make spark-tests`):
identity resolution with C360_SPLINK_BACKEND=spark trains and scores its Splink model on Spark
(local mode) and resolves the generated people as the DuckDB backend does. A few minutes:
Spark runs each of Splink's steps as jobs, slow on small data."""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("C360_SPARK_TESTS") != "1", reason="Spark tests: set C360_SPARK_TESTS=1"
    ),
]


@pytest.fixture(autouse=True)
def _fresh_settings():
    """The settings are cached: this test's data folder and backend must not outlive it."""
    from pipelines import config

    yield
    config.settings.cache_clear()


def _resolve(warehouse, models, backend: str, monkeypatch):
    from pipelines import config
    from pipelines.identity.matcher import SplinkMatcher
    from pipelines.identity.resolve import resolve
    from pipelines.warehouse import connect

    monkeypatch.setenv("C360_SPLINK_BACKEND", backend)
    config.settings.cache_clear()
    matcher = SplinkMatcher(model_path=models / "splink_model.json")
    with connect(warehouse) as con:
        resolve(con, matcher=matcher)
        mapping = con.sql("select source_system, source_record_id, customer_id "
                          "from identity.customer_map").df()
    return matcher, mapping


def _groups(mapping) -> set[frozenset]:
    keys = mapping["source_system"] + "|" + mapping["source_record_id"]
    return {frozenset(g) for g in keys.groupby(mapping["customer_id"]).agg(list)}


def test_identity_resolves_on_splinks_spark_backend_as_on_duckdb(tmp_path, monkeypatch):
    pytest.importorskip("pyspark", reason="the `spark` extra is not installed")
    import pandas as pd

    from pipelines import config
    from pipelines.identity import probabilistic
    from pipelines.identity.evaluate import pairwise_scores
    from pipelines.spark_target import build_staging

    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path / "data"))
    config.settings.cache_clear()
    staged = build_staging(tmp_path, customers=150, seed=7)
    runs = {}
    for backend in ("duckdb", "spark"):
        warehouse = tmp_path / backend / "warehouse.duckdb"
        warehouse.parent.mkdir()
        shutil.copy(staged, warehouse)
        runs[backend] = _resolve(warehouse, tmp_path / backend, backend, monkeypatch)

    spark_matcher, spark_map = runs["spark"]
    assert spark_matcher.trained and spark_matcher.links > 0
    model = probabilistic.load_model(spark_matcher.model_path)
    assert model["sql_dialect"] == "spark"
    assert "jaro_winkler(" in str(model) and "list_has_all" not in str(model)
    # the same people in the same customers as on DuckDB
    assert _groups(spark_map) == _groups(runs["duckdb"][1])
    truth = pd.read_csv(tmp_path / "data" / "truth" / "person_map.csv", dtype=str)
    assert pairwise_scores(spark_map, truth)["precision"] > 0.95
    # the next run reuses the Spark model, and a DuckDB run retrains rather than load it
    again, _ = _resolve(tmp_path / "spark" / "warehouse.duckdb", tmp_path / "spark", "spark",
                        monkeypatch)
    assert again.train_reason is None
    monkeypatch.setenv("C360_SPLINK_BACKEND", "duckdb")
    config.settings.cache_clear()
    assert probabilistic.spec_changed(model)
