"""Turn simulated weekly counts into dated activity: orders and their lines, tickets,
social interactions, and the campaigns (members, responses, conversion orders).

Everything is drawn in bulk with numpy; one generator per export (base or increment).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from pipelines.sample_data import pools
from pipelines.sample_data.behaviour import N_CATEGORIES, Events, Simulation, Traits
from pipelines.sample_data.people import Population
from pipelines.sample_data.records import DUP, GUEST, MAIN, SourceRecords
from pipelines.sample_data.text import pick
from pipelines.sample_data.timeline import DAY, Timeline

CURRENCIES = ("CNY", "HKD", "USD", "EUR", "GBP")
CNY_PER_UNIT = np.array([1.0, 0.92, 7.2, 7.8, 9.1])
PERSON_CURRENCY = np.array([0, 1, 2, 4, 3, 3])  # by country: CN HK US GB DE FR
STATUSES = ("paid", "refunded", "cancelled")
CHANNELS = ("web", "app", "pos")
TICKET_TYPES = ("Complaint", "Question", "Return", "Delivery", "Praise")


@dataclass
class Catalogue:
    sku: list[str]
    title: list[str]
    category: list[str]
    price_cny: np.ndarray  # sorted by price within each category


@cache
def catalogue() -> Catalogue:
    rng = np.random.default_rng(2024)  # fixed: the catalogue does not depend on the seed
    sku, title, category, price = [], [], [], []
    for name, code, lo, hi, nouns in pools.CATEGORIES:
        nouns = nouns.split("|")
        combos = [(a, b) for a in pools.PRODUCT_ADJECTIVES for b in nouns]
        chosen = rng.choice(len(combos), pools.SKUS_PER_CATEGORY, replace=False)
        prices = np.sort(np.exp(rng.uniform(np.log(lo), np.log(hi), pools.SKUS_PER_CATEGORY)))
        for i, (c, p) in enumerate(zip(chosen, prices, strict=True)):
            sku.append(f"{code}-{1001 + i}")
            title.append(f"{combos[c][0]} {combos[c][1]}")
            category.append(name)
            price.append(round(float(p), 0))
    return Catalogue(sku, title, category, np.array(price))


@dataclass
class Orders:
    person: np.ndarray
    ts: np.ndarray
    week: np.ndarray
    shop_row: np.ndarray  # row in records.shop (-1: anonymous store purchase)
    currency: np.ndarray
    channel: np.ndarray
    status: np.ndarray
    store: np.ndarray  # city index of the store for pos orders, else -1
    conversion: np.ndarray
    order_id: np.ndarray
    total_cents: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        return Orders(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                         for f in fields(Orders)})

    def take(self, idx: np.ndarray) -> Orders:
        return Orders(**{f.name: getattr(self, f.name)[idx] for f in fields(Orders)})


@dataclass
class Lines:
    order_row: np.ndarray
    line_number: np.ndarray
    sku: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray


def _times(rng, week: np.ndarray, lo: np.ndarray, tl: Timeline) -> np.ndarray:
    """Uniform time in [max(lo, week start), week end)."""
    start = np.maximum(tl.week_start(week), lo)
    end = tl.week_start(week + 1)
    return np.minimum(start + (rng.random(len(week)) * (end - start)).astype(np.int64), end - 1)


def regular_orders(ev: Events, pop: Population, tr: Traits, recs: SourceRecords,
                   tl: Timeline, rng: np.random.Generator) -> Orders:
    person, week = np.repeat(ev.person, ev.count), np.repeat(ev.week, ev.count)
    acq_week = week == tr.acq_week[person]
    ts = _times(rng, week, np.where(acq_week, tr.acq_ts[person], 0), tl)
    first = np.cumsum(ev.count) - ev.count  # first order of each (person, week)
    first = first[ev.week == tr.acq_week[ev.person]]
    ts[first] = tr.acq_ts[person[first]]  # the acquisition order itself
    # which shop record: guest-only people use their guest row; registered people their
    # account, or (after opening it) their second account half of the time.
    n = len(pop)
    main = recs.shop.lookup(n, MAIN)[person]
    dup = recs.shop.lookup(n, DUP)[person]
    guest = recs.shop.lookup(n, GUEST)[person]
    use_dup = (dup >= 0) & (ts >= recs.shop.created[np.maximum(dup, 0)]) & (rng.random(len(ts))
                                                                            < 0.5)
    row = np.where(pop.shop[person] == 2, guest, np.where(use_dup, dup, main))
    return _detail(person, ts, tl.week_of(ts), row, np.zeros(len(ts), bool), pop, rng)


def _detail(person, ts, week, row, conversion, pop: Population, rng) -> Orders:
    n = len(person)
    currency = PERSON_CURRENCY[pop.country[person]]
    currency = np.where((currency == 0) & (rng.random(n) < 0.03), 1, currency)
    channel = np.where(pop.is_cn[person], pick(rng, n, [0.35, 0.45, 0.2]),
                       pick(rng, n, [0.55, 0.25, 0.2]))
    channel = np.where(row < 0, 2, channel)
    store = np.where(channel == 2, pop.city[person], -1)
    status = pick(rng, n, [0.90, 0.06, 0.04])
    zeros = np.zeros(n, dtype=np.int64)
    return Orders(person, ts.astype(np.int64), week, row, currency, channel, status, store,
                  conversion, zeros, zeros.copy())


def assign_guest_checkouts(orders: Orders, pop: Population, recs: SourceRecords,
                           rng: np.random.Generator) -> None:
    """Registered people with a guest row check out as guest in one of their orders; the
    guest row is created then."""
    guest = recs.shop.lookup(len(pop), GUEST)
    want = np.flatnonzero(pop.shop_guest)
    sel = np.flatnonzero(pop.shop_guest[orders.person] & ~orders.conversion)
    if not len(sel):
        return
    order = sel[np.lexsort((orders.ts[sel], orders.person[sel]))]
    p = orders.person[order]
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    counts = np.diff(np.r_[starts, len(p)])
    chosen = order[starts + (rng.random(len(starts)) * counts).astype(int)]
    orders.shop_row[chosen] = guest[orders.person[chosen]]
    recs.shop.created[guest[orders.person[chosen]]] = orders.ts[chosen] - 30
    if not np.isin(want, orders.person[chosen]).all():
        raise RuntimeError("a registered customer's guest row has no order")


def number_orders(orders: Orders) -> Orders:
    """Sort by time; ids encode the week: 10,000,000 * (week + 100) + rank within the week."""
    orders = orders.take(np.lexsort((orders.person, orders.ts)))
    starts = np.flatnonzero(np.r_[True, orders.week[1:] != orders.week[:-1]])
    rank = np.arange(len(orders)) - np.repeat(starts, np.diff(np.r_[starts, len(orders)]))
    orders.order_id = 10_000_000 * (orders.week + 100) + rank + 1
    return orders


def order_lines(orders: Orders, tr: Traits, rng: np.random.Generator) -> Lines:
    """1-5 lines per order (2.44 on average); categories follow the person's affinity,
    products within a category follow the person's price level; prices in the order
    currency."""
    cat_ = catalogue()
    n_lines = pick(rng, len(orders), [0.3, 0.28, 0.2, 0.12, 0.1]) + 1
    row = np.repeat(np.arange(len(orders)), n_lines)
    person = orders.person[row]
    category = np.empty(len(row), dtype=np.int64)
    u = rng.random(len(row)).astype(np.float32)
    for lo in range(0, len(row), 1_000_000):  # (rows x 12) comparisons, in chunks
        hi = lo + 1_000_000
        category[lo:hi] = (tr.affinity[person[lo:hi]] < u[lo:hi, None]).sum(axis=1)
    category = np.minimum(category, N_CATEGORIES - 1)
    level = 1 / (1 + np.exp(-1.7 * (tr.spend[person] + 0.7 * rng.normal(0, 1, len(row)))))
    per = pools.SKUS_PER_CATEGORY
    sku = category * per + np.minimum((level * per).astype(int), per - 1)
    quantity = pick(rng, len(row), [0.82, 0.13, 0.05]) + 1
    currency = orders.currency[row]
    price = cat_.price_cny[sku] / CNY_PER_UNIT[currency]
    price = np.where(rng.random(len(row)) < 0.12, price * 0.8, price)  # promotions
    whole = currency <= 1  # CNY, HKD: whole units; others: x.99
    unit_cents = np.where(whole, np.maximum(np.round(price), 1) * 100,
                          np.ceil(price) * 100 - 1).astype(np.int64)
    starts = np.cumsum(n_lines) - n_lines
    line_number = np.arange(len(row)) - np.repeat(starts, n_lines) + 1
    orders.total_cents = np.bincount(row, weights=quantity * unit_cents,
                                     minlength=len(orders)).round().astype(np.int64)
    return Lines(row, line_number, sku, quantity, unit_cents)


@dataclass
class Tickets:
    person: np.ndarray
    crm_row: np.ndarray
    type: np.ndarray  # index into TICKET_TYPES
    opened: np.ndarray
    closed: np.ndarray  # -1: still open
    priority: np.ndarray  # Low Medium High
    channel: np.ndarray  # Phone Email WeChat Web
    number: np.ndarray


def tickets(complaints: Events, other: Events, pop: Population, tr: Traits,
            recs: SourceRecords, tl: Timeline, export_end: int, first_number: int,
            rng: np.random.Generator) -> Tickets:
    person = np.r_[np.repeat(complaints.person, complaints.count),
                   np.repeat(other.person, other.count)]
    week = np.r_[np.repeat(complaints.week, complaints.count), np.repeat(other.week, other.count)]
    n_comp = int(complaints.count.sum())
    n = len(person)
    other_kind = pick(rng, n - n_comp, [0.4, 0.2, 0.25, 0.15]) + 1  # Question .. Praise
    kind = np.r_[np.zeros(n_comp, dtype=np.int64), other_kind]
    opened = _times(rng, week, tr.crm_ts[person] + 3600, tl)
    main = recs.crm.lookup(len(pop), MAIN)[person]
    dup = recs.crm.lookup(len(pop), DUP)[person]
    use_dup = (dup >= 0) & (rng.random(n) < 0.2)
    use_dup &= opened > recs.crm.created[np.maximum(dup, 0)]
    crm_row = np.where(use_dup, dup, main)
    closed = opened + (np.exp(rng.normal(np.log(20), 1.0, n)) * 3600).astype(np.int64)
    still_open = (closed > export_end) | (rng.random(n) < 0.02)
    closed = np.where(still_open, -1, closed)
    priority = np.where(kind == 0, pick(rng, n, [0.1, 0.5, 0.4]), pick(rng, n, [0.5, 0.45, 0.05]))
    channel = np.where(pop.is_cn[person], pick(rng, n, [0.3, 0.15, 0.4, 0.15]),
                       pick(rng, n, [0.3, 0.45, 0.0, 0.25]))
    order = np.lexsort((person, opened))
    t = Tickets(person, crm_row, kind, opened, closed, priority, channel,
                np.zeros(n, dtype=np.int64))
    t = Tickets(*(getattr(t, f.name)[order] for f in fields(Tickets)))
    t.number = first_number + np.arange(n)
    return t


@dataclass
class Interactions:
    person: np.ndarray
    social_row: np.ndarray
    type: np.ndarray  # like comment share mention message
    ts: np.ndarray
    sentiment: np.ndarray  # positive neutral negative
    number: np.ndarray


def interactions(ev: Events, pop: Population, tr: Traits, recs: SourceRecords, tl: Timeline,
                 first_number: int, rng: np.random.Generator) -> Interactions:
    person, week = np.repeat(ev.person, ev.count), np.repeat(ev.week, ev.count)
    mood = np.repeat(ev.flag, ev.count)
    n = len(person)
    social = recs.social
    a = np.full(len(pop), -1)
    b = np.full(len(pop), -1)
    first_slot = pop.platform_a[social.person] == social.kind
    a[social.person[first_slot]] = np.flatnonzero(first_slot)
    b[social.person[~first_slot]] = np.flatnonzero(~first_slot)
    use_b = (b[person] >= 0) & (rng.random(n) < 0.35)
    row = np.where(use_b, b[person], a[person])
    ts = _times(rng, week, tr.social_ts[person] + 60, tl)
    kind = pick(rng, n, [0.45, 0.2, 0.1, 0.15, 0.1])
    sentiment = np.where(mood, pick(rng, n, [0.15, 0.35, 0.5]), pick(rng, n, [0.5, 0.38, 0.12]))
    order = np.lexsort((person, ts))
    return Interactions(person[order], row[order], kind[order], ts[order], sentiment[order],
                        first_number + np.arange(n))


@dataclass
class Campaigns:
    id: list[str]
    name: list[str]
    channel: list[str]
    uplift_response: np.ndarray
    uplift_conversion: np.ndarray
    member_campaign: np.ndarray
    member_crm_row: np.ndarray
    treatment: np.ndarray
    sent: np.ndarray  # -1 for control
    responded: np.ndarray  # -1 when none
    converted: np.ndarray  # -1 when none
    cost_cents: np.ndarray


COST_CENTS = {"Email": 3, "SMS": 5, "WeChat": 10}


def campaigns(pop: Population, tr: Traits, sim: Simulation, recs: SourceRecords, tl: Timeline,
              seed: int, n_campaigns: int = 8) -> Campaigns:
    """Campaigns over the base period; each targets a random share of the CRM contacts that
    exist when it is sent, split 50/50 or 80/20 into treatment and control. Treatment adds a
    true uplift to the response and conversion probabilities (zero for some campaigns).
    Converting needs the person to be still active (not dropped out) when buying."""
    rng = np.random.default_rng([seed, 6])
    weeks = np.linspace(6, tl.weeks - 7, n_campaigns).round().astype(int)
    end = tl.end_of_week(tl.weeks - 1)
    mean_lam = max(float(tr.lam.mean()), 1e-9)
    f = np.minimum(tr.lam / mean_lam, 3.0)  # baseline conversion follows the purchase rate
    h = np.clip(tr.lam / mean_lam, 0.3, 2.0)  # and so does the uplift
    crm = recs.crm
    out: dict[str, list] = {k: [] for k in ("campaign", "row", "treat", "sent", "resp", "conv",
                                            "cost")}
    ids, names, chans, up_r, up_c = [], [], [], [], []
    zero = rng.choice(n_campaigns, max(1, n_campaigns // 4), replace=False)
    for c, week in enumerate(weeks):
        send = int(tl.week_start(week)) + int(rng.integers(1, 4)) * DAY + 2 * 3600
        channel = ("Email", "SMS", "WeChat")[int(pick(rng, 1, [0.5, 0.25, 0.25])[0])]
        theme = pools.CAMPAIGN_THEMES[tl.monday(week).month - 1]
        ids.append(f"701A{c + 1:08d}")
        names.append(f"{tl.monday(week):%Y-%m} {theme} ({channel})")
        chans.append(channel)
        split = 0.5 if rng.random() < 0.5 else 0.8
        r0, q0 = rng.uniform(0.04, 0.15), rng.uniform(0.01, 0.04)
        ur, uq = (0.0, 0.0) if c in zero else (rng.uniform(0.02, 0.08), rng.uniform(0.01, 0.05))
        eligible = crm.created < send
        if channel == "WeChat":
            eligible &= pop.is_cn[crm.person]
        rows = np.flatnonzero(eligible & (rng.random(len(crm)) < rng.uniform(0.15, 0.35)))
        m = len(rows)
        person = crm.person[rows]
        treat = rng.random(m) < split
        sent = np.where(treat, send + rng.integers(0, 3 * 3600, m), -1)
        responded = rng.random(m) < r0 + ur * treat
        resp_ts = np.where(responded, send + rng.integers(3600, 7 * DAY, m), -1)
        conv_ts = send + rng.integers(DAY, 30 * DAY, m)
        drop = sim.dropout_week[person]
        active = (drop < 0) | (drop >= tl.week_of(conv_ts))
        converted = active & (rng.random(m) < q0 * f[person] + uq * h[person] * treat)
        up_r.append(ur)
        up_c.append(float(np.mean(uq * h[person] * active)) if m else 0.0)
        for key, val in (("campaign", np.full(m, c)), ("row", rows), ("treat", treat),
                         ("sent", sent), ("resp", resp_ts),
                         ("conv", np.where(converted, np.minimum(conv_ts, end), -1)),
                         ("cost", np.where(treat, COST_CENTS[channel], 0))):
            out[key].append(val)
    cat = {k: np.concatenate(v) for k, v in out.items()}
    return Campaigns(ids, names, chans, np.array(up_r), np.array(up_c), cat["campaign"],
                     cat["row"], cat["treat"], cat["sent"], cat["resp"], cat["conv"],
                     cat["cost"])


def conversion_orders(camp: Campaigns, pop: Population, tr: Traits, recs: SourceRecords,
                      tl: Timeline, rng: np.random.Generator) -> Orders:
    """One order per conversion, on the shop account the person had then (a store purchase
    without a customer when they had none)."""
    done = camp.converted >= 0
    person = recs.crm.person[camp.member_crm_row[done]]
    ts = camp.converted[done]
    main = recs.shop.lookup(len(pop), MAIN)[person]
    guest = recs.shop.lookup(len(pop), GUEST)[person]
    row = np.where(pop.shop[person] == 2, guest, main)
    opened = np.where(row >= 0, recs.shop.created[np.maximum(row, 0)], 0)
    row = np.where((row >= 0) & (opened <= ts) & (tr.acq_ts[person] <= ts), row, -1)
    return _detail(person, ts, tl.week_of(ts), row, np.ones(len(ts), bool), pop, rng)
