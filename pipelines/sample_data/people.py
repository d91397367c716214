"""The true people behind the source records: identity, contact details, source presence.

One `Population` holds column arrays (numpy for numbers, Arrow for strings). The base
population is drawn from the seed; each increment adds a small cohort of new people drawn
from (seed, cohort), so re-deriving the base never depends on the increments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.sample_data import pools
from pipelines.sample_data.names import chinese, places, western
from pipelines.sample_data.text import (
    cat,
    choose,
    digits,
    num,
    pick,
    scatter,
    strings,
    take,
    where,
)

PLATFORMS = ("weibo", "wechat", "instagram", "x")
CN, HK, US, GB, DE, FR = range(len(pools.COUNTRIES))
GB_LETTERS = strings("ABDEFGHJLNPQRSTUWXYZ")


@dataclass
class Population:
    pid: np.ndarray  # global person number; person_id is 'P' + pid + 1, zero padded
    cohort: np.ndarray  # 0 = base export, k = people new in increment k
    is_cn: np.ndarray
    country: np.ndarray  # index into pools.COUNTRIES
    city: np.ndarray  # index into names.places()
    fam: np.ndarray  # Chinese family name (-1 for Western people)
    g1: np.ndarray  # given name characters (g2 = -1: one-character given name)
    g2: np.ndarray
    first: np.ndarray  # Western first and last name (-1 for Chinese people)
    last: np.ndarray
    birth: np.ndarray  # datetime64[D]
    phone: pa.Array  # national digits, e.g. '13800138000', '4155550134', '07412345678'
    email: pa.Array  # personal mailbox, unique per person
    role_email: pa.Array  # shared business mailbox (info@...) or null
    street: np.ndarray  # index into places().street
    house: np.ndarray
    unit: np.ndarray  # 0 = none; CN building*10000 + room, elsewhere apartment number
    postcode: pa.Array
    moved: np.ndarray  # has an older address still held by one source
    old_city: np.ndarray
    old_street: np.ndarray
    old_house: np.ndarray
    old_postcode: pa.Array
    loyalty: pa.Array  # 'LC12345678' or null
    shop: np.ndarray  # 0 none, 1 registered account, 2 guest checkouts only
    shop_dup: np.ndarray  # a second registered account
    shop_guest: np.ndarray  # a registered customer who also checked out once as a guest
    crm: np.ndarray
    crm_dup: np.ndarray  # a second CRM contact (typos, other details)
    platform_a: np.ndarray  # index into PLATFORMS or -1
    platform_b: np.ndarray  # a second platform or -1
    family_group: np.ndarray  # people sharing one phone (-1 none)
    mailbox_group: np.ndarray  # people sharing one role mailbox (-1 none)

    def __len__(self) -> int:
        return len(self.pid)

    @property
    def person_id(self) -> pa.Array:
        return cat("P", num(self.pid + 1, 7))

    @staticmethod
    def concat(parts: list[Population]) -> Population:
        values = {}
        for f in fields(Population):
            items = [getattr(p, f.name) for p in parts]
            values[f.name] = (pa.concat_arrays(items) if isinstance(items[0], pa.Array)
                              else np.concatenate(items))
        return Population(**values)


def _duplicated(values: pa.Array, prior: pa.Array | None) -> np.ndarray:
    allv = values if prior is None else pa.concat_arrays([prior, values])
    dup = pd.Series(allv, dtype=pd.ArrowDtype(pa.string())).duplicated().to_numpy()
    return dup[len(allv) - len(values):]


def _countries(rng: np.random.Generator, is_cn: np.ndarray) -> np.ndarray:
    country = np.empty(len(is_cn), dtype=np.int64)
    for mask, shares in ((is_cn, pools.COUNTRY_SHARE_CHINESE),
                         (~is_cn, pools.COUNTRY_SHARE_WESTERN)):
        codes = [pools.COUNTRIES.index(c) for c in shares]
        country[mask] = np.array(codes)[pick(rng, int(mask.sum()), list(shares.values()))]
    return country


def _cities(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    pl = places()
    city = np.empty(len(country), dtype=np.int64)
    for c in range(len(pools.COUNTRIES)):
        mask = country == c
        ids = np.flatnonzero(pl.country == c)
        city[mask] = ids[pick(rng, int(mask.sum()), pl.share[ids])]
    return city


def _groups(rng: np.random.Generator, candidates: np.ndarray, share: float, n: int,
            sizes: tuple[int, int]) -> np.ndarray:
    """Group number per person (-1 = none): about `share` of `n` people in groups."""
    group = np.full(n, -1)
    target = int(round(share * n))
    if target < sizes[0] or len(candidates) < target:
        return group
    size = rng.integers(sizes[0], sizes[1] + 1, target // sizes[0] + 1)
    size = size[: np.searchsorted(np.cumsum(size), target) + 1]
    members = rng.choice(candidates, int(size.sum()), replace=False)
    group[members] = np.repeat(np.arange(len(size)), size)
    return group


def _heads(group: np.ndarray) -> np.ndarray:
    """Index of each person's group head (the person itself when not in a group)."""
    head = np.arange(len(group))
    idx = np.flatnonzero(group >= 0)
    if not len(idx):
        return head
    order = idx[np.argsort(group[idx], kind="stable")]
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]
    head[order] = order[first][np.cumsum(first) - 1]
    return head


