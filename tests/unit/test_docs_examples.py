"""The example contract of docs/own_exports.md loads its example export (a HubSpot contacts
CSV) into the same raw table, with the same columns, as the shipped CRM contract."""

from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.config import REPO_ROOT
from pipelines.ingest.contracts import parse_contract
from pipelines.ingest.loader import ingest_contract

EXAMPLES = REPO_ROOT / "docs/examples"


@pytest.fixture
def con():
    c = duckdb.connect()
    c.sql("set TimeZone = 'UTC'; create schema raw")
    yield c
    c.close()


def load(path: Path):
    return parse_contract(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def test_hubspot_contract_maps_onto_the_shipped_crm_columns():
    example = load(EXAMPLES / "contracts/crm_contacts.yaml")
    shipped = load(REPO_ROOT / "pipelines/contracts/crm_contacts.yaml")
    assert example.table == shipped.table
    assert [(c.name, c.type) for c in example.columns] == [
        (c.name, c.type) for c in shipped.columns]


def test_hubspot_example_export_loads(con):
    contract = load(EXAMPLES / "contracts/crm_contacts.yaml")
    [result] = ingest_contract(con, contract, EXAMPLES / "landing")
    assert result.status == "loaded", result.error
    # 5 rows: an impossible birth date and a missing Record ID are quarantined
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 3, 2)
    rows = con.sql(
        "select crm_contact_id, first_name, city, birth_date, email_opt_out, "
        "created_at, loyalty_card_number from raw.crm__contacts order by 1").fetchall()
    assert [r[0] for r in rows] == ["51", "52", "53"]
    by_id = {r[0]: r for r in rows}
    assert by_id["52"][1:3] == ("李", "上海")  # UTF-8 with BOM read correctly
    assert str(by_id["52"][3]) == "1985-04-30"  # US date format
    assert by_id["52"][4] is True and by_id["51"][4] is False
    # 09:30 in Shanghai is 01:30 UTC
    assert by_id["51"][5].astimezone(__import__("datetime").UTC).hour == 1
    assert by_id["51"][6] is None  # custom property absent from the export -> null
    reasons = [r[0] for r in con.sql("select reason from raw.quarantine").fetchall()]
    assert len(reasons) == 2
