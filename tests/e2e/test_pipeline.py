"""End to end: `python -m pipelines.demo` on a small generated dataset, in a fresh data
directory, through the same Dagster definitions the UI loads; then real properties of what
it produced."""

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.identity.evaluate import false_merges_sharing, pairwise_scores

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = 1500
END_DATE = "2026-11-08"  # a past Sunday: the increment's week must be a complete partition
INCREMENT_END = "2026-11-15"
WAREHOUSE = "warehouse/customer360.duckdb"  # in the data folder


def run_demo(data_dir: Path, end_date: str = END_DATE, weeks: int = 60
             ) -> subprocess.CompletedProcess:
    # at most 40 weeks of snapshots per dbt run: the 60-week backfill takes two (decision 0081)
    env = {**os.environ, "C360_DATA_DIR": str(data_dir),
           "C360_SNAPSHOT_ROWS_PER_BUILD": str(CUSTOMERS * 40)}
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
            end_date,
            "--weeks",
            str(weeks),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def read(data_dir: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / WAREHOUSE), read_only=True) as con:
        return con.sql(sql).df()


def published_and_features(data_dir: Path) -> dict[str, str]:
    """Checksums of every published table (DuckDB file and Parquet) and of the weekly
    feature snapshots, with the number of rows and of weeks."""
    from pipelines.ops.checksums import serving_checksums, table_checksums

    sums = serving_checksums(data_dir / "serving")
    sums |= table_checksums(data_dir / WAREHOUSE,
                            ["marts.customer_features_weekly"])
    sums["weeks"] = str(read(data_dir, "select count(distinct snapshot_date) as n "
                                       "from marts.customer_features_weekly")["n"][0])
    return sums


def redrop_landing_files(landing: Path) -> None:
    """Drop every landing file again (same bytes, a new file written a minute ago)."""
    for p in sorted(landing.rglob("*.*")):
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)
        old = p.stat().st_mtime - 60
        os.utime(p, (old, old))


def warehouse_copy(demo: dict, tmp_path: Path) -> Path:
    """A copy of the e2e run's warehouse, for dbt runs that must not touch the original."""
    import shutil

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo["dir"] / WAREHOUSE, copy)
    return copy


def snapshot_differences(incremental: Path, rebuilt: Path) -> tuple[int, int, int]:
    """(rows, rows only in `incremental`, rows only in `rebuilt`) of the weekly snapshots of
    two warehouses; `_events_ingested_at` (when a row was built) left out."""
    table = "select * exclude (_events_ingested_at) from {}.marts.customer_features_weekly"
    with duckdb.connect() as con:
        con.sql(f"attach '{incremental}' as incremental (read_only)")
        con.sql(f"attach '{rebuilt}' as rebuilt (read_only)")
        rows = scalar(con, f"select count(*) from ({table.format('incremental')})")
        return rows, *(scalar(con, f"select count(*) from (({table.format(x)}) except all "
                                   f"({table.format(y)}))")
                       for x, y in (("incremental", "rebuilt"), ("rebuilt", "incremental")))


def snapshot_vars(first: date, last: date) -> str:
    """--vars building the weekly snapshots from the week of `first` to that of `last`
    (snapshot dates: Sundays)."""
    return json.dumps({"snapshot_from": str(first - timedelta(days=6)),
                       "snapshot_to": str(last - timedelta(days=6))})


