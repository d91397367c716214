"""Latent behaviour and its week-by-week simulation (BG/NBD-like, vectorised over people).

Every shop customer buys at a personal weekly rate (gamma distributed across people) from
their acquisition week on; after each purchase they drop out with a personal probability
(beta distributed), so the number of purchases before dropping out is geometric. A complaint
(CRM customers only) either ends the relationship at once or raises that probability.
Social engagement (interactions per week) grows with the purchase rate and falls after
dropping out; recent complaints make interactions negative.

Each week of each cohort draws from its own generator (seed, cohort, week), so simulating
more weeks (increments) never changes the weeks already simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pipelines.sample_data.people import Population
from pipelines.sample_data.timeline import DAY, WEEK, Timeline

N_CATEGORIES = 12
OTHER_TICKET_RATE = 0.05  # non-complaint tickets per order (CRM customers)
QUESTION_RATE = 0.004  # tickets per week from CRM contacts who do not buy online
COMPLAINT_EXIT = 0.35  # share of complaints that end the relationship at once
COMPLAINT_DROP_BOOST = 0.35  # added to the dropout probability otherwise


@dataclass
class Traits:
    lam: np.ndarray  # purchases per week while active
    p_drop: np.ndarray  # dropout probability after each purchase
    p_complain: np.ndarray  # complaint probability per order
    eta: np.ndarray  # social interactions per week (0 without a profile)
    spend: np.ndarray  # price level (standard normal)
    affinity: np.ndarray  # cumulative category preferences, (n, N_CATEGORIES) float32
    acq_week: np.ndarray  # week of the first order (-1: never buys online)
    acq_ts: np.ndarray  # epoch seconds of the first order (0 when none)
    existing: np.ndarray  # customer since before the simulated period
    crm_ts: np.ndarray  # creation of the CRM contact (0 when none)
    social_ts: np.ndarray  # creation of the social profile(s) (0 when none)

    def __len__(self) -> int:
        return len(self.lam)


@dataclass
class Events:
    """Per person and week: counts of purchases, complaints, other tickets, interactions."""

    person: np.ndarray
    week: np.ndarray
    count: np.ndarray
    flag: np.ndarray  # interactions: negative mood; otherwise unused

    @staticmethod
    def collect(parts: list[tuple]) -> Events:
        if not parts:
            e = np.empty(0, dtype=np.int64)
            return Events(e, e, e, e.astype(bool))
        cols = list(zip(*parts, strict=True))
        return Events(*(np.concatenate(c) for c in cols))

    def select(self, mask: np.ndarray) -> Events:
        return Events(self.person[mask], self.week[mask], self.count[mask], self.flag[mask])

    def weeks(self, lo: int, hi: int) -> Events:
        return self.select((self.week >= lo) & (self.week < hi))


@dataclass
class Simulation:
    purchases: Events
    complaints: Events
    tickets: Events  # other (non-complaint) tickets
    interactions: Events
    dropout_week: np.ndarray  # -1 while active
    n_complaints: np.ndarray


def cohort_start(pop: Population, tl: Timeline) -> np.ndarray:
    """First simulated week of each person: 0 for the base, the increment's week otherwise."""
    return np.where(pop.cohort == 0, 0, tl.weeks + pop.cohort - 1)


def make_traits(pop: Population, seed: int, tl: Timeline) -> Traits:
    parts = []
    for cohort in np.unique(pop.cohort):
        sel = np.flatnonzero(pop.cohort == cohort)
        parts.append(_traits(pop, sel, np.random.default_rng([seed, 2, int(cohort)]), tl))
    return Traits(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Traits)))


