"""End to end, privacy: the demo on a small generated dataset with encryption at rest, then
an erasure, then a re-delivery of the original exports.

The exports are generated outside the data directory (they are the vendor's files, like the
truth files), so every file under the data directory is the pipeline's own output and is
searched byte by byte."""

import contextlib
import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = 300
END_DATE = "2026-11-08"
REDELIVERY_TABLES = (
    "staging.stg_crm__contacts", "staging.stg_crm__tickets", "staging.stg_crm__campaign_members",
    "staging.stg_shop__customers", "staging.stg_shop__orders", "staging.stg_shop__order_lines",
    "staging.stg_social__profiles", "staging.stg_social__interactions", "marts.orders",
    "marts.order_items", "marts.interactions", "marts.campaign_members",
)


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)


def demo(env: dict, weeks: int = 60) -> str:
    out = run(env, "-m", "pipelines.demo", "--customers", str(CUSTOMERS), "--seed", "5",
              "--end-date", END_DATE, "--weeks", str(weeks))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out.stdout


def open_encrypted(path: Path, key: str) -> duckdb.DuckDBPyConnection:
    import duckdb_ext

    ext = str(Path(next(iter(duckdb_ext.__path__))) / "extensions")
    con = duckdb.connect(config={"extension_directory": ext})
    con.sql("load httpfs")
    con.sql(f"attach '{path}' as db (encryption_key '{key}', read_only)")
    return con


def sql_hits(con, values: list[str]) -> dict[str, int]:
    """Rows of every text column of every table of catalog `db` containing any value."""
    hits = {}
    cols = con.sql("select table_schema, table_name, column_name from information_schema.columns "
                   "where table_catalog = 'db' and data_type = 'VARCHAR'").fetchall()
    for schema, table, column in cols:
        cond = " or ".join(f"contains(lower(\"{column}\"), lower(?))" for _ in values)
        n = con.sql(f'select count(*) from db.{schema}."{table}" where {cond}',
                    params=values).fetchone()[0]
        if n:
            hits[f"{schema}.{table}.{column}"] = n
    return hits


def byte_hits(root: Path, values: list[str]) -> list[str]:
    needles = {v.encode() for v in values} | {v.lower().encode() for v in values}
    found = []
    # os.walk skips a folder that vanishes while it is walked, and a file that vanishes is
    # skipped below: the other test worker's dbt runs delete theirs under dbt_project/target
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            with contextlib.suppress(FileNotFoundError):
                data = path.read_bytes()
                found += [f"{path.relative_to(root)}" for n in needles if n in data]
    return found


def export_rows(landing: Path) -> list[tuple[str, str, dict]]:
    """(system, record id, row) of every customer record in the exports."""
    rows = []
    for f in landing.glob("crm/contacts/*.csv"):
        with f.open(encoding="utf-8-sig", newline="") as fh:
            rows += [("crm", r["Contact ID"], r) for r in csv.DictReader(fh)]
    for f in landing.glob("shop/customers/*.csv"):
        with f.open(encoding="utf-8", newline="") as fh:
            rows += [("shop", r["Customer ID"], r) for r in csv.DictReader(fh)]
    for f in landing.glob("social/profiles/*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows.append(("social", str(r.get("profile_id")), {k: str(v) for k, v in r.items()
                                                               if v is not None}))
    return rows


PERSONAL = ("Email", "Mobile", "Phone", "First Name", "Last Name", "email", "phone",
            "display_name")


