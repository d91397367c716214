import duckdb

from pipelines import publish as pub


def make_warehouse(path, rows):
    with duckdb.connect(str(path)) as con:
        con.sql("create schema if not exists bi")
        con.sql(
            f"create or replace table bi.customer_360 as "
            f"select range as customer_id from range({rows})"
        )


def test_publish_swaps_files_while_a_reader_holds_the_old_one(tmp_path, monkeypatch):
    warehouse = tmp_path / "wh.duckdb"
    monkeypatch.setattr(
        pub, "connect", lambda read_only=False: duckdb.connect(str(warehouse), read_only=read_only)
    )
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


def test_failed_publish_leaves_the_last_good_files(tmp_path, monkeypatch):
    warehouse = tmp_path / "wh.duckdb"
    monkeypatch.setattr(
        pub, "connect", lambda read_only=False: duckdb.connect(str(warehouse), read_only=read_only)
    )
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


def test_publish_removes_temporary_files_of_a_killed_publish(tmp_path, monkeypatch):
    warehouse = tmp_path / "wh.duckdb"
    monkeypatch.setattr(
        pub, "connect", lambda read_only=False: duckdb.connect(str(warehouse), read_only=read_only)
    )
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
