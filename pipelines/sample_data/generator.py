"""Orchestration: derive the world from the seed, write the base export or one increment,
and the ground truth.

`generate` writes `weeks` weeks ending on `end_date`; `generate_increment` writes the week
after the last export found under `out_dir` (re-deriving people and behaviour from the
seed, so it stays consistent with the base files without reading them).
"""

from __future__ import annotations

import re
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.progress import Progress
from pipelines.sample_data import activity as act
from pipelines.sample_data import exports as ex
from pipelines.sample_data import mess
from pipelines.sample_data.behaviour import make_traits, simulate
from pipelines.sample_data.people import (
    Population,
    build_population,
    mobile_numbers,
    street_text,
)
from pipelines.sample_data.records import MAIN, build_records
from pipelines.sample_data.text import pick, where
from pipelines.sample_data.timeline import Timeline
from pipelines.sample_data.writers import (
    break_line,
    json_lines,
    json_raw,
    json_str,
    write_csv,
    write_jsonl,
    write_parquet,
)

FILES = {
    "contacts": ("crm/contacts", "csv"),
    "tickets": ("crm/tickets", "csv"),
    "campaign_members": ("crm/campaign_members", "csv"),
    "customers": ("shop/customers", "csv"),
    "orders": ("shop/orders", "jsonl"),
    "order_lines": ("shop/order_lines", "parquet"),
    "profiles": ("social/profiles", "jsonl"),
    "interactions": ("social/interactions", "csv"),
}
# people, weekly simulation, source records, activity, the 8 exports, truth
GENERATE_STAGES = 4 + len(FILES) + 1
NEW_PEOPLE_SHARE = 0.002  # new people per increment week, relative to the base population
UPDATED_CONTACTS_SHARE = 0.003  # base contacts updated per increment week


def new_people(customers: int, seed: int, increment: int) -> int:
    rng = np.random.default_rng([seed, 90, increment])
    return max(1, int(round(customers * NEW_PEOPLE_SHARE * rng.uniform(0.7, 1.3))))


def derive(customers: int, seed: int, end_date: date, weeks: int, increments: int,
           log: Progress) -> ex.World:
    if customers < 1 or weeks < 15:
        raise ValueError("need at least 1 customer and 15 weeks")
    tl = Timeline(end_date, weeks)
    parts = [build_population(customers, seed, 0, 0, end_date)]
    for k in range(1, increments + 1):
        prior = Population.concat(parts)
        parts.append(build_population(new_people(customers, seed, k), seed, k, len(prior),
                                      end_date, prior=prior))
    pop = Population.concat(parts)
    log("people", len(pop))
    tr = make_traits(pop, seed, tl)
    sim = simulate(pop, tr, seed, tl, weeks + increments)
    log("weekly simulation", int(sim.purchases.count.sum()))
    recs = build_records(pop, tr, seed, tl)
    log("source records", len(recs.crm) + len(recs.shop) + len(recs.social))
    return ex.World(seed, tl, pop, tr, sim, recs)


class Writer:
    """Writes the files of one export date and collects counts and the person map."""

    def __init__(self, out_dir: Path, export: date, log: Progress) -> None:
        self.out, self.tag, self.log = Path(out_dir), f"{export:%Y%m%d}", log
        self.year = export.year
        self.counts: dict[str, dict[str, int]] = {}
        self.person_map: list[pd.DataFrame] = []

    def rng(self, w: ex.World, key: int) -> np.random.Generator:
        """A generator for this export date (malformed rows differ from file to file)."""
        return w.rng(key, int(self.tag))

    def path(self, entity: str) -> Path:
        folder, ext = FILES[entity]
        return self.out / "landing" / folder / f"{entity}_{self.tag}.{ext}"

    def record(self, entity: str, rows: int, malformed: int) -> None:
        rel = self.path(entity).relative_to(self.out).as_posix()
        self.counts[rel] = {"rows": rows, "malformed": malformed}
        self.log(entity, rows)

    def csv(self, entity: str, columns: dict[str, pa.Array], rng, breakers, delimiter=",",
            encoding="utf-8") -> dict[str, pa.Array]:
        if not len(next(iter(columns.values()))):
            return columns
        columns, bad = mess.corrupt(columns, rng, breakers)
        n = write_csv(self.path(entity), columns, delimiter, encoding)
        self.record(entity, n, len(bad))
        return columns

    def jsonl(self, entity: str, columns: dict[str, pa.Array], raw: set[str], rng,
              breakers) -> dict[str, pa.Array]:
        if not len(next(iter(columns.values()))):
            return columns
        columns, bad = mess.corrupt(columns, rng, breakers, extra=1)
        encoded = {k: json_raw(v) if k in raw else json_str(v) for k, v in columns.items()}
        lines = json_lines(encoded)
        if len(bad):
            lines = break_line(lines, int(bad[-1]))
        self.record(entity, write_jsonl(self.path(entity), lines), len(bad))
        return columns

    def people(self, system: str, keys: pa.Array, person: np.ndarray, pop: Population) -> None:
        keep = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(keys), ""), False)
        keep = keep.to_numpy(zero_copy_only=False)
        self.person_map.append(pd.DataFrame({
            "source_system": system,
            "source_record_id": keys.filter(pa.array(keep)).to_numpy(zero_copy_only=False),
            "person_id": pop.person_id.take(pa.array(person[keep])).to_numpy(
                zero_copy_only=False),
        }))


