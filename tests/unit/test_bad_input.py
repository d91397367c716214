"""The bad-input corpus: one test per kind of malformed export (docs/bad_input.md).

Every case is generated here, next to a well-formed export of another source. Each kind
either fails its file with an error naming the file, the line and the column, or loads with
the bad rows quarantined with reasons; in every case every record is accounted for (rows read
= loaded + quarantined, each record number exactly once) and the other source still loads.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field

import duckdb
import pytest

from pipelines.ingest.contracts import parse_contract
from pipelines.ingest.loader import ingest_contract

TICKETS = {
    "source": "crm",
    "entity": "tickets",
    "files": "crm/tickets/*.csv",
    "format": "csv",
    "key": ["ticket_id"],
    "columns": {
        "ticket_id": {"from": "Case Number", "required": True},
        "subject": "Subject",
        "opened_at": {"from": "Opened", "type": "timestamp", "formats": ["%Y-%m-%d %H:%M:%S"],
                      "timezone": "Asia/Shanghai"},
        "amount": {"from": "Amount", "type": "decimal", "min": 0},
        "currency": {"from": "Currency", "required": True, "pattern": "[A-Z]{3}"},
    },
}
ORDERS = {
    "source": "shop",
    "entity": "orders",
    "files": "shop/orders/*.jsonl",
    "format": "jsonl",
    "key": ["order_id"],
    "columns": {
        "order_id": {"from": "id", "required": True},
        "ordered_at": {"from": "created_at", "type": "timestamp", "required": True},
        "total": {"from": "total_price", "type": "decimal", "required": True, "min": 0},
        "currency": {"from": "currency", "required": True, "pattern": "[A-Z]{3}"},
    },
}
# the other source, which must load whatever happens to the broken one
PROFILES = {
    "source": "social",
    "entity": "profiles",
    "files": "social/profiles/*.csv",
    "format": "csv",
    "delimiter": ";",
    "key": ["profile_id"],
    "columns": {"profile_id": {"from": "id", "required": True}, "handle": "handle"},
}
HEADER = "Case Number,Subject,Opened,Amount,Currency\n"
GOOD = "T1,退货 请求,2026-01-02 08:00:00,12.50,CNY\n"


def order(**over) -> str:
    base = {"id": "O1", "created_at": "2026-01-01T10:00:00+08:00", "total_price": "9.90",
            "currency": "CNY"}
    return json.dumps({**base, **over}, ensure_ascii=False)


@dataclass
class Case:
    kind: str
    files: dict[str, bytes]
    contract: dict = field(default_factory=lambda: TICKETS)
    # failed: substrings of the error; loaded: (read, loaded, quarantined) and reasons
    error: tuple[str, ...] = ()
    counts: tuple[int, int, int] | None = None
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def csv_file(text: str, encoding: str = "utf-8") -> dict[str, bytes]:
    return {"crm/tickets/t.csv": text.encode(encoding)}


def jsonl_file(*lines: str) -> dict[str, bytes]:
    return {"shop/orders/o.jsonl": ("\n".join(lines) + "\n").encode()}


CASES = [
    Case("empty file", csv_file(""), error=("t.csv", "empty file (0 bytes)")),
    Case("header only", csv_file(HEADER), counts=(0, 0, 0)),
    Case("missing required column", csv_file("Subject,Opened,Amount,Currency\nx,,1,CNY\n"),
         error=("t.csv", "line 1", "required column 'Case Number' (-> ticket_id) is missing")),
    Case("renamed required column",
         csv_file(HEADER.replace("Case Number", "Case No.") + GOOD),
         error=("t.csv", "line 1", "'Case Number'", "renamed to 'Case No.'?")),
    Case("renamed optional column", csv_file(HEADER.replace("Subject", "Subjects") + GOOD),
         counts=(1, 1, 0),
         warnings=("optional column 'Subject' (-> subject) is missing (renamed to 'Subjects'?)",)),
    Case("extra columns", csv_file(HEADER.rstrip() + ",Notes\n" + GOOD.rstrip() + ",hi\n"),
         counts=(1, 1, 0)),
    Case("extra field in one row",
         csv_file(HEADER + GOOD + "T2,x,2026-01-02 08:00:00,1,CNY,surplus\n" + GOOD.replace(
             "T1", "T3")),
         counts=(3, 2, 1), reasons=("unparseable CSV record at line 3",)),
    Case("wrong delimiter", csv_file((HEADER + GOOD).replace(",", ";")),
         error=("t.csv", "line 1", "seems delimited by ';'")),
    Case("unbalanced quotes", csv_file(HEADER + 'T1,"broken,2026-01-02 08:00:00,1,CNY\n' + GOOD
                                       + GOOD.replace("T1", "T3")),
         error=("t.csv", "line 2", "column 'Subject'", "quote is never closed")),
    Case("unbalanced quote on the last line",
         csv_file(HEADER + GOOD + 'T2,"cut off,2026-01-02 08:00:00,1,CNY\n'),
         counts=(2, 1, 1), reasons=("unparseable CSV record at line 3",)),
    Case("embedded newlines",
         csv_file(HEADER + 'T1,"line one\nline two",2026-01-02 08:00:00,1,CNY\n'
                  + "T2,,,x,CNY\n"),
         counts=(2, 1, 1), reasons=("column 'Amount': cannot read 'x' as decimal",)),
    Case("UTF-8 BOM", {"crm/tickets/t.csv": b"\xef\xbb\xbf" + (HEADER + GOOD).encode()},
         counts=(1, 1, 0)),
    Case("GB18030 without declaration", csv_file(HEADER + GOOD, "gb18030"),
         error=("t.csv", "line 2", "is not valid utf-8", "encoding: gb18030")),
    Case("mixed encodings in one file",
         {"crm/tickets/t.csv": (HEADER + GOOD).encode()
          + GOOD.replace("T1", "T2").encode("gb18030")},
         error=("t.csv", "line 3", "mixes encodings")),
    Case("UTF-16 export", csv_file(HEADER + GOOD, "utf-16"),
         error=("t.csv", "line 1", "is not valid utf-8", "UTF-16 byte order mark")),
    Case("spreadsheet saved as .csv", {"crm/tickets/t.csv": b"PK\x03\x04\x14\x00\x06\x00"},
         error=("t.csv", "line 1", "NUL bytes")),
    Case("truncated inside a character", {"crm/tickets/t.csv": (HEADER + "T1,退").encode()[:-1]},
         error=("t.csv", "line 2", "truncated")),
    Case("invalid dates",
         csv_file(HEADER + "T1,a,yesterday,1,CNY\nT2,b,2026-13-45 08:00:00,1,CNY\n"),
         counts=(2, 0, 2),
         reasons=("column 'Opened': cannot read 'yesterday' as timestamp",
                  "column 'Opened': cannot read '2026-13-45 08:00:00' as timestamp")),
    Case("impossible dates",
         csv_file(HEADER + "T1,a,2026-02-30 08:00:00,1,CNY\nT2,b,0001-01-01 00:00:00,1,CNY\n"),
         counts=(2, 0, 2),
         reasons=("cannot read '2026-02-30 08:00:00' as timestamp",
                  "'0001-01-01 00:00:00' is before 1900-01-01")),
    Case("dates in the future", csv_file(HEADER + GOOD + "T2,a,2099-01-01 08:00:00,1,CNY\n"),
         counts=(2, 1, 1), reasons=("column 'Opened': '2099-01-01 08:00:00' is in the future",)),
    Case("negative amount", csv_file(HEADER + GOOD + "T2,a,2026-01-02 08:00:00,-5.00,CNY\n"),
         counts=(2, 1, 1), reasons=("column 'Amount': '-5.00' is below 0",)),
    Case("non-numeric amounts",
         csv_file(HEADER + 'T1,a,,"12,50",CNY\nT2,a,,¥12,CNY\nT3,a,,abc,CNY\n'),
         counts=(3, 0, 3), reasons=("cannot read '12,50' as decimal",
                                    "cannot read '¥12' as decimal", "cannot read 'abc'")),
    Case("missing or invalid currency", csv_file(HEADER + "T1,a,,1,\nT2,a,,1,rmb!\n" + GOOD.replace(
        "T1", "T3")), counts=(3, 1, 2),
         reasons=("required column 'Currency' is empty",
                  "column 'Currency': 'rmb!' does not match [A-Z]{3}")),
    Case("exact duplicate rows", csv_file(HEADER + GOOD + GOOD), counts=(2, 1, 1),
         reasons=("exact duplicate of row 1",)),
    Case("duplicate keys with different content",
         csv_file(HEADER + GOOD + GOOD.replace("12.50", "13.00")), counts=(2, 1, 1),
         reasons=("key (ticket_id=T1) appears again in row 2 with different content",)),
    Case("a changed record between a record and its exact copy",
         csv_file(HEADER + GOOD + GOOD.replace("12.50", "13.00") + GOOD), counts=(3, 1, 2),
         reasons=("exact duplicate of row 1",
                  "key (ticket_id=T1) appears again in row 2 with different content")),
    Case("truncated last line", csv_file(HEADER + GOOD + "T2,a,2026-01"),
         counts=(2, 1, 1), reasons=("unparseable CSV record at line 3",)),
    Case("null keys", csv_file(HEADER + ",a,,1,CNY\nNULL,a,,1,CNY\nN/A,a,,1,CNY\n" + GOOD),
         counts=(4, 1, 3), reasons=("required column 'Case Number' is empty",)),
    Case("huge field", csv_file(HEADER + "T1," + "x" * 3_000_000 + ",,1,CNY\n" + GOOD.replace(
        "T1", "T2")), counts=(2, 1, 1),
         reasons=("column 'Subject': a value of 3000000 characters is longer than 10000",)),
    Case("spreadsheet formula text",
         csv_file(HEADER + 'T1,"=HYPERLINK(""http://evil.example"",""x"")",,1,CNY\n'),
         counts=(1, 1, 0)),
    Case("repeated header row (concatenated exports)", csv_file(HEADER + GOOD + HEADER),
         counts=(2, 1, 1), reasons=("repeated header row",)),
    Case("header repeats a column name", csv_file(HEADER.rstrip() + ",Subject\n"),
         error=("t.csv", "line 1", "repeats column names ['Subject']")),
    Case("JSON lines with one broken line",
         jsonl_file(order(), '{"id": "O2", "created_at": ', order(id="O3"),
                    '{"id": {"a": [1, ', '[{"id": "O5"}, '), contract=ORDERS,
         counts=(5, 2, 3), reasons=("line is not valid JSON",)),
    Case("wrong JSON types", jsonl_file(
        order(id={"nested": 1}), order(id="O2", total_price=[1, 2]),
        order(id="O3", total_price=True), order(id="O4", created_at=1767225600),
        order(id="O5")), contract=ORDERS, counts=(5, 1, 4),
         reasons=("column 'id': expected a single value, got a JSON object",
                  "column 'total_price': expected a single value, got a JSON array",
                  "column 'total_price': cannot read 'true' as decimal",
                  "column 'created_at': cannot read '1767225600' as timestamp")),
    Case("text that looks like JSON, and an object after a tab",
         jsonl_file(order(id="{O1}"), "\t" + order(id="[O2"), order(id="O3", total_price=[])),
         contract=ORDERS, counts=(3, 2, 1),
         reasons=("column 'total_price': expected a single value, got a JSON array",)),
    Case("JSON line that is not an object", jsonl_file(order(), "[1, 2]", '"text"'),
         contract=ORDERS, counts=(3, 1, 2), reasons=("line is JSON but not an object",)),
    Case("JSON null key and missing currency",
         jsonl_file(order(id=None), order(id="O2", currency=None), order(id="O3")),
         contract=ORDERS, counts=(3, 1, 2),
         reasons=("required column 'id' is empty", "required column 'currency' is empty")),
]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.sql("set TimeZone = 'UTC'; create schema raw")
    yield c
    c.close()


def write_files(root, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def accounted(con, contract, result) -> None:
    """rows read = loaded + quarantined, and every record number appears exactly once."""
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    rows = con.sql(
        f"select _source_row from {contract.table} where _batch_id = ? union all "
        "select _source_row from raw.quarantine where _batch_id = ?",
        params=[result.batch_id, result.batch_id],
    ).fetchall()
    assert sorted(r[0] for r in rows) == list(range(1, result.rows_read + 1))
    assert con.sql(
        "select rows_read, rows_loaded, rows_quarantined from raw.file_registry "
        "where batch_id = ?", params=[result.batch_id]
    ).fetchone() == (result.rows_read, result.rows_loaded, result.rows_quarantined)


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input(case: Case, con, tmp_path):
    assert len(CASES) >= 30
    contract = parse_contract(case.contract)
    other = parse_contract(PROFILES)
    write_files(tmp_path, case.files)
    write_files(tmp_path, {"social/profiles/p.csv": b"id;handle\nS1;@a\nS2;@b\n"})

    [result] = ingest_contract(con, contract, tmp_path)
    [control] = ingest_contract(con, other, tmp_path)
    assert (control.status, control.rows_loaded) == ("loaded", 2)  # the other source loads

    if case.error:
        assert result.status == "failed", result
        for part in case.error:
            assert part in result.error
        assert con.sql(f"select count(*) from {contract.table}").fetchone()[0] == 0
        assert con.sql(
            "select status, error from raw.file_registry where contract = ?",
            params=[contract.name],
        ).fetchall() == [("failed", result.error)]
        return
    assert result.status == "loaded", result.error
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == case.counts
    accounted(con, contract, result)
    reasons = [r[0] for r in con.sql("select reason from raw.quarantine").fetchall()]
    for part in case.reasons:
        assert any(part in r for r in reasons), (part, reasons)
    assert all(reasons)
    for part in case.warnings:
        assert any(part in w for w in result.warnings), result.warnings


def test_embedded_newlines_and_bom_keep_the_values(con, tmp_path):
    write_files(tmp_path, {"crm/tickets/t.csv": b"\xef\xbb\xbf" + (
        HEADER + 'T1,"line one\nline two",2026-01-02 08:00:00,1,CNY\n').encode()})
    ingest_contract(con, parse_contract(TICKETS), tmp_path)
    assert con.sql("select ticket_id, subject from raw.crm__tickets").fetchall() == [
        ("T1", "line one\nline two")
    ]


def test_formula_text_is_kept_verbatim_in_the_warehouse(con, tmp_path):
    formula = '=HYPERLINK("http://evil.example","x")'
    write_files(tmp_path, csv_file(HEADER + f'T1,"{formula.replace(chr(34), 2 * chr(34))}",,1,'
                                   "CNY\n"))
    ingest_contract(con, parse_contract(TICKETS), tmp_path)
    assert con.sql("select subject from raw.crm__tickets").fetchone()[0] == formula


def test_huge_field_is_quarantined_with_its_text_cut(con, tmp_path):
    write_files(tmp_path, csv_file(HEADER + "T1," + "x" * 3_000_000 + ",,1,CNY\n"))
    ingest_contract(con, parse_contract(TICKETS), tmp_path)
    text = con.sql("select original_text from raw.quarantine").fetchone()[0]
    assert len(text) < 100_100 and text.endswith("characters)")


def test_a_file_changed_after_it_was_loaded_is_a_new_batch(con, tmp_path):
    contract = parse_contract(TICKETS)
    write_files(tmp_path, csv_file(HEADER + GOOD))
    [first] = ingest_contract(con, contract, tmp_path)
    write_files(tmp_path, csv_file(HEADER + GOOD.replace("12.50", "99.00") + GOOD.replace(
        "T1", "T2")))
    [second] = ingest_contract(con, contract, tmp_path)
    assert (first.status, second.status) == ("loaded", "loaded")
    assert second.batch_id != first.batch_id
    assert f"changed since it was loaded as batch {first.batch_id}" in second.warnings[0]
    assert con.sql(
        "select count(*) filter (where _batch_id = ?), count(*) filter (where _batch_id = ?) "
        "from raw.crm__tickets", params=[first.batch_id, second.batch_id]
    ).fetchone() == (1, 2)
    # staging's rule (newest batch per key) then sees the new amount
    assert con.sql(
        "select amount from raw.crm__tickets where ticket_id = 'T1' "
        "qualify row_number() over (order by _ingested_at desc, _source_row desc) = 1"
    ).fetchone()[0] == 99
    assert con.sql("select warnings from raw.file_registry where batch_id = ?",
                   params=[second.batch_id]).fetchone()[0] == second.warnings[0]


def test_files_being_written_are_not_read(con, tmp_path):
    """Temporary names are ignored and fresh files wait for `settle_seconds`; the run that
    finds them loads only complete files and the next run picks them up."""
    contract = parse_contract(ORDERS)
    write_files(tmp_path, {
        "shop/orders/a.jsonl": (order() + "\n").encode(),
        "shop/orders/b.jsonl.part": (order(id="O2") + "\n").encode(),
        "shop/orders/.c.jsonl": (order(id="O3") + "\n").encode(),
    })
    assert [r.status for r in ingest_contract(con, contract, tmp_path, settle_seconds=60)] == [
        "deferred"
    ]
    results = ingest_contract(con, contract, tmp_path)
    assert [(r.path.name, r.status) for r in results] == [("a.jsonl", "loaded")]


def test_a_file_dropped_while_the_folder_is_read(con, tmp_path):
    """A writer appends to a landing file while ingestion runs: the file is deferred or
    loaded whole (never half of it), and the run after the writer finished loads all rows."""
    contract = parse_contract(ORDERS)
    write_files(tmp_path, {"shop/orders/a.jsonl": (order(id="A1") + "\n").encode()})
    old = time.time() - 60
    os.utime(tmp_path / "shop/orders/a.jsonl", (old, old))
    target = tmp_path / "shop/orders/b.jsonl"
    n_lines = 3000
    started = threading.Event()

    def writer():
        with target.open("w") as f:
            for i in range(n_lines):
                f.write(order(id=f"B{i}") + "\n")
                f.flush()
                if i == 10:
                    started.set()
                time.sleep(0.0005)

    t = threading.Thread(target=writer)
    t.start()
    started.wait(5)
    during = []
    while t.is_alive():
        during += ingest_contract(con, contract, tmp_path, settle_seconds=1)
        time.sleep(0.05)
    t.join()
    assert [r.status for r in during if r.path == target]  # the run saw the file being written
    assert all(r.status == "deferred" for r in during if r.path == target)
    assert [r.status for r in during if r.path != target][0] == "loaded"  # a.jsonl did load
    time.sleep(1.1)
    [a, b] = ingest_contract(con, contract, tmp_path, settle_seconds=1)
    assert (a.status, b.status, b.rows_loaded) == ("skipped", "loaded", n_lines)
    assert con.sql("select count(*), count(distinct _batch_id) from raw.shop__orders "
                   "where order_id like 'B%'").fetchone() == (n_lines, 1)


def test_formula_text_is_neutralised_in_csv_exports_and_kept_in_parquet(tmp_path):
    import csv

    import pandas as pd

    from pipelines.export_csv import export_csv

    serving = tmp_path / "customer360.duckdb"
    values = ['=HYPERLINK("http://evil.example","x")', "+1 555", "-5", "@SUM(A1)", "Wang Fang"]
    with duckdb.connect(str(serving)) as c:
        c.sql("create schema bi; create table bi.t (name varchar, amount decimal(18, 2))")
        c.executemany("insert into bi.t values (?, ?)", [[v, -1.5] for v in values])
        c.sql(f"copy bi.t to '{tmp_path / 't.parquet'}' (format parquet)")
    out = tmp_path / "exports/t.csv"
    assert export_csv("t", out, serving) == 5
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == [
        "'" + v if v[0] in "=+-@" else v for v in values
    ]
    assert {r["amount"] for r in rows} == {"-1.50"}  # numbers are not touched
    # Parquet (typed) keeps the text as it is
    assert pd.read_parquet(tmp_path / "t.parquet")["name"].tolist() == values


def test_blank_json_lines_are_skipped_and_numbering_skips_them_too(con, tmp_path):
    contract = parse_contract(ORDERS)
    lines = ["", order(id="A"), "   ", "\t", "  " + order(id="B"), "", order(id="C")]
    write_files(tmp_path, {"shop/orders/a.jsonl": "\n".join(lines).encode() + b"\n"})
    [r] = ingest_contract(con, contract, tmp_path)
    # empty and space-only lines are not records; a tab-only line is one (not valid JSON)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 3, 1)
    assert con.sql("select order_id, _source_row from raw.shop__orders order by 2").fetchall() \
        == [("A", 1), ("B", 3), ("C", 4)]
    assert con.sql("select _source_row, reason from raw.quarantine").fetchall() == [
        (2, "line is not valid JSON")]