def mobile_numbers(rng: np.random.Generator, country: np.ndarray, city: np.ndarray) -> pa.Array:
    """Valid mobile numbers (national digits): CN/HK/GB/DE/FR by mobile prefix, US by the
    area codes of the person's city."""
    pl = places()
    out = pa.nulls(len(country), pa.string())
    for c, code in enumerate(pools.COUNTRIES):
        if code == "US":
            for ci in np.flatnonzero(pl.country == c):
                idx = np.flatnonzero(city == ci)
                areas = strings(pl.area[ci])
                part = cat(take(areas, rng.integers(0, len(areas), len(idx))),
                           num(rng.integers(200, 1000, len(idx))), digits(rng, len(idx), 4))
                out = scatter(out, idx, part)
            continue
        idx = np.flatnonzero(country == c)
        prefixes, k = pools.MOBILE_PREFIXES[code]
        part = cat(take(strings(prefixes), rng.integers(0, len(prefixes), len(idx))),
                   digits(rng, len(idx), k))
        out = scatter(out, idx, part)
    return out


def _emails(rng: np.random.Generator, pop_is_cn: np.ndarray, country: np.ndarray,
            fam: np.ndarray, g1: np.ndarray, g2: np.ndarray, first: np.ndarray,
            last: np.ndarray, birth: np.ndarray) -> pa.Array:
    n = len(country)
    cn, we = chinese(), western()
    fam_l = pc.utf8_lower(take(cn.family_py.clean, fam))
    given_l = cat(take(cn.given_py_lower, g1), take(cn.given_py_lower, g2), skip_nulls=True)
    initials = cat(pc.utf8_slice_codeunits(take(cn.given_py_lower, g1), 0, 1),
                   pc.utf8_slice_codeunits(take(cn.given_py_lower, g2), 0, 1), skip_nulls=True)
    first_l, last_l = take(we.first_ascii, first), take(we.last_ascii, last)
    n2 = num(rng.integers(1, 100, n))
    year = num(birth.astype("datetime64[Y]").astype(np.int64) + 1970)
    pattern = rng.integers(0, 5, n)
    cn_local = choose(pattern, cat(given_l, fam_l, n2), cat(fam_l, given_l, year),
                      cat(fam_l, ".", given_l), cat(fam_l, initials, n2), cat(given_l, ".", fam_l))
    w_local = choose(pattern, cat(first_l, ".", last_l), cat(first_l, ".", last_l, n2),
                     cat(pc.utf8_slice_codeunits(first_l, 0, 1), last_l, n2),
                     cat(first_l, last_l, year), cat(last_l, ".", first_l))
    local = where(pop_is_cn, cn_local, w_local)
    domain = pa.nulls(n, pa.string())
    for c, code in enumerate(pools.COUNTRIES):
        idx = np.flatnonzero(country == c)
        names, weights = pools.EMAIL_DOMAINS[code]
        domain = scatter(domain, idx, take(strings(names), pick(rng, len(idx), weights)))
    qq = pc.equal(domain, "qq.com").to_numpy(zero_copy_only=False) & (rng.random(n) < 0.6)
    local = where(qq, num(rng.integers(10_000, 3_000_000_000, n)), local)
    return cat(local, "@", domain)


