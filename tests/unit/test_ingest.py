import json

import duckdb
import pandas as pd
import pytest

from pipelines.ingest.contracts import ContractError, parse_contract
from pipelines.ingest.loader import FileDeferred, ingest_contract, snapshot

CSV_CONTRACT = {
    "source": "crm",
    "entity": "tickets",
    "files": "tickets/*.csv",
    "format": "csv",
    "encoding": "gb18030",
    "key": ["ticket_id"],
    "columns": {
        "ticket_id": {"from": "Case Number", "required": True},
        "subject": "Subject",
        "opened_at": {
            "from": "Opened",
            "type": "timestamp",
            "formats": ["%Y-%m-%d %H:%M:%S"],
            "timezone": "Asia/Shanghai",
        },
        "amount": {"from": "Amount", "type": "decimal"},
    },
}


@pytest.fixture
def con():
    c = duckdb.connect()
    c.sql("set TimeZone = 'UTC'; create schema raw")
    yield c
    c.close()


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_rows_are_typed_quarantined_and_reconciled(con, tmp_path):
    contract = parse_contract(CSV_CONTRACT)
    write(
        tmp_path / "tickets/t1.csv",
        "Case Number,Subject,Opened,Amount,Unmapped\n"
        "T1,退货 请求,2026-01-02 08:00:00,12.50,x\n"
        "T2,bad date,2026-02-30 08:00:00,1,x\n"
        ",no key,2026-01-02 08:00:00,1,x\n"
        "T4,amount,2026-01-02 08:00:00,abc,x\n"
        "T5,too,many,columns,here,x\n",
        encoding="gb18030",
    )
    [result] = ingest_contract(con, contract, tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 1, 4)
    row = con.sql(
        "select ticket_id, subject, opened_at, amount, _source_row from raw.crm__tickets"
    ).fetchone()
    assert row[0:2] == ("T1", "退货 请求")
    assert row[2].isoformat().startswith("2026-01-02T00:00:00")  # Shanghai 08:00 = 00:00 UTC
    assert float(row[3]) == 12.5 and row[4] == 1
    reasons = [
        r[0] for r in con.sql("select reason from raw.quarantine order by _source_row").fetchall()
    ]
    assert any("'Opened': cannot read '2026-02-30 08:00:00'" in r for r in reasons)
    assert any("required column 'Case Number' is empty" in r for r in reasons)
    assert any("'Amount': cannot read 'abc' as decimal" in r for r in reasons)
    assert any("unparseable CSV record" in r for r in reasons)
    assert "Unmapped" not in con.sql("select * from raw.crm__tickets").columns


def test_same_file_loads_once_and_a_changed_file_is_a_new_batch(con, tmp_path):
    contract = parse_contract(CSV_CONTRACT)
    f = write(
        tmp_path / "tickets/t.csv",
        "Case Number,Subject,Opened,Amount\nT1,a,,1\n",
        encoding="gb18030",
    )
    assert ingest_contract(con, contract, tmp_path)[0].status == "loaded"
    assert ingest_contract(con, contract, tmp_path)[0].status == "skipped"
    write(f, "Case Number,Subject,Opened,Amount\nT1,b,,1\nT2,c,,2\n", encoding="gb18030")
    assert ingest_contract(con, contract, tmp_path)[0].status == "loaded"
    assert con.sql(
        "select count(*), count(distinct _batch_id) from raw.crm__tickets"
    ).fetchone() == (3, 2)


def test_a_moved_landing_folder_is_not_loaded_again(con, tmp_path):
    contract = parse_contract(CSV_CONTRACT)
    text = "Case Number,Subject,Opened,Amount\nT1,a,,1\n"
    write(tmp_path / "old/tickets/t.csv", text, encoding="gb18030")
    assert ingest_contract(con, contract, tmp_path / "old")[0].status == "loaded"
    (tmp_path / "old").rename(tmp_path / "new")
    assert ingest_contract(con, contract, tmp_path / "new")[0].status == "skipped"
    write(tmp_path / "new/tickets/other.csv", text, encoding="gb18030")  # same rows, new file
    assert [r.status for r in ingest_contract(con, contract, tmp_path / "new")] == [
        "loaded", "skipped"]
    assert con.sql("select count(*) from raw.crm__tickets").fetchone()[0] == 2