def dbt_run(demo: dict, warehouse: Path, tmp_path: Path, *args: str) -> None:
    """`dbt run <args>` of this project on `warehouse` (the e2e run's data folder)."""
    from pipelines.config import DBT_PROJECT_DIR

    env = {**os.environ, "C360_DATA_DIR": str(demo["dir"]), "C360_WAREHOUSE": str(warehouse),
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-5000:]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Three runs: the demo (60 weekly snapshots); the same landing files again; one more week
    of exports (its week's snapshot only)."""
    from pipelines.sample_data import generate_increment

    data_dir = tmp_path_factory.mktemp("c360")
    first = run_demo(data_dir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    ids_first = read(data_dir, "select * from identity.customer_map")
    sums_first = published_and_features(data_dir)
    redrop_landing_files(data_dir / "landing")
    second = run_demo(data_dir)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    ids_second = read(data_dir, "select * from identity.customer_map")
    sums_second = published_and_features(data_dir)
    tiers_second = read(data_dir, "select tier_change from ml.customer_value")["tier_change"]
    files_second = read(data_dir, "select * from raw.file_registry")
    generate_increment(data_dir, customers=CUSTOMERS, seed=11,
                       end_date=date.fromisoformat(END_DATE))
    third = run_demo(data_dir, INCREMENT_END, weeks=1)  # its own week, as the weekly schedule
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-5000:]
    return {"dir": data_dir, "out": first.stdout, "ids_first": ids_first,
            "later_outs": [run.stdout + run.stderr for run in (second, third)],
            "ids_second": ids_second, "files_second": files_second,
            "sums_first": sums_first, "sums_second": sums_second,
            "tiers_second": tiers_second}


@pytest.fixture(scope="module")
def wh(demo):
    con = duckdb.connect(str(demo["dir"] / WAREHOUSE), read_only=True)
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
    assert len(files) > 8  # 8 exports, then the files of the increment week
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


def test_second_run_loads_nothing_new_and_keeps_ids(demo):
    assert len(demo["files_second"]) == 8  # the same 8 files, registered once
    key = ["source_system", "source_record_id"]
    both = demo["ids_first"].merge(demo["ids_second"], on=key, suffixes=("_1", "_2"))
    assert len(both) == len(demo["ids_first"]) == len(demo["ids_second"])
    assert (both["customer_id_1"] == both["customer_id_2"]).all()


def test_same_inputs_twice_give_identical_published_tables(demo):
    """Second run on re-dropped, unchanged files: every published table (serving DuckDB file
    and Parquet) and every weekly feature snapshot is identical; the 60 weekly partitions
    were rebuilt (delete+insert), not appended."""
    from pipelines.defs.serving import BI_TABLES

    first, second = demo["sums_first"], demo["sums_second"]
    assert len([k for k in first if k.startswith("parquet:")]) == len(BI_TABLES)
    assert {k: v for k, v in second.items() if first.get(k) != v} == {}
    assert first["weeks"] == "60"
    # tier migration compares with last week's snapshot (there is none here), never with the
    # first run's output of the same week
    assert demo["tiers_second"].eq("new").all()


def test_weekly_increment_loads_new_files_and_keeps_unchanged_customers_ids(demo, wh):
    assert scalar(wh, "select count(*) from raw.file_registry where status = 'loaded'") > 8
    key = ["source_system", "source_record_id"]
    before, after = demo["ids_second"], wh.sql("select * from identity.customer_map").df()
    assert len(after) > len(before)  # the increment brought new people
    # customers whose set of records did not change in the increment
    def record_sets(m):
        return m.groupby("customer_id")["source_record_id"].apply(
            lambda s: frozenset(s.tolist()))
    sets_before = record_sets(before.assign(source_record_id=before[key].agg(":".join, axis=1)))
    sets_after = record_sets(after.assign(source_record_id=after[key].agg(":".join, axis=1)))
    unchanged = set(sets_before.tolist()) & set(sets_after.tolist())
    by_set_before = {v: k for k, v in sets_before.items() if v in unchanged}
    by_set_after = {v: k for k, v in sets_after.items() if v in unchanged}
    kept = sum(by_set_before[s] == by_set_after[s] for s in unchanged)
    assert len(unchanged) > 0.9 * len(sets_before)
    assert kept / len(unchanged) >= 0.999


def test_incremental_identity_agrees_with_a_full_recluster(demo, wh, tmp_path):
    import shutil

    from pipelines.identity.matcher import SplinkMatcher
    from pipelines.identity.resolve import resolve

    incremental = wh.sql("select * from identity.customer_map").df()
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo["dir"] / WAREHOUSE, copy)
    for name in ("splink_model.json", "splink_model.profile.json"):
        shutil.copy(demo["dir"] / "models/identity" / name, tmp_path / name)
    model = tmp_path / "splink_model.json"
    with duckdb.connect(str(copy)) as con:
        result = resolve(con, matcher=SplinkMatcher(model), full=True)
        full = con.sql("select * from identity.customer_map").df()
    assert result.mode == "full"
    agreement = pairwise_scores(incremental, full.rename(columns={"customer_id": "person_id"}))
    print(f"incremental vs full re-cluster: {agreement}")
    assert agreement["f1"] >= 0.99