def _postcodes(rng: np.random.Generator, city: np.ndarray) -> pa.Array:
    pl = places()
    out = pa.nulls(len(city), pa.string())
    for ci in range(len(pl.postcode)):
        idx = np.flatnonzero(city == ci)
        prefixes, code = pl.postcode[ci], pools.COUNTRIES[pl.country[ci]]
        if not len(idx) or not prefixes:
            continue
        m = len(idx)
        pre = take(strings(prefixes), rng.integers(0, len(prefixes), m))
        if code == "GB":
            part = cat(pre, " ", num(rng.integers(1, 10, m)),
                       take(GB_LETTERS, rng.integers(0, 20, m)),
                       take(GB_LETTERS, rng.integers(0, 20, m)))
        elif code == "FR":
            tail = {"750": (1, 21, 2), "6900": (1, 10, 1), "130": (1, 17, 2)}[prefixes[0]]
            part = cat(pre, num(rng.integers(tail[0], tail[1], m), tail[2]))
        else:
            part = cat(pre, digits(rng, m, 5 - len(prefixes[0]) + (1 if code == "CN" else 0)))
        out = scatter(out, idx, part)
    return out


def _streets(rng: np.random.Generator, country: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pl = places()
    street = np.empty(len(country), dtype=np.int64)
    house = np.empty(len(country), dtype=np.int64)
    top = {"CN": 2000, "HK": 500, "US": 9000, "GB": 250, "DE": 180, "FR": 220}
    for c, code in enumerate(pools.COUNTRIES):
        mask = country == c
        ids = np.flatnonzero(pl.street_country == c)
        street[mask] = ids[rng.integers(0, len(ids), int(mask.sum()))]
        house[mask] = np.exp(rng.uniform(0, np.log(top[code]), int(mask.sum()))).astype(int) + 1
    return street, house


def build_population(n: int, seed: int, cohort: int, pid0: int, end_date: date,
                     prior: Population | None = None) -> Population:
    """`n` people numbered from `pid0`; `prior` people keep their phones and emails unique."""
    rng = np.random.default_rng([seed, 1, cohort])
    cn, we = chinese(), western()
    pid = pid0 + np.arange(n)
    is_cn = rng.random(n) < 0.55
    country = _countries(rng, is_cn)
    city = _cities(rng, country)
    # Households sharing one phone (~2%), colleagues sharing a role mailbox (~0.5%).
    family = _groups(rng, np.arange(n), 0.02 if cohort == 0 else 0.0, n, (2, 4))
    head = _heads(family)
    is_cn, country, city = is_cn[head], country[head], city[head]
    others = np.flatnonzero(family < 0)
    mailbox = _groups(rng, others, 0.005 if cohort == 0 else 0.0, n, (3, 10))

    fam = np.where(is_cn, pick(rng, n, cn.family_weights), -1)[head]
    g1 = np.where(is_cn, rng.integers(0, len(cn.given), n), -1)
    g2 = np.where(is_cn & (rng.random(n) < 0.7), rng.integers(0, len(cn.given), n), -1)
    first, last = np.full(n, -1), np.full(n, -1)
    group_of = np.array([pools.NAME_GROUP.get(c, "anglo") for c in pools.COUNTRIES])[country]
    for group in pools.WESTERN_FIRST:
        mask = ~is_cn & (group_of == group)
        first[mask] = rng.integers(*we.first_ranges[group], int(mask.sum()))
        last[mask] = rng.integers(*we.last_ranges[group], int(mask.sum()))
    last = last[head]
    age_days = (np.clip(rng.normal(38, 12, n), 18, 80) * 365.25).astype(np.int64)
    birth = np.datetime64(end_date, "D") - age_days

    phone = mobile_numbers(rng, country, city)
    for _ in range(10):  # redraw accidental collisions (family phones are set below)
        dup = np.flatnonzero(_duplicated(phone, None if prior is None else prior.phone))
        if not len(dup):
            break
        phone = scatter(phone, dup, mobile_numbers(rng, country[dup], city[dup]))
    phone = phone.take(pa.array(head))

    email = _emails(rng, is_cn, country, fam, g1, g2, first, last, birth)
    dup = _duplicated(email, None if prior is None else prior.email)
    if dup.any():  # '_' never occurs in the generated local parts, so this is unique
        parts = pc.split_pattern(email, "@")
        local = pc.list_element(parts, 0)
        domain = pc.list_element(parts, 1)
        email = where(dup, cat(local, "_", num(pid), "@", domain), email)

    biz = take(strings(pools.BUSINESSES), rng.integers(0, len(pools.BUSINESSES), n))
    tld = take(strings([".com", ".cn", ".com", ".co.uk", ".de", ".fr"]), country)
    role = take(strings(pools.ROLE_LOCALS), rng.integers(0, len(pools.ROLE_LOCALS), n))
    mhead = _heads(mailbox)
    role_email = cat(role, "@", biz, "-", num(mailbox + 1), tld).take(pa.array(mhead))
    role_email = pc.if_else(pa.array(mailbox >= 0), role_email, pa.scalar(None, pa.string()))

    street, house = _streets(rng, country)
    unit = np.where(country == CN, rng.integers(1, 30, n) * 10000 + rng.integers(101, 2600, n),
                    np.where(rng.random(n) < 0.3, rng.integers(1, 40, n), 0))
    unit = np.where((country == CN) & (rng.random(n) < 0.4), 0, unit)
    postcode = _postcodes(rng, city)
    street, house, unit = street[head], house[head], unit[head]
    postcode = postcode.take(pa.array(head))
    moved = rng.random(n) < 0.15
    old_city = np.where(rng.random(n) < 0.3, _cities(rng, country), city)
    old_street, old_house = _streets(rng, country)
    old_postcode = _postcodes(rng, old_city)

    card = 10_000_000 + (pid * 7_919 + seed * 104_729 + 12_345) % 90_000_000
    loyalty = pc.if_else(pa.array(rng.random(n) < 0.3), cat("LC", num(card)),
                         pa.scalar(None, pa.string()))

    base = cohort == 0  # duplicates need history: only in the base export
    in_shop = rng.random(n) < 0.78
    shop = np.where(in_shop, np.where(rng.random(n) < 0.10, 2, 1), 0)
    crm = rng.random(n) < np.where(in_shop, 0.48, 0.80)
    social = rng.random(n) < 0.27
    crm |= (mailbox >= 0) | (~in_shop & ~social)
    base_platform = np.where(is_cn, 0, 2)
    a_second = rng.random(n) < np.where(is_cn, 0.35, 0.4)
    platform_a = np.where(social, base_platform + a_second, -1)
    platform_b = np.where(social & (rng.random(n) < 0.1), base_platform + ~a_second, -1)
    return Population(
        pid=pid, cohort=np.full(n, cohort), is_cn=is_cn, country=country, city=city,
        fam=fam, g1=g1, g2=g2, first=first, last=last, birth=birth, phone=phone, email=email,
        role_email=role_email, street=street, house=house, unit=unit, postcode=postcode,
        moved=moved, old_city=old_city, old_street=old_street, old_house=old_house,
        old_postcode=old_postcode, loyalty=loyalty, shop=shop,
        shop_dup=base & (shop == 1) & (rng.random(n) < 0.05),
        shop_guest=base & (shop == 1) & (rng.random(n) < 0.04),
        crm=crm, crm_dup=base & crm & (rng.random(n) < 0.06),
        platform_a=platform_a, platform_b=platform_b, family_group=family,
        mailbox_group=mailbox,
    )


def country_code(pop: Population, idx: np.ndarray) -> pa.Array:
    return take(strings(pools.COUNTRIES), pop.country[idx])


def city_names(pop: Population, idx: np.ndarray, english: np.ndarray, old: np.ndarray
               ) -> pa.Array:
    pl = places()
    city = np.where(old, pop.old_city[idx], pop.city[idx])
    return where(english, take(pl.english, city), take(pl.local, city))


def street_text(pop: Population, idx: np.ndarray, old: np.ndarray, typo: np.ndarray
                ) -> pa.Array:
    """Street line in the country's style; `typo` 0 clean, 1 swapped, 2 dropped letter."""
    pl = places()
    street = np.where(old, pop.old_street[idx], pop.street[idx])
    house = num(np.where(old, pop.old_house[idx], pop.house[idx]))
    unit = np.where(old, 0, pop.unit[idx])
    name = choose(typo, *(take(pl.street.variant(k), street) for k in range(3)))
    country = pop.country[idx]
    cn_unit = where(unit > 0, cat(num(unit // 10000), "号楼", num(unit % 10000), "室"), "")
    apt = where(unit > 0, cat(" Apt ", num(unit)), "")
    return choose(
        np.select([country == CN, country == HK, country == US, country == DE], [0, 1, 2, 3], 4),
        cat(name, house, "号", cn_unit),
        cat(name, house, "號"),
        cat(house, " ", name, apt),
        cat(name, " ", house),
        cat(house, " ", name),
    )