def test_a_file_breaking_the_contract_fails_alone_and_names_file_and_column(con, tmp_path):
    contract = parse_contract(CSV_CONTRACT)
    write(tmp_path / "tickets/a.csv", "Subject,Opened\na,b\n", encoding="gb18030")
    write(tmp_path / "tickets/b.csv", "Case Number,Subject\nT1,x\n", encoding="gb18030")
    (tmp_path / "tickets/c.csv").write_bytes(b"Case Number,Subject\nT2,\xff\xfe\x00\n")
    a, b, c = ingest_contract(con, contract, tmp_path)
    assert a.status == "failed" and "a.csv" in a.error and "'Case Number'" in a.error
    assert b.status == "loaded" and b.rows_loaded == 1
    assert c.status == "failed" and "c.csv: line 2 (byte 23) is not valid gb18030" in c.error
    statuses = dict(
        con.sql("select parse_filename(path), status from raw.file_registry").fetchall()
    )
    assert statuses == {"a.csv": "failed", "b.csv": "loaded", "c.csv": "failed"}
    # a failed file is retried on the next run, a loaded one is not
    assert [r.status for r in ingest_contract(con, contract, tmp_path)] == [
        "failed",
        "skipped",
        "failed",
    ]


def test_jsonl_broken_line_is_quarantined_with_its_text(con, tmp_path):
    contract = parse_contract(
        {
            "source": "shop",
            "entity": "orders",
            "files": "o/*.jsonl",
            "format": "jsonl",
            "key": ["order_id"],
            "columns": {
                "order_id": {"from": "id", "required": True},
                "ordered_at": {"from": "created_at", "type": "timestamp"},
                "total": {"from": "total_price", "type": "decimal"},
            },
        }
    )
    lines = [
        json.dumps({"id": 1, "created_at": "2026-01-01T10:00:00+08:00", "total_price": "9.90"}),
        '{"id": 2, "created_at": ',
        json.dumps({"id": 3, "created_at": "2026-01-01T10:00:00Z", "total_price": "x"}),
    ]
    write(tmp_path / "o/o.jsonl", "\n".join(lines) + "\n\n")
    [result] = ingest_contract(con, contract, tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 1, 2)
    assert (
        con.sql("select order_id, ordered_at from raw.shop__orders")
        .fetchone()[1]
        .isoformat()
        .startswith("2026-01-01T02:00:00")
    )
    q = dict(con.sql("select _source_row, original_text from raw.quarantine").fetchall())
    assert q[2] == '{"id": 2, "created_at": '


def test_parquet_numbers_are_typed_by_a_cast_and_checked_like_text(con, tmp_path):
    contract = parse_contract(
        {
            "source": "shop",
            "entity": "lines",
            "files": "l/*.parquet",
            "format": "parquet",
            "key": ["order_id", "line"],
            "columns": {
                "order_id": {"from": "order_id", "required": True},
                "line": {"from": "line_number", "type": "integer", "required": True},
                "quantity": {"from": "quantity", "type": "integer", "min": 1},
                "price": {"from": "unit_price", "type": "decimal"},
                "sku": {"from": "sku", "required": True},
            },
        }
    )
    (tmp_path / "l").mkdir()
    pd.DataFrame({
        "order_id": [1, 2, 3, 4],
        "line_number": [1, None, 1, 1],
        "quantity": [2, 1, 0, 1],
        "unit_price": [1.5, 2.0, 1.0, 1e30],
        "sku": [" A-1 ", "B", "C", "NULL"],
    }).to_parquet(tmp_path / "l/l.parquet")
    [result] = ingest_contract(con, contract, tmp_path)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 3)
    assert con.sql("select order_id, line, quantity, price, sku from raw.shop__lines"
                   ).fetchone() == ("1", 1, 2, pytest.approx(1.5), "A-1")
    reasons = dict(con.sql("select _source_row, reason from raw.quarantine").fetchall())
    assert reasons[2] == "required column 'line_number' is empty"
    assert reasons[3] == "column 'quantity': '0' is below 1"
    assert reasons[4] == ("column 'unit_price': cannot read '1e+30' as decimal; "
                          "required column 'sku' is empty")
    original = con.sql("select original_text from raw.quarantine where _source_row = 3")
    assert '"quantity":0' in original.fetchone()[0]  # the number as the file holds it


def test_contract_requires_a_reason_for_personal_data():
    bad = {**CSV_CONTRACT, "columns": {"ticket_id": {"from": "Case Number", "pii": True}}}
    with pytest.raises(ContractError, match="say why"):
        parse_contract(bad)


def test_utf8_is_read_in_place_and_a_change_during_the_read_defers_it(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    with pytest.raises(FileDeferred, match="changed while it was being read"):
        with snapshot(path, "utf-8") as (readable, _):
            assert readable == path
            path.write_bytes(b"id\n1\n2\n")  # a writer appends while DuckDB reads it


def test_a_byte_order_mark_or_another_encoding_is_read_from_a_utf8_copy(tmp_path):
    bom, gbk = tmp_path / "bom.csv", tmp_path / "gbk.csv"
    bom.write_bytes(b"\xef\xbb\xbfid\n1\n")
    gbk.write_bytes("名字\n张伟\n".encode("gb18030"))
    with snapshot(bom, "utf-8") as (a, _), snapshot(gbk, "gb18030") as (b, _):
        assert (a.read_bytes(), b.read_text(encoding="utf-8")) == (b"id\n1\n", "名字\n张伟\n")
