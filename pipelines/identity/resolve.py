"""The identity step between staging and marts: read standardised records, link and cluster
them with guards, keep customer ids stable, write `identity.*`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipelines.identity.deterministic import RECORD_KEY, Guards, cluster
from pipelines.identity.stable_ids import assign_ids, update_aliases
from pipelines.warehouse import table_exists

INPUT = "staging.int_customer_records_unioned"
# A matcher gets the records (positional index) and returns (links, review candidates), both
# with columns left, right, rule, strength (match probability).
Matcher = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass(frozen=True)
class IdentityResult:
    records: int
    customers: int
    demoted_identifiers: int
    review_queue: int
    events: dict[str, int]
    match_rules: dict[str, int]


def _pairs_with_keys(pairs: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    keys = records[RECORD_KEY]
    out = pairs.reset_index(drop=True)
    for side in ("left", "right"):
        k = keys.iloc[out[side].to_numpy()].reset_index(drop=True)
        out[f"{side}_source_system"] = k["source_system"]
        out[f"{side}_source_record_id"] = k["source_record_id"]
    return out


def _previous(con, table: str, columns: str) -> pd.DataFrame | None:
    if not table_exists(con, "identity", table):
        return None
    return con.sql(f"select {columns} from identity.{table}").df()


def resolve(con, guards: Guards | None = None, matcher: Matcher | None = None) -> IdentityResult:
    records = con.sql(f"select * from {INPUT} order by source_system, source_record_id").df()
    links, candidates = (matcher(records) if matcher else (None, None))
    clusters, demoted, refused = cluster(records, guards or Guards(), extra_edges=links)
    previous = _previous(con, "customer_map",
                         "source_system, source_record_id, customer_id, first_seen_at")
    mapped, events = assign_ids(clusters, previous)
    if previous is not None:
        mapped = mapped.merge(previous[RECORD_KEY + ["first_seen_at"]], on=RECORD_KEY, how="left")
    else:
        mapped["first_seen_at"] = pd.NaT
    aliases = _previous(con, "customer_aliases", "alias_customer_id, customer_id")
    aliases = update_aliases(
        aliases if aliases is not None else pd.DataFrame(
            columns=["alias_customer_id", "customer_id"]), events)
    review = refused
    if candidates is not None and len(candidates):
        review = pd.concat([refused, candidates.assign(reason="near_match_threshold")],
                           ignore_index=True)
    review = _pairs_with_keys(review, records) if len(review) else review

    tables = {"_mapped": mapped[RECORD_KEY + ["customer_id", "match_rule", "first_seen_at"]],
              "_events": events, "_demoted": demoted, "_aliases": aliases,
              "_review": review.reindex(columns=[
                  "left_source_system", "left_source_record_id", "right_source_system",
                  "right_source_record_id", "rule", "strength", "reason"])}
    for name, frame in tables.items():
        con.register(name, frame)
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
            "event_type varchar, customer_id varchar, other_customer_id varchar, reason varchar)"
        )
        con.sql("alter table identity.id_events add column if not exists reason varchar")
        con.sql("insert into identity.id_events select now(), event_type, customer_id, "
                "other_customer_id, reason from _events")
        con.sql("create or replace table identity.customer_aliases as "
                "select alias_customer_id, customer_id from _aliases")
        con.sql(
            "create or replace table identity.demoted_identifiers as "
            "select kind, value, records, reason, now() as demoted_at from _demoted"
        )
        con.sql(
            "create or replace table identity.review_queue as select "
            "cast(left_source_system as varchar) as left_source_system, "
            "cast(left_source_record_id as varchar) as left_source_record_id, "
            "cast(right_source_system as varchar) as right_source_system, "
            "cast(right_source_record_id as varchar) as right_source_record_id, "
            "cast(rule as varchar) as rule, cast(strength as double) as match_strength, "
            "cast(reason as varchar) as reason, now() as queued_at from _review"
        )
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise
    finally:
        for name in tables:
            con.unregister(name)
    return IdentityResult(
        records=len(mapped),
        customers=int(mapped["customer_id"].nunique()),
        demoted_identifiers=len(demoted),
        review_queue=len(review),
        events=events["event_type"].value_counts().to_dict(),
        match_rules=mapped["match_rule"].value_counts().to_dict(),
    )
