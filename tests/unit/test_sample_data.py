"""The sample data generator writes the exports documented in docs/sample_data.md."""

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.ingest.contracts import load_contracts
from pipelines.ingest.loader import ingest_contract
from pipelines.sample_data import generate, generate_increment
from pipelines.standardise import normalize_phone

END = date(2026, 11, 15)
TAG = "20261115"
CONTRACTS = Path(__file__).resolve().parents[2] / "pipelines" / "contracts"

HEADERS = {
    "crm/contacts/contacts_{}.csv": [
        "Contact ID",
        "First Name",
        "Last Name",
        "Email",
        "Mobile",
        "Phone",
        "Mailing Street",
        "Mailing City",
        "Mailing Zip/Postal Code",
        "Mailing Country",
        "Birthdate",
        "Loyalty Card Number",
        "Weibo Handle",
        "Email Opt Out",
        "SMS Opt Out",
        "Do Not Call",
        "Created Date",
        "Last Modified Date",
        "Consent Updated Date",
        "Consent Source",
    ],
    "crm/tickets/tickets_{}.csv": [
        "Case Number",
        "Contact ID",
        "Subject",
        "Case Type",
        "Priority",
        "Status",
        "Channel",
        "Opened Date",
        "Closed Date",
    ],
    "crm/campaign_members/campaign_members_{}.csv": [
        "Campaign ID",
        "Campaign Name",
        "Contact ID",
        "Member Group",
        "Channel",
        "Sent Date",
        "Responded Date",
        "Converted Date",
        "Cost",
    ],
    "shop/customers/customers_{}.csv": [
        "Customer ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone",
        "Accepts Email Marketing",
        "Accepts SMS Marketing",
        "Default Address Address1",
        "Default Address City",
        "Default Address Zip",
        "Default Address Country Code",
        "Loyalty Card",
        "Account State",
        "Created At",
        "Marketing Consent Updated At",
    ],
    "shop/orders/orders_{}.jsonl": [
        "id",
        "customer_id",
        "email",
        "created_at",
        "financial_status",
        "currency",
        "total_price",
        "source_name",
        "location",
    ],
    "shop/order_lines/order_lines_{}.parquet": [
        "order_id",
        "line_number",
        "sku",
        "product_title",
        "product_category",
        "quantity",
        "unit_price",
    ],
    "social/profiles/profiles_{}.jsonl": [
        "platform",
        "profile_id",
        "handle",
        "display_name",
        "phone",
        "email",
        "city",
        "followers",
        "created_time",
        "messaging_opt_in",
        "opt_in_time",
    ],
    "social/interactions/interactions_{}.csv": [
        "interaction_id",
        "platform",
        "profile_id",
        "type",
        "timestamp",
        "sentiment",
    ],
}
ENCODING = {"contacts": "utf-8-sig", "tickets": "gb18030"}
TRUTH = {
    "person_map.csv": ["source_system", "source_record_id", "person_id"],
    "persons.csv": [
        "person_id",
        "is_chinese",
        "purchase_rate",
        "dropout_week",
        "complaints",
        "social_engagement",
    ],
    "campaign_uplift.csv": ["campaign_id", "true_uplift_response", "true_uplift_conversion"],
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    counts = generate(out, customers=2000, seed=7, end_date=END, weeks=52)
    return out, counts


def landing(out: Path, pattern: str, tag: str = TAG) -> Path:
    return out / "landing" / pattern.format(tag)


def read_csv(path: Path) -> pd.DataFrame:
    entity = path.name.rsplit("_", 1)[0]
    sep = ";" if entity == "interactions" else ","
    return pd.read_csv(
        path, dtype=str, keep_default_na=False, sep=sep, encoding=ENCODING.get(entity, "utf-8")
    )


def read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the planted broken line
    return pd.DataFrame(rows)


def test_same_seed_gives_identical_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, customers=300, seed=11, end_date=END, weeks=30)
    generate(b, customers=300, seed=11, end_date=END, weeks=30)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 11
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    generate(c := tmp_path / "c", customers=300, seed=12, end_date=END, weeks=30)
    assert (c / "truth/persons.csv").read_bytes() != (a / "truth/persons.csv").read_bytes()


def test_every_file_exists_with_the_documented_columns(base):
    out, counts = base
    for pattern, header in HEADERS.items():
        path = landing(out, pattern)
        if path.suffix == ".csv":
            assert list(read_csv(path).columns) == header, path
        elif path.suffix == ".jsonl":
            first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
            assert list(first) == header, path
        else:
            assert pq.read_schema(path).names == header
        rel = path.relative_to(out).as_posix()
        assert counts[rel]["rows"] > 0
        assert 0 < counts[rel]["malformed"] < max(3, counts[rel]["rows"] * 0.01)
    for name, header in TRUTH.items():
        assert list(pd.read_csv(out / "truth" / name, nrows=1).columns) == header
    contacts = landing(out, "crm/contacts/contacts_{}.csv").read_bytes()
    assert contacts.startswith(b"\xef\xbb\xbf")


