"""The identity step between staging and marts: read standardised records, cluster them,
keep customer ids stable, write `identity.*`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines.identity.deterministic import IDENTIFIER_KINDS, RECORD_KEY, Guards, cluster
from pipelines.identity.stable_ids import assign_ids
from pipelines.warehouse import table_exists

INPUT = "staging.int_customer_records_unioned"


@dataclass(frozen=True)
class IdentityResult:
    records: int
    customers: int
    demoted_identifiers: int
    events: dict[str, int]
    match_rules: dict[str, int]


def resolve(con, guards: Guards | None = None) -> IdentityResult:
    cols = ", ".join(RECORD_KEY + ["name_key", "is_role_mailbox", *IDENTIFIER_KINDS])
    records = con.sql(f"select {cols} from {INPUT} order by source_system, source_record_id").df()
    clusters, demoted = cluster(records, guards or Guards())
    previous = None
    if table_exists(con, "identity", "customer_map"):
        previous = con.sql(
            "select source_system, source_record_id, customer_id, first_seen_at "
            "from identity.customer_map"
        ).df()
    mapped, events = assign_ids(clusters, previous)
    if previous is not None:
        mapped = mapped.merge(previous[RECORD_KEY + ["first_seen_at"]], on=RECORD_KEY, how="left")
    else:
        mapped["first_seen_at"] = pd.NaT
    con.register("_mapped", mapped[RECORD_KEY + ["customer_id", "match_rule", "first_seen_at"]])
    con.register("_events", events)
    con.register("_demoted", demoted)
    con.sql("begin transaction")
    try:
        con.sql(
            "create or replace table identity.customer_map as "
            "select source_system, source_record_id, customer_id, match_rule, "
            "coalesce(cast(first_seen_at as timestamptz), now()) as first_seen_at, "
            "now() as resolved_at from _mapped"
        )
        con.sql(
            "create table if not exists identity.id_events (event_at timestamptz, "
            "event_type varchar, customer_id varchar, other_customer_id varchar)"
        )
        con.sql(
            "insert into identity.id_events select now(), event_type, customer_id, "
            "other_customer_id from _events"
        )
        con.sql(
            "create or replace table identity.demoted_identifiers as "
            "select kind, value, records, reason, now() as demoted_at from _demoted"
        )
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    finally:
        for name in ("_mapped", "_events", "_demoted"):
            con.unregister(name)
    return IdentityResult(
        records=len(mapped),
        customers=int(mapped["customer_id"].nunique()),
        demoted_identifiers=len(demoted),
        events=events["event_type"].value_counts().to_dict(),
        match_rules=mapped["match_rule"].value_counts().to_dict(),
    )
