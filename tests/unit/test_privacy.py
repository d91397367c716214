"""Suppression list, salted hashes, minimisation of loaded columns, PII tags, secrets."""

from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.config import REPO_ROOT, settings
from pipelines.ingest.contracts import load_contracts, parse_contract
from pipelines.ingest.loader import ingest_contract
from pipelines.privacy import suppression
from pipelines.privacy.identifiers import identifier_hash
from pipelines.privacy.secrets import MissingSecret, privacy_salt

CONTRACT = {
    "source": "crm",
    "entity": "contacts",
    "files": "contacts/*.csv",
    "format": "csv",
    "key": ["crm_contact_id"],
    "columns": {
        "crm_contact_id": {"from": "Contact ID", "required": True},
        "email": {"from": "Email", "pii": True, "why": "test"},
        "mobile_phone": {"from": "Mobile", "pii": True, "why": "test"},
        "country_code": {"from": "Country"},
        "created_at": {"from": "Created", "type": "timestamp"},
    },
}
EXPORT = (
    "Contact ID,Email,Mobile,Country,Created,Internal Notes\n"
    "003A1,Erased.Person@Example.com,138 0013 8000,CN,2026-01-01T00:00:00Z,likes cats\n"
    "003A2,other@example.com,,CN,2026-01-01T00:00:00Z,VIP secret note\n"
    "003A3,third@example.com,+86-138-0013-8000,CN,2026-01-01T00:00:00Z,\n"
    "003A4,erased.person@example.com,,CN,not a date,\n"
    "003A5,fifth@example.com,,CN,2026-01-01T00:00:00Z,\n"
)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("C360_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("C360_PRIVACY_SALT", "unit-test-salt")
    monkeypatch.delenv("C360_ENCRYPTION_KEY", raising=False)
    settings.cache_clear()
    yield tmp_path
    settings.cache_clear()


@pytest.fixture
def con():
    c = duckdb.connect()
    c.sql("set TimeZone = 'UTC'; create schema raw")
    yield c
    c.close()


def test_identifiers_hash_the_same_in_any_written_form_and_depend_on_the_salt():
    salt = b"s1"
    assert identifier_hash("email", " Erased.Person@Example.COM ", None, salt) == \
        identifier_hash("email", "erased.person@example.com", None, salt)
    assert identifier_hash("phone", "138 0013 8000", "CN", salt) == \
        identifier_hash("phone", "+86-138-0013-8000", None, salt)
    assert identifier_hash("email", "a@b.cn", None, salt) != \
        identifier_hash("email", "a@b.cn", None, b"s2")
    assert identifier_hash("email", "a@b.cn", None, salt) != \
        identifier_hash("crm_contact", "a@b.cn", None, salt)


def test_salt_only_from_the_environment(monkeypatch):
    monkeypatch.delenv("C360_PRIVACY_SALT", raising=False)
    with pytest.raises(MissingSecret):
        privacy_salt()
    assert privacy_salt(required=False) is None


def test_loader_skips_and_counts_suppressed_rows(env, con):
    landing = env / "landing"
    (landing / "contacts").mkdir(parents=True)
    (landing / "contacts/c1.csv").write_text(EXPORT, encoding="utf-8")
    salt = privacy_salt()
    suppression.add([("email", identifier_hash("email", "erased.person@example.com", None, salt)),
                     ("crm_contact", identifier_hash("crm_contact", "003A3", None, salt))],
                    request_id="r1")
    [result] = ingest_contract(con, parse_contract(CONTRACT), landing)
    # 003A1 (email), 003A3 (record key) and 003A4 (email, would be quarantined) are skipped
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined,
            result.rows_suppressed) == (5, 2, 0, 3)
    assert sorted(r[0] for r in con.sql("select crm_contact_id from raw.crm__contacts")
                  .fetchall()) == ["003A2", "003A5"]
    read, loaded, quarantined, suppressed = con.sql(
        "select rows_read, rows_loaded, rows_quarantined, rows_suppressed "
        "from raw.file_registry").fetchone()
    assert read == loaded + quarantined + suppressed
    dump = str(con.sql("select * from raw.crm__contacts").fetchall()) + str(
        con.sql("select * from raw.quarantine").fetchall())
    assert "erased.person" not in dump.lower()