def _bad_ts(year: int, suffix: str) -> list[str | None]:
    return mess.bad_dates(year, suffix)[:3]


def _write_contacts(wr: Writer, w: ex.World, columns, person) -> None:
    y = wr.year
    columns = wr.csv("contacts", columns, wr.rng(w, 50), [
        ("Contact ID", [None]), ("Birthdate", mess.bad_dates(y)),
        ("Created Date", _bad_ts(y, "T09:30:00.000Z")),
    ], encoding="utf-8-sig")
    wr.people("crm", columns["Contact ID"], person, w.pop)


def _write_customers(wr: Writer, w: ex.World, rows: np.ndarray) -> None:
    columns = ex.shop_customers(w, rows, wr.rng(w, 22))
    columns = wr.csv("customers", columns, wr.rng(w, 51), [
        ("Customer ID", [None]), ("Created At", _bad_ts(wr.year, " 10:00:00 +0800")),
    ])
    wr.people("shop", columns["Customer ID"], w.recs.shop.person[rows], w.pop)


def _write_profiles(wr: Writer, w: ex.World, rows: np.ndarray) -> None:
    columns = ex.social_profiles(w, rows, wr.rng(w, 23))
    raw = {"followers", "created_time", "messaging_opt_in", "opt_in_time"}
    columns = wr.jsonl("profiles", columns, raw, wr.rng(w, 52), [
        ("profile_id", [None, ""]), ("followers", ['"N/A"', '"12k"']),
        ("created_time", ['"N/A"']),
    ])
    wr.people("social", columns["profile_id"], w.recs.social.person[rows], w.pop)


def _write_activity(wr: Writer, w: ex.World, orders: act.Orders, tickets: act.Tickets,
                    inter: act.Interactions, rng: np.random.Generator) -> None:
    y = wr.year
    lines = act.order_lines(orders, w.tr, rng)
    wr.jsonl("orders", ex.orders(w, orders, rng), {"id"}, wr.rng(w, 53), [
        ("id", [None]), ("created_at", _bad_ts(y, "T10:00:00+08:00")),
        ("total_price", ["N/A", "12,50", "abc"]),
    ])
    if len(lines.sku):
        table, bad = ex.order_lines(orders, lines, wr.rng(w, 54))
        wr.record("order_lines", write_parquet(wr.path("order_lines"), table), bad)
    wr.csv("tickets", ex.tickets(w, tickets, rng), wr.rng(w, 55), [
        ("Case Number", [None]), ("Opened Date", _bad_ts(y, " 10:00:00")),
    ], encoding="gb18030")
    wr.csv("interactions", ex.interactions(w, inter), wr.rng(w, 56), [
        ("interaction_id", [None]), ("timestamp", _bad_ts(y, "T10:00:00Z")),
        ("profile_id", [None]),
    ], delimiter=";")


def _persons(w: ex.World, week: int) -> pd.DataFrame:
    """Truth about every person as of the end of `week`."""
    drop = w.sim.dropout_week
    ended = (drop >= 0) & (drop <= week)
    comp = w.sim.complaints.weeks(0, week + 1)
    complaints = np.bincount(comp.person, weights=comp.count, minlength=len(w.pop))
    mondays = np.datetime64(w.tl.start_date, "D") + np.maximum(drop, 0) * 7
    return pd.DataFrame({
        "person_id": w.pop.person_id.to_numpy(zero_copy_only=False),
        "is_chinese": np.where(w.pop.is_cn, "true", "false"),
        "purchase_rate": np.round(w.tr.lam, 6),
        "dropout_week": np.where(ended, mondays.astype(str), ""),
        "complaints": complaints.astype(np.int64),
        "social_engagement": np.round(w.tr.eta, 6),
    })