def pick_person(exports: Path) -> tuple[str, list[str], list[str]]:
    """A person with records in several sources whose email, phone and name values (as the
    exports wrote them) appear in no other person's record. Returns (person, values, names)."""
    person_of = {}
    with (exports / "truth/person_map.csv").open() as fh:
        for r in csv.DictReader(fh):
            person_of[(r["source_system"], r["source_record_id"])] = r["person_id"]
    rows = export_rows(exports / "landing")
    owners: dict[str, set[str]] = {}
    for system, rid, row in rows:
        for k in PERSONAL:
            if row.get(k):
                owners.setdefault(row[k].strip().lower(), set()).add(person_of.get((system, rid)))
    by_person: dict[str, list[tuple[str, dict]]] = {}
    for system, rid, row in rows:
        by_person.setdefault(person_of.get((system, rid)), []).append((system, row))
    for person, recs in sorted(by_person.items(), key=lambda kv: -len(kv[1])):
        if len({s for s, _ in recs}) < 2:
            continue
        values = {row[k].strip() for _, row in recs for k in PERSONAL if row.get(k)}
        unique = [v for v in values if owners[v.lower()] == {person} and len(v) >= 4]
        emails = [v for v in unique if "@" in v]
        phones = [v for v in unique if sum(c.isdigit() for c in v) >= 8 and "@" not in v]
        names = [v for v in unique if v not in emails and v not in phones
                 and (len(v) >= 5 or any(ord(c) > 0x2E80 for c in v))]
        if emails and phones and names:
            return person, emails + phones + names, emails
    raise AssertionError("no person with unique email, phone and name in the sample")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipelines.sample_data import generate

    base = tmp_path_factory.mktemp("privacy")
    exports, data = base / "exports", base / "data"

    generate(exports, customers=CUSTOMERS, seed=5, end_date=date.fromisoformat(END_DATE))
    key, salt = secrets.token_hex(16), secrets.token_hex(16)
    env = {**os.environ, "C360_DATA_DIR": str(data),
           "C360_LANDING_DIR": str(exports / "landing"),
           "C360_ENCRYPTION_KEY": key, "C360_PRIVACY_SALT": salt}
    for var in ("C360_WAREHOUSE", "C360_SERVING_DIR", "C360_RESTRICTED_DIR", "DAGSTER_HOME",
                "MLFLOW_TRACKING_URI", "C360_MLFLOW_ARTIFACTS", "C360_DBT_TARGET"):
        env.pop(var, None)
    first_out = demo(env)
    person, values, emails = pick_person(exports)
    wh = data / "warehouse/customer360.duckdb"
    with open_encrypted(wh, key) as con:
        before = sql_hits(con, values)
        plain_emails = [r[0] for r in con.sql(
            "select email from db.marts.customers where email is not null limit 50").fetchall()]
    erased = run(env, "-m", "pipelines.privacy.erase", "--email", emails[0])
    assert erased.returncode == 0, erased.stdout + erased.stderr
    snapshots = "db.marts.customer_features_weekly"
    with open_encrypted(wh, key) as con:
        after = sql_hits(con, values)
        built = con.sql(f"select max(_events_ingested_at) from {snapshots}").fetchone()[0]
    with open_encrypted(data / "restricted/customer360_full.duckdb", key) as con:
        after_restricted = sql_hits(con, values)
    bytes_after = byte_hits(data, values)
    # the vendor delivers the same exports again, under new names
    redelivered_at = datetime.now(UTC)
    for f in list((exports / "landing").rglob("*.*")):
        shutil.copy(f, f.with_name("redelivered_" + f.name))
    second_out = demo(env, weeks=1)  # a weekly run: its own week's snapshot
    with open_encrypted(wh, key) as con:
        after_reingest = sql_hits(con, values)
        registry = con.sql("select sum(rows_read), sum(rows_loaded), sum(rows_quarantined), "
                           "sum(rows_suppressed), sum(rows_erased) from db.raw.file_registry "
                           "where status = 'loaded'").fetchone()
        per_file = con.sql("select count(*) from db.raw.file_registry where status = 'loaded' "
                           "and rows_read <> rows_loaded + rows_quarantined + rows_suppressed"
                           ).fetchone()[0]
        # rows of the older weeks built again by the weekly run after the re-delivery
        rebuilt = con.sql(f"select count(*) from {snapshots} where _events_ingested_at > ? and "
                          f"snapshot_date < (select max(snapshot_date) from {snapshots})",
                          params=[built]).fetchone()[0]
        # staging and row-wise marts rows that took the re-delivery's load time (0102)
        retaken = {t: con.sql(f"select count(*) from db.{t} where _ingested_at >= ?",
                              params=[redelivered_at]).fetchone()[0] for t in REDELIVERY_TABLES}
    return {
        "data": data, "env": env, "key": key, "salt": salt, "values": values,
        "before": before, "after": after, "after_restricted": after_restricted,
        "bytes_after": bytes_after, "bytes_after_reingest": byte_hits(data, values),
        "after_reingest": after_reingest, "registry": registry, "per_file": per_file,
        "plain_emails": plain_emails, "erase_out": erased.stdout, "rebuilt": rebuilt,
        "retaken": retaken,
        "outputs": first_out + second_out,
    }


def test_the_person_was_there_before(world):
    assert sum(world["before"].values()) > 0
    assert any(k.startswith("raw.") for k in world["before"])
    assert any(k.startswith("marts.") for k in world["before"])


def test_erasure_leaves_no_trace_in_any_table_or_file(world):
    assert world["after"] == {}
    assert world["after_restricted"] == {}
    assert world["bytes_after"] == []


def test_reingesting_the_original_exports_does_not_bring_them_back(world):
    assert world["after_reingest"] == {}
    assert world["bytes_after_reingest"] == []
    read, loaded, quarantined, suppressed, erased = world["registry"]
    assert suppressed > 0 and erased > 0
    assert read == loaded + quarantined + suppressed
    assert world["per_file"] == 0


