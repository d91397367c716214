import duckdb
import pytest

from pipelines import publish as pub


def make_warehouse(path, rows):
    with duckdb.connect(str(path)) as con:
        con.sql("create schema if not exists bi")
        con.sql("create schema if not exists marts")
        con.sql(
            f"create or replace table bi.customer_360 as "
            f"select 'C' || range as customer_id from range({rows})"
        )
        con.sql(
            f"create or replace table marts.customer_keys as select 'C' || range as customer_id, "
            f"cast(gen_random_uuid() as varchar) as customer_key from range({rows})"
        )


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A warehouse file that `publish` connects to instead of the configured one."""
    path = tmp_path / "wh.duckdb"
    monkeypatch.setattr(
        pub, "connect", lambda read_only=False: duckdb.connect(str(path), read_only=read_only)
    )
    return path


def test_publish_swaps_files_while_a_reader_holds_the_old_one(tmp_path, warehouse):
    make_warehouse(warehouse, 3)
    serving = tmp_path / "serving"
    assert pub.publish(serving) == {"customer_360": 3}
    reader = duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True)
    make_warehouse(warehouse, 5)
    assert pub.publish(serving) == {"customer_360": 5}
    # the open reader still sees the complete old table; a new reader sees the new one
    assert reader.sql("select count(*) from bi.customer_360").fetchone()[0] == 3
    reader.close()
    with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as fresh:
        assert fresh.sql("select count(*) from bi.customer_360").fetchone()[0] == 5
    assert (
        duckdb.sql(f"select count(*) from '{serving / 'parquet/customer_360.parquet'}'").fetchone()[
            0
        ]
        == 5
    )
    assert not [p for p in serving.rglob("*") if p.name.endswith(".tmp")]


def test_failed_publish_leaves_the_last_good_files(tmp_path, monkeypatch, warehouse):
    make_warehouse(warehouse, 2)
    serving = tmp_path / "serving"
    pub.publish(serving)
    monkeypatch.setattr(pub, "bi_tables", lambda con: ["customer_360", "missing_table"])
    try:
        pub.publish(serving)
    except duckdb.CatalogException:
        pass
    with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as con:
        assert con.sql("select count(*) from bi.customer_360").fetchone()[0] == 2
    assert not [p for p in serving.rglob("*") if p.name.endswith(".tmp")]


def test_analytics_output_is_pseudonymous_and_restricted_output_is_full(tmp_path, warehouse):
    make_warehouse(warehouse, 4)
    with duckdb.connect(str(warehouse)) as con:
        con.sql("create or replace table bi.customer_360 as select customer_id, "
                "'a' || customer_id || '@example.com' as email, 'Ann' as first_name, "
                "'Shanghai' as city, 12.5 as lifetime_revenue_cny from marts.customer_keys")
        con.sql("create or replace table bi.customer_id_aliases as "
                "select customer_id as customer_id_seen, customer_id from marts.customer_keys")
    serving, restricted = tmp_path / "serving", tmp_path / "restricted"
    pub.publish(serving, restricted, pii={"email", "first_name"})
    with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as con:
        cols = [r[0] for r in con.sql("describe bi.customer_360").fetchall()]
        assert cols == ["customer_key", "city", "lifetime_revenue_cny"]
        alias_cols = [r[0] for r in con.sql("describe bi.customer_id_aliases").fetchall()]
        assert alias_cols == ["customer_key_seen", "customer_key"]
        keys = {r[0] for r in con.sql("select customer_key from bi.customer_360").fetchall()}
        assert len(keys) == 4 and not any(k.startswith("C") for k in keys)
    parquet = serving / "parquet/customer_360.parquet"
    assert "email" not in duckdb.sql(f"select * from '{parquet}'").columns
    assert b"@example.com" not in parquet.read_bytes()
    with duckdb.connect(str(restricted / pub.RESTRICTED_FILE), read_only=True) as con:
        assert con.sql("select count(*) from bi.customer_360 where email like '%@example.com'"
                       ).fetchone()[0] == 4
        assert con.sql("select count(*) from bi.customer_keys").fetchone()[0] == 4


def test_pii_columns_come_from_the_dbt_tags(tmp_path):
    import json

    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {"model.x.m": {"columns": {
        "nickname": {"name": "nickname", "meta": {"pii": True}},
        "iban": {"name": "iban", "config": {"meta": {"pii": True}}},
        "city": {"name": "city", "meta": {}},
    }}}}))
    names = pub.pii_columns(manifest)
    assert {"nickname", "iban", "email"} <= names
    assert "city" not in names


def test_publish_removes_temporary_files_of_a_killed_publish(tmp_path, warehouse):
    make_warehouse(warehouse, 2)
    serving = tmp_path / "serving"
    (serving / "parquet").mkdir(parents=True)
    left = [
        serving / f".{pub.SERVING_FILE}.dead.tmp",
        serving / f".{pub.SERVING_FILE}.dead.tmp.wal",
        serving / "parquet/.customer_360.dead.tmp",
    ]
    for p in left:
        p.write_bytes(b"half")
    assert pub.publish(serving) == {"customer_360": 2}
    assert not [p for p in serving.rglob("*") if ".tmp" in p.name]


def test_published_set_is_versioned_behind_fixed_bi_paths(tmp_path, warehouse):
    make_warehouse(warehouse, 2)
    serving = tmp_path / "serving"
    for rows in (2, 3, 4):
        make_warehouse(warehouse, rows)
        pub.publish(serving)
    # BI paths never change: links through `current`, which points at the newest version
    assert (serving / pub.SERVING_FILE).is_symlink() and (serving / "parquet").is_symlink()
    versions = sorted(p.name for p in (serving / pub.VERSIONS).iterdir())
    assert len(versions) == 2 and pub.current_version(serving) == versions[-1]  # + previous
    assert duckdb.sql(
        f"select count(*) from '{serving / 'parquet/customer_360.parquet'}'").fetchone()[0] == 4
    # an erasure republishes without keeping any earlier version
    pub.publish(serving, keep_previous=False)
    assert [p.name for p in (serving / pub.VERSIONS).iterdir()] == [pub.current_version(serving)]


def test_a_publish_killed_before_the_switch_changes_nothing_visible(tmp_path, monkeypatch,
                                                                     warehouse):
    make_warehouse(warehouse, 2)
    serving = tmp_path / "serving"
    pub.publish(serving)
    good = pub.current_version(serving)
    make_warehouse(warehouse, 7)
    real_symlink = pub._symlink

    def killed_at_switch(target, link):  # everything written, the switch never happens
        if link.name == pub.CURRENT:
            raise SystemExit("killed")
        real_symlink(target, link)

    monkeypatch.setattr(pub, "_symlink", killed_at_switch)
    with pytest.raises(SystemExit):
        pub.publish(serving)
    assert pub.current_version(serving) == good
    with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as con:
        assert con.sql("select count(*) from bi.customer_360").fetchone()[0] == 2
    # a SIGKILL runs no cleanup: a half-written newer version is left; the next publish
    # removes it
    (serving / pub.VERSIONS / "99999999T999999-dead").mkdir()
    monkeypatch.setattr(pub, "_symlink", real_symlink)
    pub.publish(serving)
    assert "99999999T999999-dead" not in {p.name for p in (serving / pub.VERSIONS).iterdir()}


def test_the_first_versioned_publish_replaces_the_old_plain_files(tmp_path, warehouse):
    make_warehouse(warehouse, 2)
    serving = tmp_path / "serving"
    (serving / "parquet").mkdir(parents=True)
    (serving / "parquet/customer_360.parquet").write_bytes(b"old")
    (serving / pub.SERVING_FILE).write_bytes(b"old")
    pub.publish(serving)
    with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as con:
        assert con.sql("select count(*) from bi.customer_360").fetchone()[0] == 2
    assert sorted(p.name for p in serving.iterdir()) == sorted(
        [pub.SERVING_FILE, pub.CURRENT, "parquet", pub.VERSIONS])


KILL_LOOP = """
import sys, duckdb
from pipelines import publish as pub
wh, serving = sys.argv[1], sys.argv[2]
pub.connect = lambda read_only=False: duckdb.connect(wh, read_only=read_only)
i = 0
while True:
    i += 1
    with duckdb.connect(wh) as con:  # each version: a different row count in every table
        for t in ("customer_360", "customer_value"):
            con.sql(f"create or replace table bi.{t} as select 'C' || range as customer_id "
                    f"from range({i})")
        con.sql("create or replace table marts.customer_keys as select 'C' || range as "
                f"customer_id, 'k' || range as customer_key from range({i})")
    pub.publish(__import__('pathlib').Path(serving), pii=set())
    print(i, flush=True)