def test_incremental_dbt_build_equals_a_full_rebuild(demo, wh, tmp_path):
    """The staging and row-wise marts models are incremental (decision 0062): after the first
    build, the identical re-run and the weekly increment, every staging and marts table
    equals a `dbt run --full-refresh` of the same warehouse."""
    from pipelines.ops.checksums import table_checksums

    tables = [f"{s}.{t}" for s, t in wh.sql(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('staging', 'marts') and table_type = 'BASE TABLE' "
        "and table_name <> 'customer_features_weekly' order by all").fetchall()]
    assert {"staging.stg_crm__contacts", "marts.orders", "marts.order_items"} <= set(tables)
    copy = warehouse_copy(demo, tmp_path)
    dbt_run(demo, copy, tmp_path, "--full-refresh", "--select", "staging", "intermediate",
            "marts", "--exclude", "customer_features_weekly")
    incremental = table_checksums(demo["dir"] / WAREHOUSE, tables)
    full = table_checksums(copy, tables)
    differ = [t for t in tables if incremental[t] != full[t]]
    assert differ == [], f"incremental build differs from a full rebuild: {differ}"
    # the week's orders came in a later batch than the first export: it was an increment
    assert scalar(wh, "select count(distinct _batch_id) from staging.stg_shop__orders") > 1


def test_staging_keeps_the_first_delivery_of_unchanged_content(demo, tmp_path):
    """Decision 0102. Batch 1 repeats the raw row of every staged contact (an export delivered
    again); batch 2 changes one contact's city, batch 3 brings that contact's old row back. An
    incremental build leaves every other contact's row as it was, lineage included, and takes
    batch 3's row for that contact (its content changed back); it equals a full rebuild."""
    import shutil

    from pipelines.ops.checksums import relation_checksum, table_checksums

    copy = warehouse_copy(demo, tmp_path)
    stg = "staging.stg_crm__contacts"
    staged = f"select r.* from raw.crm__contacts r join {stg} s using (_batch_id, _source_row)"

    def deliver(con, batch: str, where: str = "true", change: str = "") -> int:
        con.sql(f"insert into raw.crm__contacts select * replace ({change}'{batch}' as _batch_id, "
                f"now() as _ingested_at) from ({staged}) where {where}")
        return scalar(con, f"select count(*) from raw.crm__contacts where _batch_id = '{batch}'")

    before = table_checksums(copy, [stg])
    with duckdb.connect(str(copy)) as con:
        contacts = scalar(con, f"select count(*) from {stg}")
        assert deliver(con, "redelivered-1") == contacts > 100
    dbt_run(demo, copy, tmp_path, "--select", "stg_crm__contacts")
    assert table_checksums(copy, [stg]) == before
    with duckdb.connect(str(copy)) as con:
        one, city = con.sql(f"select crm_contact_id, city from {stg} where city is not null "
                            "order by crm_contact_id limit 1").fetchone()
        others = f"(select * from {stg} where crm_contact_id <> '{one}')"
        before_others = relation_checksum(con, others)
        deliver(con, "changed-2", f"crm_contact_id = '{one}'", "city || ' Nord' as city, ")
        deliver(con, "back-3", f"crm_contact_id = '{one}'")
    dbt_run(demo, copy, tmp_path, "--select", "stg_crm__contacts")
    with duckdb.connect(str(copy), read_only=True) as con:
        assert relation_checksum(con, others) == before_others
        assert con.sql(f"select _batch_id, city from {stg} where crm_contact_id = '{one}'"
                       ).fetchall() == [("back-3", city)]
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(copy, rebuilt)
    dbt_run(demo, rebuilt, tmp_path, "--full-refresh", "--select", "stg_crm__contacts")
    assert table_checksums(rebuilt, [stg]) == table_checksums(copy, [stg])