def _write_truth(out: Path, name: str, frame: pd.DataFrame, counts: dict) -> None:
    path = Path(out) / "truth" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    counts[path.relative_to(out).as_posix()] = {"rows": len(frame), "malformed": 0}


def generate(out_dir: Path, customers: int, seed: int, end_date: date, weeks: int = 104
             ) -> dict:
    """Write the base export (`weeks` weeks ending on `end_date`) and the ground truth under
    `out_dir`. Returns {relative path: {'rows': n, 'malformed': m}} (malformed: rows broken
    on purpose, which the loader should quarantine). A file that would have no rows (tiny
    populations) is not written."""
    out_dir = Path(out_dir)
    log = Progress("sample_data", GENERATE_STAGES)
    w = derive(customers, seed, end_date, weeks, 0, log)
    tl, pop, tr, recs = w.tl, w.pop, w.tr, w.recs
    rng = w.rng(20)
    orders = act.regular_orders(w.sim.purchases, pop, tr, recs, tl, rng)
    camp = act.campaigns(pop, tr, w.sim, recs, tl, w.seed)
    orders = act.Orders.concat([orders, act.conversion_orders(camp, pop, tr, recs, tl, rng)])
    act.assign_guest_checkouts(orders, pop, recs, rng)
    orders = act.number_orders(orders)
    end = tl.end_of_week(weeks - 1)
    tickets = act.tickets(w.sim.complaints, w.sim.tickets, pop, tr, recs, tl, end, 1, rng)
    inter = act.interactions(w.sim.interactions, pop, tr, recs, tl, 1, rng)
    log("activity", len(orders) + len(tickets.person) + len(inter.person))

    wr = Writer(out_dir, end_date, log)
    rows = np.arange(len(recs.crm))
    _write_contacts(wr, w, ex.crm_contacts(w, rows, end, w.rng(21)), recs.crm.person)
    _write_customers(wr, w, np.arange(len(recs.shop)))
    _write_profiles(wr, w, np.arange(len(recs.social)))
    _write_activity(wr, w, orders, tickets, inter, rng)
    members = ex.campaign_members(w, camp)
    news = ex.newsletter_members(w, end, w.rng(58))
    members = {h: pa.concat_arrays([v.cast(pa.string()), news[h].cast(pa.string())])
               for h, v in members.items()}
    wr.csv("campaign_members", members, wr.rng(w, 57), [
        ("Contact ID", [None]), ("Cost", ["N/A", "abc"]),
        ("Sent Date", _bad_ts(wr.year, "T10:00:00Z")),
    ])
    counts = dict(wr.counts)
    _write_truth(out_dir, "person_map.csv", pd.concat(wr.person_map, ignore_index=True), counts)
    _write_truth(out_dir, "persons.csv", _persons(w, weeks - 1), counts)
    _write_truth(out_dir, "campaign_uplift.csv", pd.DataFrame({
        "campaign_id": camp.id,
        "true_uplift_response": np.round(camp.uplift_response, 6),
        "true_uplift_conversion": np.round(camp.uplift_conversion, 6),
    }), counts)
    log("truth", len(pop))
    log.close()
    sys.stderr.write(f"[sample_data] done in {time.perf_counter() - log.t0:.1f} s\n")
    return counts