def test_tickets_are_gb18030_not_utf8(base):
    raw = landing(base[0], "crm/tickets/tickets_{}.csv").read_bytes()
    text = raw.decode("gb18030")
    assert "Case Number" in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_order_totals_equal_the_sum_of_their_lines(base):
    out = base[0]
    orders = read_jsonl(landing(out, "shop/orders/orders_{}.jsonl"))
    orders = orders[orders["id"].notna()]
    orders["total"] = pd.to_numeric(orders["total_price"], errors="coerce")
    orders = orders.dropna(subset=["total"])
    lines = pq.read_table(landing(out, "shop/order_lines/order_lines_{}.parquet")).to_pandas()
    broken = set(lines.loc[lines.isna().any(axis=1), "order_id"])
    lines = lines[~lines["order_id"].isin(broken)]
    sums = (lines["quantity"] * lines["unit_price"]).groupby(lines["order_id"]).sum().round(2)
    orders = orders[~orders["id"].astype("int64").isin(broken)]
    assert len(orders) > 1000
    got = sums.reindex(orders["id"].astype("int64")).to_numpy()
    assert (abs(got - orders["total"].to_numpy()) < 0.005).all()
    assert set(orders["financial_status"]) == {"paid", "refunded", "cancelled"}


def test_person_map_covers_every_keyed_customer_record(base):
    out = base[0]
    mapping = pd.read_csv(out / "truth/person_map.csv", dtype=str)
    assert not mapping.duplicated(["source_system", "source_record_id"]).any()
    known = set(zip(mapping["source_system"], mapping["source_record_id"], strict=True))
    sources = [
        ("crm", read_csv(landing(out, "crm/contacts/contacts_{}.csv"))["Contact ID"]),
        ("shop", read_csv(landing(out, "shop/customers/customers_{}.csv"))["Customer ID"]),
        ("social", read_jsonl(landing(out, "social/profiles/profiles_{}.jsonl"))["profile_id"]),
    ]
    for system, keys in sources:
        keys = [k for k in keys.dropna() if k.strip()]
        assert keys and all((system, k) in known for k in keys), system
    persons = pd.read_csv(out / "truth/persons.csv", dtype=str)
    assert set(mapping["person_id"]) <= set(persons["person_id"])
    assert len(mapping) / len(persons) > 1.4  # duplicates within and across sources


def test_shared_phones_link_different_people(base):
    out = base[0]
    mapping = pd.read_csv(out / "truth/person_map.csv", dtype=str)
    person = dict(
        zip(
            zip(mapping["source_system"], mapping["source_record_id"], strict=True),
            mapping["person_id"],
            strict=True,
        )
    )
    contacts = read_csv(landing(out, "crm/contacts/contacts_{}.csv"))
    customers = read_csv(landing(out, "shop/customers/customers_{}.csv"))
    rows = [
        ("crm", k, p, c)
        for k, p, c in zip(
            contacts["Contact ID"], contacts["Mobile"], contacts["Mailing Country"], strict=True
        )
    ]
    rows += [
        ("shop", k, p, c)
        for k, p, c in zip(
            customers["Customer ID"],
            customers["Phone"],
            customers["Default Address Country Code"],
            strict=True,
        )
    ]
    phones = pd.DataFrame(
        [(normalize_phone(p, c or "CN"), person.get((s, k))) for s, k, p, c in rows if p],
        columns=["phone", "person"],
    ).dropna()
    assert len(phones) > 1000
    per_phone = phones.groupby("phone")["person"].nunique()
    assert (per_phone >= 2).sum() >= 3  # family phones and the shop's default phone
    assert (per_phone.between(2, 4)).sum() >= 2  # households


def test_phones_are_valid_numbers_in_their_country(base):
    contacts = read_csv(landing(base[0], "crm/contacts/contacts_{}.csv"))
    known = contacts[(contacts["Mobile"] != "") & (contacts["Mailing Country"] != "")]
    valid = [
        normalize_phone(p, c) is not None
        for p, c in zip(known["Mobile"], known["Mailing Country"], strict=True)
    ]
    assert len(valid) > 500 and sum(valid) / len(valid) > 0.99