def test_incremental_marts_follow_records_that_change_customer(demo, tmp_path):
    """An identity merge or split moves a source record to another customer without any new
    raw row: the incremental row-wise marts pick up the new customer_id (decision 0062)."""
    copy = warehouse_copy(demo, tmp_path)
    events = ("select 'crm:' || t.crm_ticket_id as interaction_id, 'crm' as record_system, "
              "t.crm_contact_id as record_id from staging.stg_crm__tickets t "
              "union all select 'social:' || s.social_interaction_id, 'social', "
              "s.social_profile_id from staging.stg_social__interactions s")
    mismatches = {
        "orders": "select count(*) from marts.orders o left join identity.customer_map m "
                  "on m.source_system = 'shop' and m.source_record_id = o.shop_customer_id "
                  "where o.customer_id is distinct from m.customer_id",
        "order_items": "select count(*) from marts.order_items i join marts.orders o "
                       "using (order_id) where i.customer_id is distinct from o.customer_id",
        "interactions": f"select count(*) from marts.interactions i join ({events}) e "
                        "using (interaction_id) left join identity.customer_map m "
                        "on m.source_system = e.record_system and m.source_record_id = e.record_id "
                        "where i.customer_id is distinct from m.customer_id",
        "campaign_members": "select count(*) from marts.campaign_members c left join "
                            "identity.customer_map m on m.source_system = 'crm' and "
                            "m.source_record_id = c.crm_contact_id "
                            "where c.customer_id is distinct from m.customer_id",
    }
    with duckdb.connect(str(copy)) as con:
        moved = {  # a shop account with order lines, a campaign member, a social profile
            "shop": "select min(o.shop_customer_id) from marts.orders o "
                    "join marts.order_items using (order_id)",
            "crm": "select min(crm_contact_id) from marts.campaign_members",
            "social": "select min(social_profile_id) from staging.stg_social__interactions",
        }
        for system, sql in moved.items():
            con.sql("update identity.customer_map set customer_id = 'C-moved-' || source_system "
                    f"where source_system = ? and source_record_id = ({sql})", params=[system])
        for mart in ("orders", "interactions", "campaign_members"):  # before: stale
            assert con.sql(mismatches[mart]).fetchone()[0] > 0, mart
    dbt_run(demo, copy, tmp_path, "--select", "orders", "order_items", "interactions",
            "campaign_members")
    with duckdb.connect(str(copy), read_only=True) as con:
        assert {m: con.sql(sql).fetchone()[0] for m, sql in mismatches.items()} == dict.fromkeys(
            mismatches, 0)
        for mart, customer in (("orders", "shop"), ("order_items", "shop"),
                               ("campaign_members", "crm"), ("interactions", "social")):
            assert con.sql(f"select count(*) from marts.{mart} "
                           f"where customer_id = 'C-moved-{customer}'").fetchone()[0] > 0, mart


def test_incremental_customer_marts_follow_merges_and_splits(demo, tmp_path):
    """The per-customer marts rebuild whole customers (decision 0089). After a merge, a split
    and a record moved to another customer in the identity map (no new raw row), and an old
    order cancelled, an incremental run of the marts and of the newest weekly snapshot equals
    a full rebuild of the marts and of every week, and the merged-away id is gone."""
    import shutil

    from pipelines.ops.checksums import table_checksums

    marts = ["orders", "order_items", "interactions", "campaign_members", "customers",
             "customer_consent", "customer_360"]
    copy = warehouse_copy(demo, tmp_path)
    with duckdb.connect(str(copy)) as con:
        a, b, c, d = [r[0] for r in con.sql(
            "select customer_id from marts.customer_360 where source_record_count >= 2 "
            "and paid_orders > 0 order by customer_id limit 4").fetchall()]
        con.sql("update identity.customer_map set customer_id = ? where customer_id = ?",
                params=[a, b])  # merge: b's records now belong to a
        for customer, new_id in ((c, "C-split"), (d, a)):  # c splits, one record of d moves
            con.sql("update identity.customer_map set customer_id = ? where rowid = "
                    "(select min(rowid) from identity.customer_map where customer_id = ?)",
                    params=[new_id, customer])
        first, newest = con.sql("select min(snapshot_date), max(snapshot_date) "
                                "from marts.customer_features_weekly").fetchone()
        # and an old paid order cancelled (re-exported now): it leaves the snapshots' events
        con.sql("update staging.stg_shop__orders set order_status = 'cancelled', "
                "is_paid = false, _ingested_at = now() where shop_order_id = (select min("
                "order_id) from marts.orders where is_paid and ordered_at < ? "
                "and customer_id not in (?, ?, ?, ?))",
                params=[first + timedelta(days=60), a, b, c, d])
    full = tmp_path / "full.duckdb"
    shutil.copy(copy, full)
    # the newest weekly snapshot alone, as the weekly run; all weeks in the full rebuild
    snapshots = "customer_features_weekly"
    dbt_run(demo, copy, tmp_path, "--select", *marts, snapshots,
            "--vars", snapshot_vars(newest, newest))
    dbt_run(demo, full, tmp_path, "--full-refresh", "--select", *marts, snapshots,
            "--vars", snapshot_vars(first, newest))
    tables = [f"marts.{m}" for m in marts]
    incremental, rebuilt = table_checksums(copy, tables), table_checksums(full, tables)
    assert [t for t in tables if incremental[t] != rebuilt[t]] == []
    # the older snapshots follow the merge, the split, the moved record and the cancelled
    # order (decision 0101)
    assert snapshot_differences(copy, full)[1:] == (0, 0)
    with duckdb.connect(str(copy), read_only=True) as con:
        for mart in ("customers", "customer_consent", "customer_360", snapshots):
            ids = {r[0] for r in con.sql(f"select distinct customer_id from marts.{mart}")
                   .fetchall()}
            assert b not in ids and {a, c, d, "C-split"} <= ids, mart