"""


def test_sigkill_at_random_moments_leaves_one_whole_version(tmp_path, warehouse):
    """A real SIGKILL of a process publishing in a loop, at random moments: afterwards the
    serving file and every Parquet file are from the same version (same row counts)."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    make_warehouse(warehouse, 1)
    serving = tmp_path / "serving"
    rng = random.Random(5)
    env = {**os.environ, "PYTHONPATH": str(pub.DBT_PROJECT_DIR.parent)}
    checked = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", KILL_LOOP, str(warehouse), str(serving)],
                                stdout=subprocess.PIPE, env=env, start_new_session=True)
        assert proc.stdout.readline()  # at least one publish finished
        time.sleep(rng.uniform(0.0, 0.6))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with duckdb.connect(str(serving / pub.SERVING_FILE), read_only=True) as con:
            counts = {t: con.sql(f"select count(*) from bi.{t}").fetchone()[0]
                      for t in ("customer_360", "customer_value")}
        counts |= {f"parquet:{p.stem}": duckdb.sql(f"select count(*) from '{p}'").fetchone()[0]
                   for p in (serving / "parquet").glob("*.parquet")}
        assert len(counts) == 4 and len(set(counts.values())) == 1, counts
        checked += 1
    assert checked == 3


def test_a_new_version_sorts_after_every_existing_one(tmp_path):
    """Pruning keeps the newest versions by name: a publish in the same clock tick as the last
    one, or after the clock was set back, still gets a later name."""
    versions = tmp_path / pub.VERSIONS
    (versions / "29991231T235959999999-ffffffff").mkdir(parents=True)
    (versions / "20261130T171928-50f44cb2").mkdir()
    stamp = pub._next_stamp(tmp_path)
    assert stamp > "29991231T235959999999-ffffffff"
    (versions / f"{stamp}-00000000").mkdir()
    assert pub._next_stamp(tmp_path) > f"{stamp}-00000000"
