"""End to end: `python -m pipelines.demo` on a small generated dataset, in a fresh data
directory, through the same Dagster definitions the UI loads; then real properties of what
it produced."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.identity.evaluate import pairwise_scores

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = 1500
END_DATE = "2026-11-15"


def run_demo(data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "C360_DATA_DIR": str(data_dir)}
    for var in (
        "C360_WAREHOUSE",
        "C360_LANDING_DIR",
        "C360_SERVING_DIR",
        "MLFLOW_TRACKING_URI",
        "DAGSTER_HOME",
        "C360_MLFLOW_ARTIFACTS",
    ):
        env.pop(var, None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.demo",
            "--customers",
            str(CUSTOMERS),
            "--seed",
            "11",
            "--end-date",
            END_DATE,
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("c360")
    first = run_demo(data_dir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    with duckdb.connect(str(data_dir / "warehouse/customer360.duckdb"), read_only=True) as con:
        ids_before = con.sql("select * from identity.customer_map").df()
    # a second run over the same landing files: nothing new is loaded, ids stay
    second = run_demo(data_dir)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    return {"dir": data_dir, "out": first.stdout, "ids_before": ids_before}


@pytest.fixture(scope="module")
def wh(demo):
    con = duckdb.connect(str(demo["dir"] / "warehouse/customer360.duckdb"), read_only=True)
    yield con
    con.close()


def scalar(con, sql):
    return con.sql(sql).fetchone()[0]


def test_demo_prints_a_summary(demo):
    assert "customers (true persons:" in demo["out"]
    assert "pairwise precision" in demo["out"]


def test_counts_reconcile_per_layer(wh):
    files = wh.sql(
        "select contract, rows_read, rows_loaded, rows_quarantined "
        "from raw.file_registry where status = 'loaded'"
    ).df()
    assert len(files) == 8
    assert (files["rows_read"] == files["rows_loaded"] + files["rows_quarantined"]).all()
    assert files["rows_quarantined"].sum() > 0  # the generator plants malformed rows
    for contract, loaded in files.groupby("contract")["rows_loaded"].sum().items():
        assert scalar(wh, f"select count(*) from raw.{contract}") == loaded, contract
    assert scalar(wh, "select count(*) from raw.quarantine") == files["rows_quarantined"].sum()
    # staging keeps one row per source key; the identity input holds every customer record
    assert scalar(wh, "select count(*) from staging.stg_shop__orders") == scalar(
        wh, "select count(distinct shop_order_id) from raw.shop__orders"
    )
    records = scalar(wh, "select count(*) from staging.int_customer_records_unioned")
    assert records == sum(
        scalar(wh, f"select count(*) from staging.{t}")
        for t in ("stg_crm__contacts", "stg_shop__customers", "stg_social__profiles")
    )
    assert scalar(wh, "select count(*) from marts.customer_identities") == records
    assert scalar(wh, "select count(*) from marts.orders") == scalar(
        wh, "select count(*) from staging.stg_shop__orders"
    )
    assert scalar(wh, "select count(*) from marts.customer_360") == scalar(
        wh, "select count(distinct customer_id) from identity.customer_map"
    )


def test_second_run_loads_nothing_new_and_keeps_ids(demo, wh):
    assert scalar(wh, "select count(*) from raw.file_registry") == 8
    after = wh.sql("select * from identity.customer_map").df()
    key = ["source_system", "source_record_id"]
    both = demo["ids_before"].merge(after, on=key, suffixes=("_before", "_after"))
    assert len(both) == len(after) == len(demo["ids_before"])
    assert (both["customer_id_before"] == both["customer_id_after"]).all()


def test_every_source_record_maps_to_exactly_one_customer(wh):
    assert (
        scalar(
            wh,
            "select count(*) from (select source_system, source_record_id from "
            "identity.customer_map group by all having count(*) > 1)",
        )
        == 0
    )
    assert (
        scalar(
            wh,
            "select count(*) from staging.int_customer_records_unioned r anti join "
            "identity.customer_map m using (source_system, source_record_id)",
        )
        == 0
    )


def test_identity_precision_against_truth(demo, wh):
    truth = pd.read_csv(demo["dir"] / "truth/person_map.csv", dtype=str)
    predicted = wh.sql(
        "select source_system, source_record_id, customer_id from identity.customer_map"
    ).df()
    scores = pairwise_scores(predicted, truth)
    print(f"identity on {CUSTOMERS} persons: {scores}")
    assert scores["precision"] >= 0.99
    assert scores["recall"] > 0.5  # deterministic rules only; Splink raises it later
    assert scores["customers"] < scores["records"]  # duplicates were merged


def test_serving_file_opens_read_only_in_another_process(demo):
    serving = demo["dir"] / "serving/customer360.duckdb"
    script = (
        "import duckdb, json, sys\n"
        f"con = duckdb.connect({str(serving)!r}, read_only=True)\n"
        "tables = {t: [c[0] for c in con.sql(f'describe bi.{t}').fetchall()] for (t,) in "
        "con.sql(\"select table_name from information_schema.tables where table_schema='bi'\")"
        ".fetchall()}\n"
        "counts = {t: con.sql(f'select count(*) from bi.{t}').fetchone()[0] for t in tables}\n"
        "print(json.dumps({'tables': tables, 'counts': counts}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    contract = {
        "customer_360": {"customer_id"},
        "customer_identities": {"customer_id", "source_system", "source_record_id"},
        "customer_segments": {"customer_id", "snapshot_date", "rfm_segment", "cluster"},
        "customer_value": {"customer_id", "snapshot_date", "predicted_clv_12m", "value_tier"},
        "customer_churn": {"customer_id", "snapshot_date", "churn_probability"},
    }
    for table, columns in contract.items():
        assert columns <= set(result["tables"][table]), table
        assert result["counts"][table] > 0, table
        assert (demo["dir"] / f"serving/parquet/{table}.parquet").exists()
    assert not list((demo["dir"] / "serving").glob(".*tmp"))


def test_weekly_features_use_only_events_before_the_snapshot(wh):
    # recount from orders for every customer and snapshot: no order after the snapshot counts
    mismatches = scalar(
        wh,
        """
        select count(*) from marts.customer_features_weekly f
        left join (
            select f2.customer_id, f2.snapshot_date, count(o.order_id) as n
            from marts.customer_features_weekly f2
            join marts.orders o on o.customer_id = f2.customer_id and o.is_paid
                and o.ordered_at < f2.snapshot_date + interval 1 day
            group by all
        ) c using (customer_id, snapshot_date)
        where f.orders_total <> coalesce(c.n, 0)
    """,
    )
    assert mismatches == 0
    assert (
        scalar(wh, "select count(distinct snapshot_date) from marts.customer_features_weekly") == 60
    )


def test_scores_are_sane(wh):
    assert (
        scalar(
            wh, "select count(*) from bi.customer_churn where churn_probability not between 0 and 1"
        )
        == 0
    )
    tiers = dict(wh.sql("select value_tier, count(*) from bi.customer_value group by 1").fetchall())
    total = sum(tiers.values())
    assert abs(tiers["top"] / total - 0.2) < 0.02
    assert scalar(wh, "select count(distinct rfm_segment) from bi.customer_segments") >= 4


def test_mlflow_has_three_champion_models(demo):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{demo['dir'] / 'mlflow/mlflow.db'}")
    for name in ("customer_segmentation", "customer_value", "customer_churn"):
        version = client.get_model_version_by_alias(name, "champion")
        assert int(version.version) >= 1, name


def test_dagster_instance_recorded_the_runs_and_checks(demo):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    os.environ["DAGSTER_HOME"] = str(demo["dir"] / "dagster")
    try:
        with DagsterInstance.get() as instance:
            runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
            assert len(runs) == 2
            record = instance.get_latest_materialization_event(
                __import__("dagster").AssetKey(["bi", "customer_360"])
            )
            assert record is not None
    finally:
        os.environ.pop("DAGSTER_HOME")