def test_late_rows_that_change_no_event_rebuild_no_older_snapshot(demo, tmp_path):
    """Rows loaded after the snapshots were built, with the events they hold unchanged (a
    change to a column the features do not read; an export re-delivered into a table built
    before decision 0102): the repair of older weeks compares the customers' event
    fingerprints (`_events_hash`, decision 0101) and rebuilds none of them."""
    copy = warehouse_copy(demo, tmp_path)
    snapshots = "marts.customer_features_weekly"
    with duckdb.connect(str(copy)) as con:
        built, newest = con.sql(f"select max(_events_ingested_at), max(snapshot_date) "
                                f"from {snapshots}").fetchone()
        for mart in ("orders", "order_items", "interactions", "campaign_members"):
            con.sql(f"update marts.{mart} set _ingested_at = now()")
        late = scalar(con, "select count(distinct customer_id) from marts.orders "
                           "where customer_id is not null")
    assert late > 100
    dbt_run(demo, copy, tmp_path, "--select", "customer_features_weekly",
            "--vars", snapshot_vars(newest, newest))
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.sql(f"select count(*) from {snapshots} where snapshot_date < ? "
                       "and _events_ingested_at > ?", params=[newest, built]).fetchone()[0] == 0


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
    assert scores["recall"] > 0.7  # deterministic rules alone reach about 0.58
    assert scores["customers"] < scores["records"]  # duplicates were merged
    # different people who share a family phone or a mailbox are never one customer
    records = wh.sql("select source_system, source_record_id, phone_e164, email_key "
                     "from staging.int_customer_records_unioned").df()
    assert len(false_merges_sharing(predicted, truth, records)) == 0
    rules = dict(wh.sql("select match_rule, count(*) from identity.customer_map "
                        "group by 1").fetchall())
    assert rules.get("splink", 0) > 0, rules


def test_later_runs_reuse_dbt_parse_state_of_their_warehouse(demo):
    """dbt parses the whole project again when the profile (the warehouse path) or a var
    differs from its saved parse state; each warehouse keeps its own state, and the snapshot
    weeks are environment variables, so later runs parse nothing again (decision 0098)."""
    assert (demo["dir"] / "warehouse/dbt_partial_parse.msgpack").exists()
    for out in demo["later_outs"]:
        assert out.count("Running with dbt=") >= 4
        assert "Unable to do partial parsing" not in out


def test_splink_model_trained_once_and_reused(demo):
    from mlflow import MlflowClient

    assert (demo["dir"] / "models/identity/splink_model.json").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{demo['dir'] / 'mlflow/mlflow.db'}")
    experiment = client.get_experiment_by_name("customer360")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string="attributes.run_name = 'identity_matcher'")
    assert len(runs) == 1  # trained on the first of three runs, reused after
    assert runs[0].data.params["backend"] == "duckdb"
    artifacts = [a.path for a in client.list_artifacts(runs[0].info.run_id, "splink/charts")]
    assert artifacts, "Splink's charts were not logged"


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
    # the analytics serving file: pseudonymous customer_key, no personal columns
    contract = {
        "customer_360": {"customer_key", "lifetime_revenue_cny", "rfm_segment"},
        "customer_identities": {"customer_key", "source_system", "match_rule"},
        "customer_segments": {"customer_key", "snapshot_date", "rfm_segment", "cluster"},
        "customer_value": {"customer_key", "snapshot_date", "predicted_clv_12m", "value_tier"},
        "customer_churn": {"customer_key", "snapshot_date", "churn_probability"},
        "contactable_customers": {"customer_key", "channel", "consent_decided_at"},
        "contact_exclusions": {"customer_key", "channel", "exclusion_reason"},
    }
    for table, columns in contract.items():
        assert columns <= set(result["tables"][table]), table
        assert not {"customer_id", "email", "phone_e164", "full_name", "street",
                    "source_record_id"} & set(result["tables"][table]), table
        assert result["counts"][table] > 0, table
        assert (demo["dir"] / f"serving/parquet/{table}.parquet").exists()
    assert not list((demo["dir"] / "serving").glob(".*tmp"))


