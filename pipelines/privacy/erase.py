"""Erasure: remove a person from every layer, keep only salted hashes for audit.

    python -m pipelines.privacy.erase --customer-id C0000042
    python -m pipelines.privacy.erase --email someone@example.com --phone "+86 138 0013 8000"

A request names customer ids, emails and/or phones. The person's customers are resolved
through the identity map (and old ids through the aliases); then:

1. the salted hashes of every identifier of theirs (record keys of their CRM contacts, shop
   accounts, social profiles and orders; their emails and phones unless shared with other
   people, see identity.demoted_identifiers) join the suppression list;
2. raw rows and quarantined rows carrying one of these identifiers are deleted, and the file
   registry counts them as erased (so rows still reconcile);
3. every row of staging, identity, marts (weekly snapshots included), ml and bi about them is
   deleted; identity.id_events keeps its events with the customer ids replaced by a salted
   hash (audit of merges without the person);
4. the warehouse file is rewritten (deleted rows leave no bytes behind), the serving files,
   Parquet and the restricted output are published again, and MLflow artifacts holding
   per-customer rows lose theirs;
5. the request is logged (privacy.erasure_log and <data>/privacy/erasure_log.jsonl) with
   time, request id and per-table counts, never with the erased values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import settings
from pipelines.privacy import suppression
from pipelines.privacy.identifiers import RECORD_KINDS, normalise
from pipelines.privacy.secrets import privacy_salt, salted_hash
from pipelines.warehouse import connect, table_exists

DOWNSTREAM_SCHEMAS = ("staging", "identity", "marts", "ml", "bi")
CUSTOMER_COLUMNS = ("customer_id", "customer_id_seen", "alias_customer_id")
KEY_COLUMNS = {
    "crm_contact_id": "crm_contact",
    "shop_customer_id": "shop_customer",
    "social_profile_id": "social_profile",
    "shop_order_id": "shop_order",
    "order_id": "shop_order",
    "consent_source_record_id": None,  # with consent_source_system, handled as a record
}
AUDIT_TABLES = {("identity", "id_events")}  # kept, ids replaced by a salted hash


@dataclass
class ErasureRequest:
    customer_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.customer_ids or self.emails or self.phones)


@dataclass
class Subject:
    """Everything that identifies the person in the warehouse (in memory only)."""

    customer_ids: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)
    keys: dict[str, set[str]] = field(default_factory=dict)  # kind -> values
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    def identifiers(self) -> list[tuple[str, str]]:
        out = [(kind, v) for kind, values in self.keys.items() for v in values]
        out += [("email", e) for e in self.emails] + [("phone", p) for p in self.phones]
        return out


def _values(con, sql: str, params=None) -> set[str]:
    return {r[0] for r in con.sql(sql, params=params).fetchall() if r[0] is not None}


def _in(values) -> str:
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")" \
        if values else "(null)"


def resolve(con, request: ErasureRequest) -> Subject:
    s = settings()
    subject = Subject()
    ids = set(request.customer_ids)
    emails = {e for e in (normalise("email", v) for v in request.emails) if e}
    phones = {p for p in (normalise("phone", v, s.default_phone_region) for v in request.phones)
              if p}
    have_identity = table_exists(con, "identity", "customer_map")
    if have_identity:
        if ids and table_exists(con, "identity", "customer_aliases"):
            ids |= _values(con, "select customer_id from identity.customer_aliases "
                                f"where alias_customer_id in {_in(ids)}")
        if emails or phones:
            ids |= _values(con, f"""
                select m.customer_id from staging.int_customer_records_unioned r
                join identity.customer_map m using (source_system, source_record_id)
                where r.email in {_in(emails)} or r.phone_e164 in {_in(phones)}""")
        ids = _values(con, f"select distinct customer_id from identity.customer_map "
                           f"where customer_id in {_in(ids)}") | set(request.customer_ids)
        subject.records = set(con.sql(
            "select source_system, source_record_id from identity.customer_map "
            f"where customer_id in {_in(ids)}").fetchall())
        if table_exists(con, "identity", "customer_aliases"):
            ids |= _values(con, "select alias_customer_id from identity.customer_aliases "
                                f"where customer_id in {_in(ids)}")
    subject.customer_ids = ids
    for system, record_id in subject.records:
        subject.keys.setdefault(RECORD_KINDS[system], set()).add(record_id)
    record_filter = " or ".join(
        f"(source_system = '{sys_}' and source_record_id = '{rid}')"
        for sys_, rid in subject.records) or "false"
    if table_exists(con, "staging", "int_customer_records_unioned"):
        emails |= _values(con, "select email from staging.int_customer_records_unioned "
                               f"where ({record_filter}) and not is_role_mailbox")
        phones |= _values(con, "select phone_e164 from staging.int_customer_records_unioned "
                               f"where {record_filter}")
    if table_exists(con, "identity", "demoted_identifiers"):  # shared with other people
        shared = _values(con, "select value from identity.demoted_identifiers")
        emails -= shared
        phones -= shared
    subject.emails, subject.phones = emails, phones
    orders = set()
    if table_exists(con, "marts", "orders"):
        orders |= _values(con, "select order_id from marts.orders "
                               f"where customer_id in {_in(ids)}")
    if table_exists(con, "staging", "stg_shop__orders"):
        shop_ids = _in(subject.keys.get("shop_customer", []))
        orders |= _values(con, "select shop_order_id from staging.stg_shop__orders "
                               f"where shop_customer_id in {shop_ids}")
    if orders:
        subject.keys["shop_order"] = {str(o) for o in orders}
    return subject


def _columns(con, schema: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, column in con.sql(
        "select c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where c.table_catalog = current_database() and c.table_schema = ? "
        "and t.table_type = 'BASE TABLE' "
        "order by c.table_name, c.ordinal_position", params=[schema]
    ).fetchall():
        out.setdefault(table, []).append(column)
    return out


def _erase_raw(con, subject_hashes: set[str], scope: dict[str, int]) -> None:
    """Delete raw and quarantined rows carrying a suppressed identifier; count per batch."""
    from pipelines.ingest.contracts import load_contracts
    from pipelines.ingest.registry import ensure_tables

    s = settings()
    ensure_tables(con)
    suppression.register_hash_udf(con, privacy_salt())
    suppression.load_into(con, subject_hashes)
    for contract in load_contracts(s.contracts_dir):
        if not table_exists(con, "raw", contract.name):
            continue
        names = {c.name for c in contract.columns}
        region = "country_code" if "country_code" in names else None
        condition = suppression.match_sql(names, region, s.default_phone_region)
        con.sql(f"create or replace temp table _erased as select _batch_id from "
                f"{contract.table} where {condition}")
        _count_into_registry(con, "rows_erased", scope, contract.table)
        con.sql(f"delete from {contract.table} where {condition}")
        # quarantined rows of this contract: the original text is JSON (typed-but-invalid
        # rows) or a CSV line (unparseable records)
        source_of = {c.name: c.source for c in contract.columns}

        def from_json(column: str, source_of=source_of) -> str:
            return f"json_extract_string(original_text, '$.\"{source_of[column]}\"')"

        q_condition = suppression.match_sql(names, region, s.default_phone_region, from_json)
        con.sql(f"""create or replace temp table _erased as select _batch_id from raw.quarantine
                    where contract = '{contract.name}' and json_valid(original_text)
                    and ({q_condition})""")
        rows = con.sql("select rowid from raw.quarantine where contract = ? and "
                       "not json_valid(original_text)", params=[contract.name]).fetchall()
        csv_hits = _csv_quarantine_hits(con, contract, [r[0] for r in rows], subject_hashes)
        if csv_hits:
            con.sql(f"insert into _erased select _batch_id from raw.quarantine "
                    f"where rowid in {_in(csv_hits)}")
        _count_into_registry(con, "quarantine_erased", scope, f"raw.quarantine:{contract.name}")
        con.sql(f"delete from raw.quarantine where contract = '{contract.name}' and "
                f"json_valid(original_text) and ({q_condition})")
        if csv_hits:
            con.sql(f"delete from raw.quarantine where rowid in {_in(csv_hits)}")


def _csv_quarantine_hits(con, contract, rowids: list[int], hashes: set[str]) -> list[int]:
    import csv

    from pipelines.privacy.identifiers import IDENTIFYING_COLUMNS, identifier_hash

    if not rowids:
        return []
    salt = privacy_salt()
    by_source = {c.source: c.name for c in contract.columns if c.name in IDENTIFYING_COLUMNS}
    header = [c.source for c in contract.columns]
    hits = []
    for rowid, text, path in con.sql(
        "select rowid, original_text, _source_file from raw.quarantine "
        f"where rowid in {_in(rowids)}"
    ).fetchall():
        try:  # the file's own header order when the file is still there
            with open(path, encoding=contract.encoding, newline="") as f:
                header = next(csv.reader(f, delimiter=contract.delimiter))
                header = [h.lstrip("\ufeff") for h in header]
        except (OSError, StopIteration, UnicodeDecodeError):
            pass
        fields = next(csv.reader([text or ""], delimiter=contract.delimiter), [])
        for source, value in zip(header, fields, strict=False):
            name = by_source.get(source)
            if name and identifier_hash(IDENTIFYING_COLUMNS[name], value, None, salt) in hashes:
                hits.append(rowid)
                break
    return hits


def _count_into_registry(con, column: str, scope: dict[str, int], label: str) -> None:
    counts = con.sql("select _batch_id, count(*) from _erased group by 1").fetchall()
    for batch_id, n in counts:
        con.sql(f"update raw.file_registry set {column} = coalesce({column}, 0) + ? "
                "where batch_id = ? and status = 'loaded'", params=[n, batch_id])
    total = sum(n for _, n in counts)
    if total:
        scope[label] = scope.get(label, 0) + total


def _erase_downstream(con, subject: Subject, salt: bytes, scope: dict[str, int]) -> None:
    ids = _in(subject.customer_ids)
    records = " or ".join(
        f"({{sys}} = '{s_}' and {{rid}} = '{r}')" for s_, r in subject.records) or "false"
    for schema in DOWNSTREAM_SCHEMAS:
        for table, cols in _columns(con, schema).items():
            name = f"{schema}.{table}"
            if (schema, table) in AUDIT_TABLES:
                for col in ("customer_id", "other_customer_id"):
                    if col in cols:
                        for cid in subject.customer_ids:
                            con.sql(f"update {name} set {col} = ? where {col} = ?",
                                    params=["erased:" + salted_hash("customer", cid, salt)[:16],
                                            cid])
                continue
            conds = [f'"{c}" in {ids}' for c in cols if c in CUSTOMER_COLUMNS]
            for prefix in ("", "left_", "right_"):
                if f"{prefix}source_system" in cols and f"{prefix}source_record_id" in cols:
                    conds.append("(" + records.replace("{sys}", f"{prefix}source_system")
                                 .replace("{rid}", f"{prefix}source_record_id") + ")")
            if "consent_source_system" in cols and "consent_source_record_id" in cols:
                conds.append("(" + records.replace("{sys}", "consent_source_system")
                             .replace("{rid}", "consent_source_record_id") + ")")
            for col in cols:
                kind = KEY_COLUMNS.get(col)
                if kind and subject.keys.get(kind):
                    conds.append(f'cast("{col}" as varchar) in {_in(subject.keys[kind])}')
            if "email" in cols and subject.emails:
                conds.append(f"email in {_in(subject.emails)}")
            if "phone_e164" in cols and subject.phones:
                conds.append(f"phone_e164 in {_in(subject.phones)}")
            if not conds:
                continue
            where = " or ".join(conds)
            n = con.sql(f"select count(*) from {name} where {where}").fetchone()[0]
            if n:
                con.sql(f"delete from {name} where {where}")
                scope[name] = n


def _rewrite_warehouse(path: Path) -> None:
    """Copy the warehouse into a fresh file and move it over the old one: deleted rows may
    still sit in free blocks of the old file."""
    from pipelines.warehouse import attach_options, open_plain_or_encrypted

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open_plain_or_encrypted(path) as (con, alias):
            con.sql(f"attach '{tmp}' as _fresh {attach_options()}")
            con.sql(f"copy from database {alias} to _fresh")
            con.sql("checkpoint _fresh")
            con.sql("detach _fresh")
        os.replace(tmp, path)
        Path(f"{path}.wal").unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def scrub_mlflow_artifacts(artifacts_dir: Path, customer_ids: set[str]) -> dict[str, int]:
    """Remove the customers' rows from tabular MLflow artifacts (CSV/Parquet with a
    customer_id column). Returns rows removed per file."""
    import pandas as pd

    removed: dict[str, int] = {}
    if not artifacts_dir.exists() or not customer_ids:
        return removed
    for path in list(artifacts_dir.rglob("*.csv")) + list(artifacts_dir.rglob("*.parquet")):
        try:
            df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
                path, dtype=str)
        except Exception:  # noqa: BLE001 - not a table: nothing per customer to remove
            continue
        if "customer_id" not in df.columns:
            continue
        keep = ~df["customer_id"].astype(str).isin(customer_ids)
        if keep.all():
            continue
        out = df[keep]
        out.to_parquet(path, index=False) if path.suffix == ".parquet" else out.to_csv(
            path, index=False)
        removed[str(path.relative_to(artifacts_dir))] = int((~keep).sum())
    return removed


def log_erasure(entry: dict) -> None:
    s = settings()
    s.privacy_dir.mkdir(parents=True, exist_ok=True)
    with (s.privacy_dir / "erasure_log.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    with connect() as con:
        con.sql("create schema if not exists privacy")
        con.sql("""create table if not exists privacy.erasure_log (
            request_id varchar, requested_at timestamptz, completed_at timestamptz,
            subject_hash varchar, customers integer, identifiers_suppressed integer,
            scope json)""")
        con.sql("insert into privacy.erasure_log values (?, ?, ?, ?, ?, ?, ?)", params=[
            entry["request_id"], entry["requested_at"], entry["completed_at"],
            entry["subject_hash"], entry["customers"], entry["identifiers_suppressed"],
            json.dumps(entry["scope"])])


def erase(request: ErasureRequest, republish: bool = True, request_id: str | None = None
          ) -> dict:
    """Carry out one erasure request; returns the log entry (counts, no erased values)."""
    if request.empty():
        raise ValueError("an erasure request needs a customer id, an email or a phone")
    s = settings()
    salt = privacy_salt(required=True)
    request_id = request_id or uuid.uuid4().hex
    requested_at = datetime.now(UTC)
    scope: dict[str, int] = {}
    with connect() as con:
        subject = resolve(con, request)
        pairs = {(kind, salted_hash(kind, value, salt)) for kind, value in subject.identifiers()}
        # identifiers named in the request are suppressed even if nothing matched them yet
        for kind, values in (("email", request.emails), ("phone", request.phones)):
            for v in values:
                norm = normalise(kind, v, s.default_phone_region)
                if norm:
                    pairs.add((kind, salted_hash(kind, norm, salt)))
        new = suppression.add(pairs, request_id)
        hashes = {h for _, h in pairs}
        _erase_raw(con, hashes, scope)
        _erase_downstream(con, subject, salt, scope)
        con.sql("checkpoint")
    _rewrite_warehouse(s.warehouse_path)
    mlflow_rows = scrub_mlflow_artifacts(s.mlflow_artifacts_dir, subject.customer_ids)
    scope.update({f"mlflow:{k}": v for k, v in mlflow_rows.items()})
    if republish:
        from pipelines.publish import publish_all

        publish_all(keep_previous=False)  # no earlier published version keeps the rows
    entry = {
        "request_id": request_id,
        "requested_at": requested_at.isoformat(),
        "completed_at": datetime.now(UTC).isoformat(),
        "subject_hash": salted_hash("subject", ",".join(sorted(subject.customer_ids)), salt),
        "customers": len(subject.customer_ids),
        "identifiers_suppressed": len(pairs),
        "new_suppression_entries": new,
        "republished": republish,
        "scope": scope,
    }
    log_erasure(entry)
    return entry


def read_requests(path: Path) -> list[ErasureRequest]:
    """A requests file: CSV with columns customer_id, email, phone (any may be blank)."""
    import csv

    out = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            req = ErasureRequest(
                customer_ids=[v for v in [(row.get("customer_id") or "").strip()] if v],
                emails=[v for v in [(row.get("email") or "").strip()] if v],
                phones=[v for v in [(row.get("phone") or "").strip()] if v],
            )
            if not req.empty():
                out.append(req)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customer-id", action="append", default=[])
    parser.add_argument("--email", action="append", default=[])
    parser.add_argument("--phone", action="append", default=[])
    parser.add_argument("--requests-file", type=Path,
                        help="CSV with columns customer_id,email,phone; deleted once done")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not republish the serving and restricted files")
    args = parser.parse_args(argv)
    requests = []
    if args.customer_id or args.email or args.phone:
        requests.append(ErasureRequest(args.customer_id, args.email, args.phone))
    if args.requests_file:
        requests += read_requests(args.requests_file)
    if not requests:
        parser.error("name a --customer-id, --email, --phone or a --requests-file")
    for i, req in enumerate(requests):
        entry = erase(req, republish=not args.no_publish and i == len(requests) - 1)
        print(json.dumps({k: entry[k] for k in ("request_id", "completed_at", "customers",
                                                "identifiers_suppressed")}))
        print(f"  rows erased: {sum(entry['scope'].values())} in {len(entry['scope'])} places")
    if args.requests_file:
        args.requests_file.unlink()  # it holds the erased values
    return 0


if __name__ == "__main__":
    sys.exit(main())