def latest_increment(out_dir: Path, end_date: date) -> int:
    """Number of weeks after `end_date` already exported under `out_dir`."""
    dates = [
        date(int(m[1]), int(m[2]), int(m[3]))
        for p in (Path(out_dir) / "landing").rglob("*_*.*")
        if (m := re.search(r"_(\d{4})(\d{2})(\d{2})\.\w+$", p.name))
    ]
    later = [(d - end_date).days // 7 for d in dates if d > end_date]
    return max(later, default=0)


def generate_increment(out_dir: Path, customers: int, seed: int, end_date: date,
                       weeks: int = 104, increment: int | None = None) -> dict:
    """Write one more week after the base export ending `end_date` (by default the week
    after the latest export found under `out_dir`): orders, lines, tickets and interactions
    of that week, the week's new people, and updates of some existing CRM contacts. The
    truth files are updated. Returns counts like `generate`."""
    out_dir = Path(out_dir)
    k = increment if increment is not None else latest_increment(out_dir, end_date) + 1
    if k < 1:
        raise ValueError("increment numbers start at 1")
    log = Progress("sample_data")
    w = derive(customers, seed, end_date, weeks, k, log)
    tl, pop, tr, recs, sim = w.tl, w.pop, w.tr, w.recs, w.sim
    week = weeks + k - 1
    rng = w.rng(30, k)
    orders = act.regular_orders(sim.purchases.weeks(week, week + 1), pop, tr, recs, tl, rng)
    orders = act.number_orders(orders)
    before = sim.complaints.weeks(0, week).count.sum() + sim.tickets.weeks(0, week).count.sum()
    tickets = act.tickets(sim.complaints.weeks(week, week + 1), sim.tickets.weeks(week, week + 1),
                          pop, tr, recs, tl, tl.end_of_week(week), int(before) + 1, rng)
    inter = act.interactions(sim.interactions.weeks(week, week + 1), pop, tr, recs, tl,
                             int(sim.interactions.weeks(0, week).count.sum()) + 1, rng)
    log("activity", len(orders) + len(tickets.person) + len(inter.person))

    wr = Writer(out_dir, tl.export_date(week), log)
    new_crm = np.flatnonzero(recs.crm.cohort == k)
    columns = ex.crm_contacts(w, new_crm, tl.end_of_week(week), w.rng(24, k))
    updated, changes = _contact_updates(w, k, week)
    columns = {h: pa.concat_arrays([columns[h], changes[h]]) for h in columns}
    _write_contacts(wr, w, columns, np.r_[recs.crm.person[new_crm], recs.crm.person[updated]])
    _write_customers(wr, w, np.flatnonzero(recs.shop.cohort == k))
    _write_profiles(wr, w, np.flatnonzero(recs.social.cohort == k))
    _write_activity(wr, w, orders, tickets, inter, rng)

    counts = dict(wr.counts)
    map_path = out_dir / "truth" / "person_map.csv"
    frames = [pd.read_csv(map_path, dtype=str, keep_default_na=False)] if map_path.exists() else []
    person_map = pd.concat(frames + wr.person_map, ignore_index=True)
    person_map = person_map.drop_duplicates(["source_system", "source_record_id"])
    _write_truth(out_dir, "person_map.csv", person_map, counts)
    _write_truth(out_dir, "persons.csv", _persons(w, week), counts)
    log("truth", len(pop))
    log.close()
    sys.stderr.write(f"[sample_data] increment {k} done in {time.perf_counter() - log.t0:.1f} s\n")
    return counts


def _contact_updates(w: ex.World, k: int, week: int) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Base contacts changed during increment week `k`: a new email, a new mobile, a
    corrected address or an opt-out, with a new Last Modified Date. Each contact changes in
    at most one increment (consecutive slices of one fixed permutation)."""
    crm, tl = w.recs.crm, w.tl
    base = np.flatnonzero((crm.cohort == 0) & (crm.kind == MAIN))
    m = max(1, int(round(len(base) * UPDATED_CONTACTS_SHARE)))
    rows = np.sort(w.rng(40).permutation(base)[(k - 1) * m: k * m])
    # the rows exactly as the base export wrote them (same rows, same generator)
    full = ex.crm_contacts(w, np.flatnonzero(crm.cohort == 0), tl.end_of_week(tl.weeks - 1),
                           w.rng(21))
    cols = {h: v.take(pa.array(rows)) for h, v in full.items()}
    rng = w.rng(41, k)
    n, p = len(rows), crm.person[rows]
    change = pick(rng, n, [0.35, 0.25, 0.25, 0.15])
    pop = w.pop
    personal = pop.email.take(pa.array(p))
    cols["Email"] = where(change == 0, ex.alias_email(personal, rng.random((n, 2)), pop.email),
                          cols["Email"])
    new_mobile = mess.phone_text(mobile_numbers(rng, pop.country[p], pop.city[p]),
                                 pop.country[p], rng)
    cols["Mobile"] = where(change == 1, new_mobile, cols["Mobile"])
    street = street_text(pop, p, np.zeros(n, bool), np.zeros(n, np.int64))
    cols["Mailing Street"] = where(change == 2, street, cols["Mailing Street"])
    cols["Mailing Zip/Postal Code"] = where(change == 2, pop.postcode.take(pa.array(p)),
                                            cols["Mailing Zip/Postal Code"])
    cols["Email Opt Out"] = where(change == 3, "true", cols["Email Opt Out"])
    modified = tl.week_start(week) + rng.integers(0, 7 * 86_400, n)
    cols["Last Modified Date"] = ex.iso_z(modified, millis=True)
    cols["Consent Updated Date"] = where(change == 3, cols["Last Modified Date"],
                                         cols["Consent Updated Date"])
    return rows, cols