def test_weekly_features_use_only_events_before_the_snapshot(wh):
    # recount from orders for every customer and snapshot: no order after the snapshot counts,
    # and the 90- and 365-day windows are the 13 and 52 weeks (Monday to Sunday) ending with it
    mismatches = wh.sql(
        """
        select count(*) filter (where f.orders_total <> coalesce(c.n, 0)),
               count(*) filter (where f.orders_90d <> coalesce(c.n90, 0)),
               count(*) filter (where f.orders_365d <> coalesce(c.n365, 0))
        from marts.customer_features_weekly f
        left join (
            select f2.customer_id, f2.snapshot_date, count(o.order_id) as n,
                   count(o.order_id) filter (
                       where o.ordered_at >= f2.snapshot_date - interval 90 day) as n90,
                   count(o.order_id) filter (
                       where o.ordered_at >= f2.snapshot_date - interval 363 day) as n365
            from marts.customer_features_weekly f2
            join marts.orders o on o.customer_id = f2.customer_id and o.is_paid
                and o.ordered_at < f2.snapshot_date + interval 1 day
            group by all
        ) c using (customer_id, snapshot_date)
    """,
    ).fetchone()
    assert mismatches == (0, 0, 0)
    weeks = scalar(wh, "select count(distinct snapshot_date) from marts.customer_features_weekly")
    assert weeks == 61  # 60 weeks, then the increment's week


def test_weekly_snapshots_equal_a_rebuild_of_every_week(demo, wh, tmp_path):
    """After the increment's run, which built only its own week (as the weekly schedule does)
    from exports holding orders of the week before (late by UTC), every weekly snapshot equals
    a `--full-refresh` build of all 61 weeks at once on a copy of the warehouse: older weeks
    follow late events (decision 0101), and a week built alone equals the same week built
    within a range (decision 0068)."""
    first, newest = wh.sql("select min(snapshot_date), max(snapshot_date) "
                           "from marts.customer_features_weekly").fetchone()
    copy = warehouse_copy(demo, tmp_path)
    dbt_run(demo, copy, tmp_path, "--select", "customer_features_weekly", "--full-refresh",
            "--vars", snapshot_vars(first, newest))
    rows, differ, missing = snapshot_differences(demo["dir"] / WAREHOUSE, copy)
    assert rows > 30000
    assert (differ, missing) == (0, 0)
    # the increment's exports held late orders: rows of older weeks were rebuilt
    assert scalar(wh, f"select count(distinct _events_ingested_at) from "
                      f"marts.customer_features_weekly where snapshot_date < '{newest}'") > 1


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
            assert len(runs) == 3
            record = instance.get_latest_materialization_event(
                __import__("dagster").AssetKey(["bi", "customer_360"])
            )
            assert record is not None
            identity = instance.get_latest_materialization_event(
                __import__("dagster").AssetKey(["identity", "customer_map"])
            ).asset_materialization.metadata
            assert identity["mode"].value == "incremental"  # the increment's run
            assert identity["matched_records"].value < identity["source_records"].value
    finally:
        os.environ.pop("DAGSTER_HOME")