def test_people_who_dropped_out_order_nothing_after_their_dropout_week(base):
    out = base[0]
    persons = pd.read_csv(out / "truth/persons.csv", dtype=str, keep_default_na=False)
    dropped = persons[persons["dropout_week"] != ""]
    assert 0.1 < len(dropped) / len(persons) < 0.6
    week_end = (pd.to_datetime(dropped["dropout_week"]) + pd.Timedelta(days=7)).dt.tz_localize(
        "Asia/Shanghai"
    )
    limit = dict(zip(dropped["person_id"], week_end, strict=True))
    mapping = pd.read_csv(out / "truth/person_map.csv", dtype=str)
    shop = mapping[mapping["source_system"] == "shop"].set_index("source_record_id")["person_id"]
    orders = read_jsonl(landing(out, "shop/orders/orders_{}.jsonl"))
    orders["person"] = orders["customer_id"].map(shop)
    orders["at"] = pd.to_datetime(orders["created_at"], utc=True, errors="coerce", format="ISO8601")
    orders = orders.dropna(subset=["person", "at"])
    late = [
        p
        for p, at in zip(orders["person"], orders["at"], strict=True)
        if p in limit and at >= limit[p]
    ]
    assert orders["person"].isin(limit).sum() > 100
    assert late == []
    assert persons["complaints"].astype(int).sum() > 0


def test_exports_meet_their_contracts_and_only_malformed_rows_are_quarantined(base):
    out, counts = base
    con = duckdb.connect()
    con.sql("set TimeZone = 'UTC'; create schema raw")
    for contract in load_contracts(CONTRACTS):
        (result,) = ingest_contract(con, contract, out / "landing")
        rel = result.path.relative_to(out).as_posix()
        assert result.rows_read == counts[rel]["rows"], rel
        assert result.rows_quarantined == counts[rel]["malformed"], rel


def test_increment_writes_the_next_weeks_files(base, tmp_path):
    out = tmp_path / "inc"
    shutil.copytree(base[0], out)
    before = {p for p in (out / "landing").rglob("*") if p.is_file()}
    first = generate_increment(out, customers=2000, seed=7, end_date=END, weeks=52)
    second = generate_increment(out, customers=2000, seed=7, end_date=END, weeks=52)
    for counts, days in ((first, 7), (second, 14)):
        tag = f"{END + timedelta(days=days):%Y%m%d}"
        written = [k for k in counts if k.startswith("landing/")]
        assert written and all(tag in k for k in written)
        for entity in ("contacts", "customers", "orders", "order_lines", "interactions"):
            assert any(f"/{entity}_{tag}." in k for k in written), entity
    assert before <= {p for p in (out / "landing").rglob("*") if p.is_file()}
    tag = f"{END + timedelta(days=7):%Y%m%d}"
    orders = read_jsonl(landing(out, "shop/orders/orders_{}.jsonl", tag))
    at = pd.to_datetime(orders["created_at"], utc=True, errors="coerce", format="ISO8601").dropna()
    assert at.min() >= pd.Timestamp("2026-11-16", tz="Asia/Shanghai")
    base_ids = read_jsonl(landing(out, "shop/orders/orders_{}.jsonl"))["id"].dropna()
    assert orders["id"].dropna().min() > base_ids.max()
    # new and updated contacts: every key is in the (updated) person map
    mapping = pd.read_csv(out / "truth/person_map.csv", dtype=str)
    contacts = read_csv(landing(out, "crm/contacts/contacts_{}.csv", tag))
    crm = set(mapping.loc[mapping["source_system"] == "crm", "source_record_id"])
    keys = [k for k in contacts["Contact ID"] if k]
    assert keys and set(keys) <= crm
    base_contacts = set(read_csv(landing(out, "crm/contacts/contacts_{}.csv"))["Contact ID"])
    assert set(keys) & base_contacts and set(keys) - base_contacts  # updates and new people


def test_an_alias_address_is_never_another_persons_address():
    import numpy as np
    import pyarrow as pa

    from pipelines.sample_data.exports import alias_email

    email = pa.array(["rachel.campbell@gmail.com", "ann.lee@gmail.com"])
    taken = pa.array(["rachel.campbell@icloud.com", *email.to_pylist()])  # another Rachel's
    u = np.array([[0.5, 0.99], [0.5, 0.99]])  # the 'other domain' form, at icloud.com
    assert alias_email(email, u).to_pylist() == [
        "rachel.campbell@icloud.com", "ann.lee@icloud.com"]
    assert alias_email(email, u, taken).to_pylist() == [
        "rachel.campbell+shop@gmail.com", "ann.lee@icloud.com"]


def test_no_two_people_share_a_personal_address(base):
    out = base[0]
    mapping = pd.read_csv(out / "truth/person_map.csv", dtype=str)
    person = dict(zip(zip(mapping["source_system"], mapping["source_record_id"]),
                      mapping["person_id"]))  # fmt: skip
    customers = read_csv(landing(out, "shop/customers/customers_{}.csv"))
    emails = pd.DataFrame({
        "email": customers["Email"].str.strip().str.lower(),
        "person": [person.get(("shop", k)) for k in customers["Customer ID"]],
    }).dropna()
    from pipelines.sample_data.pools import ROLE_LOCALS

    role = emails["email"].str.split("@").str[0].isin(ROLE_LOCALS)  # team mailboxes
    emails = emails[emails["email"].str.contains("@") & ~role]
    per_email = emails.groupby("email")["person"].nunique()
    assert len(per_email) > 500
    assert (per_email > 1).sum() == 0