def test_redelivered_exports_change_no_staging_or_marts_row(world):
    """An export delivered again brings the same content: no staging row takes its batch, so
    the incremental marts re-process nothing (decision 0102)."""
    assert world["retaken"] == dict.fromkeys(REDELIVERY_TABLES, 0)


def test_redelivered_exports_rebuild_no_older_snapshot(world):
    """After a re-delivery the weekly run rebuilds no older snapshot. Since decision 0102 the
    re-delivered rows change no load time downstream, so nothing is late at all; the repair's
    own fingerprint check (0101) is tested by
    `test_late_rows_that_change_no_event_rebuild_no_older_snapshot`."""
    assert world["rebuilt"] == 0


def test_erasure_is_logged_without_the_erased_values(world):
    log = (world["data"] / "privacy/erasure_log.jsonl").read_text()
    entry = json.loads(log.splitlines()[0])
    assert entry["customers"] >= 1 and sum(entry["scope"].values()) > 0
    assert {"request_id", "requested_at", "completed_at", "subject_hash"} <= set(entry)
    assert not any(v.lower() in log.lower() for v in world["values"])
    assert not any(v.lower() in world["erase_out"].lower() for v in world["values"])


def test_warehouse_and_restricted_output_are_encrypted(world):
    data = world["data"]
    for f in ("warehouse/customer360.duckdb", "restricted/customer360_full.duckdb"):
        raw = (data / f).read_bytes()
        assert not [e for e in world["plain_emails"] if e.encode() in raw], f
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(data / f), read_only=True).sql("select 1").fetchall()
    assert "encryption at rest: ON" in world["outputs"]


def test_analytics_output_has_no_pii_column_and_a_pseudonymous_key(world):
    from pipelines.publish import pii_columns

    pii = pii_columns(REPO / "dbt_project/target/manifest.json")
    serving = world["data"] / "serving"
    with duckdb.connect(str(serving / "customer360.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.sql("select table_name from information_schema.tables "
                                        "where table_schema = 'bi'").fetchall()]
        assert "customer_360" in tables and "contactable_customers" in tables
        for t in tables:
            cols = {r[0] for r in con.sql(f"describe bi.{t}").fetchall()}
            assert not cols & pii, (t, cols & pii)
            assert "customer_id" not in cols, t
        keys = con.sql("select customer_key from bi.customer_360 limit 5").fetchall()
        assert all(len(k[0]) == 36 for k in keys)  # UUIDs, not the customer ids
    for parquet in (serving / "parquet").glob("*.parquet"):
        cols = set(duckdb.sql(f"select * from '{parquet}' limit 0").columns)
        assert not cols & pii and "customer_id" not in cols, parquet.name
    with open_encrypted(world["data"] / "restricted/customer360_full.duckdb",
                        world["key"]) as con:
        cols = {r[0] for r in con.sql("describe db.bi.customer_360").fetchall()}
        assert {"customer_id", "email", "full_name"} <= cols


def test_contactable_customers_respect_consent_and_the_cap(world):
    wh = world["data"] / "warehouse/customer360.duckdb"
    with open_encrypted(wh, world["key"]) as con:
        bad_consent = con.sql(
            "select count(*) from db.bi.contactable_customers c join db.marts.customer_consent "
            "k using (customer_id, channel) where k.consent_status <> 'granted'").fetchone()[0]
        no_consent_row = con.sql(
            "select count(*) from db.bi.contactable_customers c anti join "
            "db.marts.customer_consent k using (customer_id, channel)").fetchone()[0]
        cap = con.sql(
            "with as_of as (select max(sent_at) t from db.marts.campaign_members), "
            "recent as (select customer_id, count(*) n from db.marts.campaign_members, as_of "
            "where is_treatment and sent_at > as_of.t - interval 14 day group by 1) "
            "select count(*) from db.bi.contactable_customers join recent using (customer_id) "
            "where n >= 2").fetchone()[0]
        reasons = dict(con.sql("select exclusion_reason, count(*) from db.bi.contact_exclusions "
                               "group by 1").fetchall())
        contactable = con.sql("select count(*) from db.bi.contactable_customers").fetchone()[0]
        when_where = con.sql(
            "select count(*) from db.bi.contactable_customers where consent_decided_at is null "
            "or consent_source_system is null").fetchone()[0]
    assert bad_consent == 0 and no_consent_row == 0
    assert cap == 0
    assert contactable > 0 and when_where == 0
    assert reasons.get("contact_cap_reached", 0) > 0
    assert reasons.get("consent_denied", 0) > 0


def test_no_secret_in_any_file_or_log(world):
    needles = [world["key"], world["salt"]]
    assert byte_hits(world["data"], needles) == []
    for d in ("dbt_project/logs", "dbt_project/target"):
        if (REPO / d).exists():
            assert byte_hits(REPO / d, needles) == [], d
    assert not any(n in world["outputs"] for n in needles)