def _traits(pop: Population, sel: np.ndarray, rng: np.random.Generator, tl: Timeline) -> Traits:
    n = len(sel)
    first = int(cohort_start(pop, tl)[sel[0]])
    base = first == 0
    lam = rng.gamma(0.9, 0.14 / 0.9, n)
    social = pop.platform_a[sel] >= 0
    eta = np.where(social, 0.03 + 0.8 * lam * rng.gamma(3.0, 1 / 3, n), 0.0)
    affinity = np.cumsum(rng.dirichlet(np.full(N_CATEGORIES, 0.5), n), axis=1).astype(np.float32)
    affinity[:, -1] = 1.0
    in_shop = pop.shop[sel] > 0
    existing = base & in_shop & (rng.random(n) < 0.35)
    acq = np.where(existing, rng.integers(0, 8, n),
                   rng.integers(0, tl.weeks, n) if base else first)
    acq = np.where(in_shop, acq, -1)
    acq_ts = np.where(in_shop, tl.week_start(acq) + rng.integers(0, WEEK, n), 0)
    years = rng.uniform(0.1, 4.0, n) * 365 * DAY
    crm_ts = np.where(
        in_shop, np.where(existing, tl.start - years, acq_ts + rng.integers(0, 3600, n)),
        (tl.start - years / 2 + rng.uniform(0, 1, n) * (tl.weeks * WEEK + years / 2 - DAY))
        if base else tl.week_start(first) + rng.integers(0, WEEK - DAY, n))
    crm_ts = np.where(pop.crm[sel], crm_ts, 0).astype(np.int64)
    social_ts = np.where(social, tl.start - rng.uniform(1, 6, n) * 365 * DAY if base
                         else tl.week_start(first) + rng.integers(0, WEEK, n), 0)
    return Traits(
        lam=lam, p_drop=rng.beta(1.3, 18.0, n), p_complain=rng.beta(1.2, 30.0, n), eta=eta,
        spend=rng.normal(0, 1, n), affinity=affinity, acq_week=acq,
        acq_ts=acq_ts.astype(np.int64), existing=existing, crm_ts=crm_ts,
        social_ts=social_ts.astype(np.int64),
    )


def simulate(pop: Population, tr: Traits, seed: int, tl: Timeline, n_weeks: int) -> Simulation:
    """Simulate weeks 0..n_weeks-1 for everybody."""
    n = len(pop)
    remaining = np.zeros(n, dtype=np.int64)  # purchases left before dropping out
    alive = np.ones(n, dtype=bool)
    dropout = np.full(n, -1)
    n_complaints = np.zeros(n, dtype=np.int64)
    last_complaint = np.full(n, -10_000)
    start = cohort_start(pop, tl)
    buys, comps, tickets, inter = [], [], [], []
    cohorts = [(int(c), np.flatnonzero(pop.cohort == c)) for c in np.unique(pop.cohort)]
    for c, sel in cohorts:
        remaining[sel] = np.random.default_rng([seed, 3, c]).geometric(tr.p_drop[sel])
    crm_only = pop.crm & (pop.shop == 0)
    social = pop.platform_a >= 0
    for w in range(n_weeks):
        for c, sel in cohorts:
            if w < start[sel[0]]:
                continue
            rng = np.random.default_rng([seed, 4, c, w])
            act = sel[alive[sel] & (tr.acq_week[sel] >= 0) & (tr.acq_week[sel] <= w)]
            k = rng.poisson(tr.lam[act]) + (tr.acq_week[act] == w)
            made = np.minimum(k, remaining[act])
            remaining[act] -= made
            bought = made > 0
            buyers, counts = act[bought], made[bought]
            buys.append(_ev(buyers, w, counts))
            in_crm = pop.crm[buyers]
            cb, cc = buyers[in_crm], counts[in_crm]
            nc = rng.binomial(cc, tr.p_complain[cb])
            nt = rng.binomial(cc, OTHER_TICKET_RATE)
            comp = cb[nc > 0]
            comps.append(_ev(comp, w, nc[nc > 0]))
            exit_now = rng.random(len(comp)) < COMPLAINT_EXIT
            boosted = rng.geometric(np.minimum(0.95, tr.p_drop[comp] + COMPLAINT_DROP_BOOST))
            remaining[comp] = np.where(exit_now, 0, np.minimum(remaining[comp], boosted))
            n_complaints[comp] += nc[nc > 0]
            last_complaint[comp] = w
            q = sel[crm_only[sel] & (tr.crm_ts[sel] < tl.week_start(w))]
            nq = rng.poisson(QUESTION_RATE, len(q))
            tickets.append(_ev(np.r_[cb[nt > 0], q[nq > 0]], w, np.r_[nt[nt > 0], nq[nq > 0]]))
            gone = act[remaining[act] == 0]
            dropout[gone] = w
            alive[gone] = False
            s = sel[social[sel]]
            rate = tr.eta[s] * np.where(alive[s], 1.0, 0.25)
            ni = rng.poisson(rate)
            got = ni > 0
            mood = (w - last_complaint[s] <= 4) | ~alive[s]
            inter.append(_ev(s[got], w, ni[got], mood[got]))
    return Simulation(
        purchases=Events.collect(buys), complaints=Events.collect(comps),
        tickets=Events.collect(tickets), interactions=Events.collect(inter),
        dropout_week=dropout, n_complaints=n_complaints,
    )


def _ev(person: np.ndarray, week: int, count: np.ndarray, flag: np.ndarray | None = None):
    n = len(person)
    return (person.astype(np.int64), np.full(n, week, dtype=np.int64),
            np.asarray(count, dtype=np.int64),
            np.zeros(n, dtype=bool) if flag is None else flag)
