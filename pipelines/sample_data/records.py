"""Source customer records: which person holds which CRM contact, shop customer or social
profile, with its key and creation time.

Keys are numbered cohort by cohort (base first, then each increment's new people), so the
base keys never depend on the increments. Within a cohort, CRM and registered shop keys
follow creation time, like the vendors' sequential ids.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from pipelines.sample_data.behaviour import Traits
from pipelines.sample_data.people import PLATFORMS, Population
from pipelines.sample_data.text import cat, num, take
from pipelines.sample_data.timeline import DAY, Timeline

MAIN, DUP, GUEST = 0, 1, 2
PROFILE_PREFIX = ("wb", "wx", "ig", "x")


@dataclass
class Records:
    person: np.ndarray
    kind: np.ndarray  # crm: MAIN/DUP; shop: MAIN/DUP/GUEST; social: platform index
    key: pa.Array
    created: np.ndarray  # epoch seconds
    cohort: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    @staticmethod
    def concat(parts: list[Records]) -> Records:
        return Records(**{
            f.name: (pa.concat_arrays([getattr(p, f.name) for p in parts]) if f.name == "key"
                     else np.concatenate([getattr(p, f.name) for p in parts]))
            for f in fields(Records)
        })

    def lookup(self, n_people: int, kind: int) -> np.ndarray:
        """Row of each person's record of `kind` (-1 when none)."""
        row = np.full(n_people, -1)
        sel = np.flatnonzero(self.kind == kind)
        row[self.person[sel]] = sel
        return row


@dataclass
class SourceRecords:
    crm: Records
    shop: Records
    social: Records


def _order(person, kind, created, cohort, key_fn, by_time: bool) -> Records:
    order = np.lexsort((kind, person, created)) if by_time else np.lexsort((kind, person))
    person, kind, created = person[order], kind[order], created[order]
    return Records(person, kind, key_fn(np.arange(len(person)), kind), created.astype(np.int64),
                   np.full(len(person), cohort))


def build_records(pop: Population, tr: Traits, seed: int, tl: Timeline) -> SourceRecords:
    crm, shop, social = [], [], []
    seq = {"crm": 0, "shop": 0, "guest": 0, **{p: 0 for p in PLATFORMS}}
    base_end = tl.end_of_week(tl.weeks - 1)
    for cohort in np.unique(pop.cohort):
        sel = np.flatnonzero(pop.cohort == cohort)
        rng = np.random.default_rng([seed, 5, int(cohort)])
        n = len(sel)
        # CRM contacts, duplicates created later (before the end of the base export)
        dup_ts = tr.crm_ts[sel] + rng.uniform(7, 700, n) * DAY
        dup = pop.crm_dup[sel] & (dup_ts < base_end)
        person = np.r_[sel[pop.crm[sel]], sel[dup]]
        kind = np.r_[np.full(int(pop.crm[sel].sum()), MAIN), np.full(int(dup.sum()), DUP)]
        created = np.r_[tr.crm_ts[sel][pop.crm[sel]], dup_ts[dup]]
        start = seq["crm"]
        crm.append(_order(person, kind, created, cohort,
                          lambda i, _k, s=start: contact_id(s + i), by_time=True))
        seq["crm"] += len(person)
        # Shop: registered accounts (created before the first order), second accounts,
        # guest checkouts (guest-only customers, and registered ones checking out once).
        reg = sel[pop.shop[sel] == 1]
        years = rng.uniform(30 / 365, 4, len(reg)) * 365 * DAY
        signup = np.maximum(tr.acq_ts[reg] - rng.integers(300, 7200, len(reg)),
                            tl.week_start(tr.acq_week[reg]))  # same week as the first order
        reg_ts = np.where(tr.existing[reg], tl.start - years, signup)
        sdup_ts = tr.acq_ts[reg] + rng.uniform(30, 600, len(reg)) * DAY
        sdup = pop.shop_dup[reg] & (sdup_ts < base_end)
        person = np.r_[reg, reg[sdup]]
        kind = np.r_[np.full(len(reg), MAIN), np.full(int(sdup.sum()), DUP)]
        ids = rng.integers(0, 1000, len(person))
        start = seq["shop"]
        shop.append(_order(person, kind, np.r_[reg_ts, sdup_ts[sdup]], cohort,
                           lambda i, _k, s=start, r=ids: num(6_800_000_000_000 + (s + i) * 1000
                                                              + r), by_time=True))
        seq["shop"] += len(person)
        guest = sel[(pop.shop[sel] == 2) | pop.shop_guest[sel]]
        g_ts = np.where(pop.shop[guest] == 2, tr.acq_ts[guest], 0)  # others: set from orders
        start = seq["guest"]
        shop.append(_order(guest, np.full(len(guest), GUEST), g_ts, cohort,
                           lambda i, _k, s=start: cat("G", num(40_000_000 + s + i)),
                           by_time=False))
        seq["guest"] += len(guest)
        # Social profiles: one per platform the person uses.
        for slot in (pop.platform_a, pop.platform_b):
            has = sel[slot[sel] >= 0]
            plat = slot[has]
            social.append(Records(has, plat, pa.nulls(len(has), pa.string()), tr.social_ts[has],
                                  np.full(len(has), cohort)))
    soc = Records.concat(social)
    keys = np.zeros(len(soc), dtype=np.int64)
    for p in range(len(PLATFORMS)):  # numbered per platform, cohort by cohort, person order
        sel = np.flatnonzero(soc.kind == p)
        sel = sel[np.lexsort((soc.person[sel], soc.cohort[sel]))]
        keys[sel] = np.arange(len(sel))
    prefix = take(pa.array([f"{p}_" for p in PROFILE_PREFIX]), soc.kind)
    soc.key = cat(prefix, num(1_000_001 + keys * 7 + soc.person % 7))
    return SourceRecords(Records.concat(crm), Records.concat(shop), soc)


def contact_id(seq: np.ndarray) -> pa.Array:
    """Salesforce-like contact ids: '003A000001' ... '003A999999', '003B000000', ..."""
    seq = np.asarray(seq) + 1
    letter = take(pa.array([chr(65 + i) for i in range(26)]), seq // 1_000_000)
    return cat("003", letter, num(seq % 1_000_000, 6))