def test_cross_sell_and_retention_tables(wh):
    bought_offered = scalar(
        wh,
        "select count(*) from bi.cross_sell_offers o join marts.order_items i "
        "on i.customer_id = o.customer_id and i.sku = o.sku and i.is_paid "
        "and i.ordered_at < o.snapshot_date + interval 1 day",
    )
    assert bought_offered == 0
    assert scalar(wh, "select count(*) from bi.cross_sell_offers where basis = 'affinity'") > 0
    assert scalar(wh, "select count(distinct sku) from bi.product_prospects") > 0
    quadrants = wh.sql("select quadrant, customers from bi.retention_summary").fetchall()
    assert len(quadrants) == 4
    assert sum(n for _, n in quadrants) == scalar(wh, "select count(*) from bi.retention_actions")
    assert scalar(wh, "select count(*) from bi.retention_actions where play is null") == 0
    # weekly increments: last week's tiers are known, so some customers have a tier change
    assert scalar(wh, "select count(*) from bi.customer_value where tier_change <> 'new'") > 0


def test_churn_watch_list_drift_and_plots(demo, wh):
    from mlflow import MlflowClient

    # watch list: the high-risk rows of the retention matrix, largest value at risk first
    high = scalar(wh, "select count(*) from bi.retention_actions where risk_band = 'high'")
    assert scalar(wh, "select count(*) from bi.churn_watch_list") == high
    watch = wh.sql("select rank, value_at_risk_cny, reason_1 from bi.churn_watch_list "
                   "order by rank").df()
    assert watch["value_at_risk_cny"].is_monotonic_decreasing
    assert (watch["reason_1"] != "").mean() > 0.9  # SHAP reasons below 0.05 log-odds are left out
    # drift: one PSI row per churn feature plus the score, for the version that scored
    drift = wh.sql("select * from ml.model_drift").df()
    assert "churn_probability" in set(drift["name"])
    assert drift["psi"].notna().all() and (drift["psi"] >= 0).all()
    scored = scalar(wh, "select any_value(model_version) from ml.customer_churn")
    assert set(drift["model_version"]) == {scored}
    client = MlflowClient(tracking_uri=f"sqlite:///{demo['dir'] / 'mlflow/mlflow.db'}")
    version = client.get_model_version_by_alias("customer_churn", "champion")
    paths = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"churn_calibration.png", "churn_lift.png", "drift_reference.json"} <= paths
    run = client.get_run(version.run_id)
    assert "baseline_auc_clv_expected_purchases" in run.data.metrics


def test_campaign_results_cover_the_true_uplift(demo, wh):
    results = wh.sql(
        "select * from bi.campaign_results where segment_type = 'all' and control_members > 0"
    ).df()
    truth = pd.read_csv(demo["dir"] / "truth/campaign_uplift.csv", dtype={"campaign_id": str})
    both = results.merge(truth, on="campaign_id", validate="one_to_one")
    assert len(both) == len(truth) == 8
    covered = [
        (both[f"{m}_uplift_ci_low"] <= both[f"true_uplift_{m}"])
        & (both[f"true_uplift_{m}"] <= both[f"{m}_uplift_ci_high"])
        for m in ("response", "conversion")
    ]
    # 16 intervals on 1,500 people; the >= 90% check over many campaigns is the unit test
    assert pd.concat(covered).mean() >= 0.85
    zero = both[both["true_uplift_conversion"] == 0]
    assert len(zero) >= 1 and (zero["verdict"] == "not_significant").all()
    newsletters = wh.sql(
        "select verdict from bi.campaign_results where campaign_id like '701N%'"
    ).fetchall()
    assert newsletters and {v for (v,) in newsletters} == {"no_control_group"}
    assert scalar(wh, "select count(*) from bi.retention_campaigns") >= 4


def test_campaign_targets_respect_consent_and_caps_and_hold_out_a_control_group(wh):
    targets = wh.sql("select * from bi.campaign_targets").df()
    assert len(targets) > 0
    not_allowed = scalar(
        wh,
        "select count(*) from bi.campaign_targets t join bi.contact_eligibility e "
        "on e.customer_id = t.customer_id and e.channel = t.channel "
        "where e.exclusion_reason is not null or e.consent_status <> 'granted' "
        "or e.messages_in_window >= e.contact_cap_messages",
    )
    assert not_allowed == 0
    assert scalar(
        wh,
        "select count(*) from bi.campaign_targets t anti join bi.contactable_customers c "
        "on c.customer_id = t.customer_id and c.channel = t.channel",
    ) == 0
    control = targets[targets["member_group"] == "control"]
    assert 0.05 < len(control) / len(targets) < 0.4  # default control share 0.2
    assert control["holdout_reason"].str.contains("random control group").all()
    assert targets.loc[targets["member_group"] == "treatment", "holdout_reason"].isna().all()