def test_without_a_suppression_list_nothing_is_skipped(env, con):
    landing = env / "landing"
    (landing / "contacts").mkdir(parents=True)
    (landing / "contacts/c1.csv").write_text(EXPORT, encoding="utf-8")
    [result] = ingest_contract(con, parse_contract(CONTRACT), landing)
    assert (result.rows_loaded, result.rows_quarantined, result.rows_suppressed) == (4, 1, 0)


def test_only_contract_mapped_columns_are_loaded_anywhere(env, con):
    landing = env / "landing"
    (landing / "contacts").mkdir(parents=True)
    (landing / "contacts/c1.csv").write_text(EXPORT, encoding="utf-8")
    ingest_contract(con, parse_contract(CONTRACT), landing)
    cols = [r[0] for r in con.sql("describe raw.crm__contacts").fetchall()]
    assert [c for c in cols if not c.startswith("_")] == list(CONTRACT["columns"])
    everything = str(con.sql("select * from raw.crm__contacts").fetchall()) + str(
        con.sql("select * from raw.quarantine").fetchall())
    assert "likes cats" not in everything and "VIP secret note" not in everything
    assert "Internal Notes" not in everything


def test_every_personal_column_of_every_contract_says_why():
    personal = {"first_name", "last_name", "email", "phone", "mobile_phone", "street",
                "postcode", "birth_date", "loyalty_card_number", "social_handle", "handle",
                "display_name"}
    for contract in load_contracts(REPO_ROOT / "pipelines" / "contracts"):
        for col in contract.columns:
            if col.name in personal:
                assert col.pii and col.why, f"{contract.name}.{col.name}"


def test_pii_columns_are_tagged_in_dbt_docs():
    from pipelines.publish import PII_NAMES

    tagged, untagged = set(), []
    for path in Path(REPO_ROOT / "dbt_project" / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for col in model.get("columns", []):
                meta = {**col.get("meta", {}), **col.get("config", {}).get("meta", {})}
                if meta.get("pii"):
                    tagged.add(col["name"])
                elif col["name"] in PII_NAMES:
                    untagged.append(f"{model['name']}.{col['name']}")
    assert not untagged
    assert {"email", "phone_e164", "first_name", "street", "birth_date"} <= tagged


def test_suppression_list_holds_no_values(env):
    salt = privacy_salt()
    suppression.add([("email", identifier_hash("email", "x.y@example.com", None, salt))], "r1")
    suppression.add([("email", identifier_hash("email", "x.y@example.com", None, salt))], "r2")
    text = suppression.list_path().read_text()
    assert "x.y" not in text and "example" not in text
    assert len(text.strip().splitlines()) == 2  # header + one entry (not added twice)


def test_encryption_status_says_when_it_is_off(monkeypatch):
    from pipelines.warehouse import attach_options, encryption_status

    monkeypatch.delenv("C360_ENCRYPTION_KEY", raising=False)
    assert "OFF" in encryption_status() and "C360_ENCRYPTION_KEY" in encryption_status()
    assert "encryption_key" not in attach_options()
    monkeypatch.setenv("C360_ENCRYPTION_KEY", "k")
    assert "ON" in encryption_status() and "k" not in encryption_status().replace("key", "")


def test_encrypted_warehouse_has_no_plaintext(env, monkeypatch):
    from pipelines.warehouse import connect

    monkeypatch.setenv("C360_ENCRYPTION_KEY", "unit-test-key")
    path = env / "wh.duckdb"
    with connect(path) as c:
        c.sql("create table raw.t as select 'someone' || range || '@example.com' as email "
              "from range(2000)")
        c.sql("checkpoint")
    assert b"@example.com" not in path.read_bytes()
    with connect(path, read_only=True) as c:
        assert c.sql("select count(*) from raw.t").fetchone()[0] == 2000
    with pytest.raises(duckdb.Error):  # not readable as a plain file, nor with another key
        duckdb.connect(str(path), read_only=True).sql("select * from raw.t")
    monkeypatch.setenv("C360_ENCRYPTION_KEY", "wrong-key")
    with pytest.raises(duckdb.Error), connect(path, read_only=True) as c:
        c.sql("select count(*) from raw.t").fetchall()
