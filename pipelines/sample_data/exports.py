"""Vendor tables: the source records and activity rendered with each vendor's headers,
formats and habits (name order, pinyin or characters, phone and date styles, gaps).

Each function returns {vendor header: Arrow string array} for the rows asked for; the
record-level choices are drawn from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.sample_data import activity as act
from pipelines.sample_data import mess, pools
from pipelines.sample_data.behaviour import Simulation, Traits
from pipelines.sample_data.names import chinese, places, western
from pipelines.sample_data.people import (
    PLATFORMS,
    Population,
    city_names,
    country_code,
    street_text,
)
from pipelines.sample_data.records import DUP, GUEST, SourceRecords
from pipelines.sample_data.text import (
    cat,
    choose,
    date_text,
    num,
    offset_text,
    pick,
    strings,
    take,
    ts_text,
    where,
)
from pipelines.sample_data.timeline import Timeline
from pipelines.sample_data.writers import decimal_text

SHOP_DEFAULT_PHONE = "400-820-8820"  # the shop's own hotline, typed in for guests
NULL = pa.scalar(None, pa.string())


@dataclass
class World:
    """Everything derived from (customers, seed, end date, weeks, increments)."""

    seed: int
    tl: Timeline
    pop: Population
    tr: Traits
    sim: Simulation
    recs: SourceRecords

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def uniforms(self, key: int, cohort: np.ndarray, k: int) -> np.ndarray:
        """(rows, k) uniforms drawn cohort by cohort, so a row's draws do not depend on
        how many increments were derived."""
        out = np.empty((len(cohort), k))
        for c in np.unique(cohort):
            sel = np.flatnonzero(cohort == c)
            out[sel] = self.rng(key, int(c)).random((len(sel), k))
        return out

    @cached_property
    def shop_emails(self) -> pa.Array:
        return _shop_emails(self)

    @cached_property
    def handles(self) -> pa.Array:
        return _handles(self)

    @cached_property
    def stale_source(self) -> np.ndarray:
        """0 none, 1 CRM holds the old address, 2 the shop does."""
        pop = self.pop
        both = pop.moved & pop.crm & (pop.shop == 1)
        return np.where(both, np.where(self.uniforms(8, pop.cohort, 1)[:, 0] < 0.6, 1, 2), 0)


def _nulls(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _names(w: World, p: np.ndarray, rng: np.random.Generator, pinyin: float, swap: float,
           full_in_last: float, typo: float | np.ndarray, upper: float = 0.0
           ) -> tuple[pa.Array, pa.Array]:
    """(first, last) as a source records them. Chinese names in characters (given / family,
    sometimes all in the last name) or pinyin (either order); Western names sometimes
    swapped or upper-case; `typo` share with a swapped/dropped letter or a homophone."""
    pop, cn, we = w.pop, chinese(), western()
    n = len(p)
    kind = mess.typo_kind(rng, n, typo)
    g1, g2, fam = pop.g1[p], pop.g2[p], pop.fam[p]
    homo = cn.homophone[np.maximum(g1, 0)]
    g1t = np.where((kind > 0) & (homo >= 0), homo, g1)
    flip = (kind > 0) & (homo < 0) & (g2 >= 0)
    given_chars = cat(take(cn.given, np.where(flip, g2, g1t)),
                      take(cn.given, np.where(flip, g1t, g2)), skip_nulls=True)
    fam_chars = take(cn.family.clean, fam)
    on_family = rng.random(n) < 0.3
    given_py = cat(choose(np.where(on_family, 0, kind),
                          *(take(cn.given_py.variant(k), g1) for k in range(3))),
                   take(cn.given_py_lower, g2), skip_nulls=True)
    fam_py = choose(np.where(on_family, kind, 0),
                    *(take(cn.family_py.variant(k), fam) for k in range(3)))
    style = np.where(rng.random(n) < pinyin, np.where(rng.random(n) < swap, 3, 2),
                     np.where(rng.random(n) < full_in_last, 1, 0))
    cn_first = choose(style, given_chars, _nulls(n), given_py, fam_py)
    cn_last = choose(style, fam_chars, cat(fam_chars, given_chars), fam_py, given_py)
    on_last = rng.random(n) < 0.5
    first = choose(np.where(on_last, 0, kind), *(take(we.first.variant(k), pop.first[p])
                                                 for k in range(3)))
    last = choose(np.where(on_last, kind, 0), *(take(we.last.variant(k), pop.last[p])
                                                for k in range(3)))
    swapped = rng.random(n) < 0.03
    w_first, w_last = where(swapped, last, first), where(swapped, first, last)
    shout = rng.random(n) < upper
    w_first = where(shout, pc.utf8_upper(w_first), w_first)
    w_last = where(shout, pc.utf8_upper(w_last), w_last)
    is_cn = pop.is_cn[p]
    return where(is_cn, cn_first, w_first), where(is_cn, cn_last, w_last)


def alias_email(email: pa.Array, u: np.ndarray, taken: pa.Array | None = None) -> pa.Array:
    """Another address of the same person (u: (rows, 2) uniforms): +tag, other domain, or
    the same upper-cased. An address at another domain that is someone's personal address
    (`taken`: every person's) is not this person's to use: the +tag form instead (before
    this, two namesakes could share one address: 'rachel.campbell@icloud.com')."""
    parts = pc.split_pattern(email, "@")
    local, domain = pc.list_element(parts, 0), pc.list_element(parts, 1)
    other = take(strings(["gmail.com", "outlook.com", "163.com", "icloud.com"]),
                 (u[:, 1] * 4).astype(int))
    moved = cat(local, "@", other)
    tagged = cat(local, "+shop@", domain)
    if taken is not None:
        clash = pc.fill_null(pc.is_in(moved, value_set=taken), False)
        clash = pc.and_(clash, pc.not_equal(moved, email))
        moved = where(clash.to_numpy(zero_copy_only=False), tagged, moved)
    return choose(np.searchsorted([0.35, 0.7], u[:, 0], side="right"),
                  tagged, moved, pc.utf8_upper(email))


def _shop_emails(w: World) -> pa.Array:
    """Clean email of every shop record (orders repeat it)."""
    s, pop = w.recs.shop, w.pop
    u = w.uniforms(7, s.cohort, 3)
    personal = w.pop.email.take(pa.array(s.person))
    role = pop.role_email.take(pa.array(s.person))
    use_role = pc.is_valid(role).to_numpy(zero_copy_only=False) & (u[:, 0] < 0.5)
    email = where(use_role & (s.kind != GUEST), role, personal)
    return where(s.kind == DUP, alias_email(email, u[:, 1:], pop.email), email)


def _handles(w: World) -> pa.Array:
    """'@name' of every social profile, unique; Weibo/WeChat in pinyin, others Western."""
    pop, cn, we, soc = w.pop, chinese(), western(), w.recs.social
    p = soc.person
    u = w.uniforms(9, soc.cohort, 2)
    fam = pc.utf8_lower(take(cn.family_py.clean, pop.fam[p]))
    given = cat(take(cn.given_py_lower, pop.g1[p]), take(cn.given_py_lower, pop.g2[p]),
                skip_nulls=True)
    first, last = take(we.first_ascii, pop.first[p]), take(we.last_ascii, pop.last[p])
    n2 = num(1 + (u[:, 0] * 999).astype(int))
    style = (u[:, 1] * 4).astype(int)
    cn_h = choose(style, cat(given, fam, n2), cat(fam, "_", given), cat("xiao", given, n2),
                  cat(given, "_", fam, n2))
    w_h = choose(style, cat(first, ".", last), cat(first, last, n2), cat(first, "_", last),
                 cat(pc.utf8_slice_codeunits(first, 0, 1), last, n2))
    handle = where(pop.is_cn[p], cn_h, w_h)
    # unique per platform: a clash gets the profile number appended
    key = cat(num(soc.kind), ":", handle)
    dup = pd_duplicated(key)
    handle = where(dup, cat(handle, "_", pc.utf8_slice_codeunits(soc.key, 3)), handle)
    return cat("@", handle)


def pd_duplicated(values: pa.Array) -> np.ndarray:
    return pd.Series(values, dtype=pd.ArrowDtype(pa.string())).duplicated().to_numpy()


def iso_z(seconds: np.ndarray, millis: bool = False) -> pa.Array:
    return ts_text(seconds, "T", ".000Z" if millis else "Z")


def _bool(mask: np.ndarray, yes: str = "true", no: str = "false") -> pa.Array:
    return where(mask, yes, no)


def _opt(values, mask: np.ndarray) -> pa.Array:
    """values where mask, else null."""
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), values, NULL)


def crm_contacts(w: World, rows: np.ndarray, export_end: int, rng: np.random.Generator
                 ) -> dict[str, pa.Array]:
    pop, crm = w.pop, w.recs.crm
    p, dup = crm.person[rows], crm.kind[rows] == DUP
    n = len(rows)
    first, last = _names(w, p, rng, pinyin=0.0, swap=0.0, full_in_last=0.1,
                         typo=np.where(dup, 0.35, 0.02))
    personal = pop.email.take(pa.array(p))
    role = pop.role_email.take(pa.array(p))
    has_role = pc.is_valid(role).to_numpy(zero_copy_only=False)
    email = where(has_role & (rng.random(n) < 0.85), role, personal)
    u = rng.random(n)
    email = where(dup & (u < 0.25), alias_email(personal, rng.random((n, 2)), pop.email), email)
    email = _opt(mess.email_text(email, rng), np.where(dup, u < 0.65, u < 0.92))
    phone = pop.phone.take(pa.array(p))
    mobile = _opt(mess.phone_text(phone, pop.country[p], rng), rng.random(n) <
                  np.where(dup, 0.6, 0.85))
    v = rng.random(n)
    other = mess.phone_text(phone, pop.country[p], rng)
    land = _opt(mess.landline(pop.city[p], rng), pop.country[p] == 0)
    phone2 = where(v < 0.12, land, _opt(other, v < 0.2))
    old = (w.stale_source[p] == 1) | (dup & pop.moved[p] & (rng.random(n) < 0.5))
    street = street_text(pop, p, old, mess.typo_kind(rng, n, np.where(dup, 0.2, 0.03)))
    english = ~pop.is_cn[p] | (rng.random(n) < 0.15)
    local_de = (pools.COUNTRIES.index("DE") == pop.country[p]) & (rng.random(n) < 0.7)
    city = city_names(pop, p, english & ~local_de, old)
    postcode = where(old, pop.old_postcode.take(pa.array(p)), pop.postcode.take(pa.array(p)))
    us_style = rng.random(n) < np.where(pop.is_cn[p], 0.05, 0.4)
    birth = pop.birth[p]
    birth_text = date_text(birth, us_style)
    card = pop.loyalty.take(pa.array(p))
    c = rng.random(n)
    card = where(c < 0.1, pc.utf8_lower(card), where(c < 0.15, cat(" ", card, " "), card))
    card = _opt(card, rng.random(n) < np.where(dup, 0.2, 0.7))
    created = crm.created[rows]
    modified = created + (rng.random(n) ** 2 * (export_end - created)).astype(np.int64)
    modified = np.where(rng.random(n) < 0.2, created, modified)
    return {
        "Contact ID": crm.key.take(pa.array(rows)),
        "First Name": first,
        "Last Name": last,
        "Email": email,
        "Mobile": mobile,
        "Phone": phone2,
        "Mailing Street": _opt(street, rng.random(n) < 0.85),
        "Mailing City": _opt(city, rng.random(n) < 0.95),
        "Mailing Zip/Postal Code": _opt(postcode, rng.random(n) < 0.8),
        "Mailing Country": _opt(country_code(pop, p), rng.random(n) < 0.97),
        "Birthdate": _opt(birth_text, rng.random(n) < 0.85),
        "Loyalty Card Number": card,
        "Weibo Handle": _crm_handles(w, p, dup, rng),
        "Email Opt Out": _bool(rng.random(n) < 0.15),
        "SMS Opt Out": _bool(rng.random(n) < 0.25),
        "Do Not Call": _bool(rng.random(n) < 0.1),
        "Created Date": iso_z(created, millis=True),
        "Last Modified Date": iso_z(modified, millis=True),
        # drawn last so every column above is the same as before consent columns existed
        "Consent Updated Date": iso_z(consent_times(created, modified, rng), millis=True),
        "Consent Source": take(strings(CRM_CONSENT_SOURCES), pick(rng, n, [0.5, 0.25, 0.15, 0.1])),
    }


CRM_CONSENT_SOURCES = ["Web Form", "In Store", "Call Centre", "Event"]


def _week_end(w: World, seconds: np.ndarray) -> np.ndarray:
    """End of the week of `seconds`: no export holding a record created then ends earlier,
    so a time capped by it is never in the future of the export."""
    return w.tl.week_start(w.tl.week_of(seconds) + 1) - 1


def consent_times(created: np.ndarray, modified: np.ndarray, rng) -> np.ndarray:
    """When the record's consent flags were last set: between creation and last change."""
    return created + (rng.random(len(created)) * (modified - created)).astype(np.int64)


def _crm_handles(w: World, p: np.ndarray, dup: np.ndarray, rng) -> pa.Array:
    """The person's Weibo handle on about 45% of their main contacts."""
    soc = w.recs.social
    weibo = np.full(len(w.pop), -1)
    sel = np.flatnonzero(soc.kind == PLATFORMS.index("weibo"))
    weibo[soc.person[sel]] = sel
    row = weibo[p]
    handle = take(w.handles, row)
    u = rng.random(len(p))
    bare = pc.utf8_slice_codeunits(handle, 1)
    handle = where(u < 0.2, bare, where(u < 0.3, pc.utf8_capitalize(bare), handle))
    return _opt(handle, (row >= 0) & ~dup & (rng.random(len(p)) < 0.45))


def shop_customers(w: World, rows: np.ndarray, rng: np.random.Generator
                   ) -> dict[str, pa.Array]:
    pop, shop = w.pop, w.recs.shop
    p, kind = shop.person[rows], shop.kind[rows]
    n = len(rows)
    guest, dup = kind == GUEST, kind == DUP
    first, last = _names(w, p, rng, pinyin=0.55, swap=0.35, full_in_last=0.05,
                         typo=np.where(dup, 0.25, 0.03), upper=0.03)
    email = mess.email_text(w.shop_emails.take(pa.array(rows)), rng)
    phone = mess.phone_text(pop.phone.take(pa.array(p)), pop.country[p], rng)
    u = rng.random(n)
    phone = where(guest, _opt(pa.array([SHOP_DEFAULT_PHONE] * n, pa.string()), u < 0.03),
                  _opt(phone, u < np.where(dup, 0.5, 0.7)))
    old = w.stale_source[p] == 2
    address = ~guest & (rng.random(n) < np.where(dup, 0.5, 0.75))
    street = street_text(pop, p, old, mess.typo_kind(rng, n, 0.03))
    city = city_names(pop, p, ~pop.is_cn[p] | (rng.random(n) < 0.6), old)
    postcode = where(old, pop.old_postcode.take(pa.array(p)), pop.postcode.take(pa.array(p)))
    card = _opt(pop.loyalty.take(pa.array(p)), ~guest & (rng.random(n) < 0.25))
    offset = places().offset[pop.city[p]]
    created = shop.created[rows]
    created_text = cat(ts_text(created, " ", " ", offset),
                       offset_text(offset, colon=False))
    return {
        "Customer ID": shop.key.take(pa.array(rows)),
        "First Name": _opt(first, ~guest),
        "Last Name": _opt(last, ~guest),
        "Email": email,
        "Phone": phone,
        "Accepts Email Marketing": _bool(~guest & (rng.random(n) < 0.55), "yes", "no"),
        "Accepts SMS Marketing": _bool(~guest & (rng.random(n) < 0.35), "yes", "no"),
        "Default Address Address1": _opt(street, address),
        "Default Address City": _opt(city, address),
        "Default Address Zip": _opt(postcode, address & (rng.random(n) < 0.9)),
        "Default Address Country Code": _opt(country_code(pop, p),
                                             address | (~guest & (rng.random(n) < 0.3))),
        "Loyalty Card": card,
        "Account State": where(guest, "guest", "enabled"),
        "Created At": created_text,
        # Shopify's consent timestamp; drawn last (the columns above are unchanged)
        "Marketing Consent Updated At": iso_z(np.minimum(
            created + (rng.random(n) * 30 * 86_400).astype(np.int64), _week_end(w, created))),
    }


def social_profiles(w: World, rows: np.ndarray, rng: np.random.Generator
                    ) -> dict[str, pa.Array]:
    """Values JSON-encoded by the caller: strings here, numbers as text."""
    pop, soc, cn, we = w.pop, w.recs.social, chinese(), western()
    p = soc.person[rows]
    n = len(rows)
    fam_c, fam_py = take(cn.family.clean, pop.fam[p]), take(cn.family_py.clean, pop.fam[p])
    given_c = cat(take(cn.given, pop.g1[p]), take(cn.given, pop.g2[p]), skip_nulls=True)
    given_py = cat(take(cn.given_py.clean, pop.g1[p]), take(cn.given_py_lower, pop.g2[p]),
                   skip_nulls=True)
    cn_name = choose(pick(rng, n, [0.35, 0.2, 0.15, 0.1, 0.1, 0.1]), cat(fam_c, given_c),
                     cat(fam_py, " ", given_py), cat(given_py, " ", fam_py),
                     pc.utf8_lower(cat(fam_py, given_py)), cat(given_py, fam_py), given_c)
    first, last = take(we.first.clean, pop.first[p]), take(we.last.clean, pop.last[p])
    w_name = choose(pick(rng, n, [0.55, 0.1, 0.1, 0.15, 0.1]), cat(first, " ", last),
                    pc.utf8_lower(cat(first, " ", last)),
                    cat(first, " ", pc.utf8_slice_codeunits(last, 0, 1), "."),
                    cat(first, last), cat(last, " ", first))
    phone = mess.phone_text(pop.phone.take(pa.array(p)), pop.country[p], rng, international=True)
    city = city_names(pop, p, ~pop.is_cn[p] | (rng.random(n) < 0.3), np.zeros(n, bool))
    followers = np.exp(rng.normal(4.5, 1.6, n)).astype(np.int64)
    return {
        "platform": take(strings(PLATFORMS), soc.kind[rows]),
        "profile_id": soc.key.take(pa.array(rows)),
        "handle": w.handles.take(pa.array(rows)),
        "display_name": where(pop.is_cn[p], cn_name, w_name),
        "phone": _opt(phone, rng.random(n) < 0.05),
        "email": _opt(mess.email_text(pop.email.take(pa.array(p)), rng), rng.random(n) < 0.07),
        "city": _opt(city, rng.random(n) < 0.6),
        "followers": num(followers),
        "created_time": num(soc.created[rows]),
        # opted in to brand messages on the platform (follows the official account); drawn
        # last so the columns above are unchanged
        "messaging_opt_in": _bool(rng.random(n) < 0.4),
        "opt_in_time": num(np.minimum(
            soc.created[rows] + (rng.random(n) * 90 * 86_400).astype(np.int64),
            _week_end(w, soc.created[rows]))),
    }


def store_codes() -> pa.Array:
    pl = places()
    return strings(
        "".join(c for c in e.upper() if c.isalpha())[:3] + "01" for e in pl.english.to_pylist()
    )


def orders(w: World, o: act.Orders, rng: np.random.Generator) -> dict[str, pa.Array]:
    """Values not yet JSON-encoded; 'id' and 'total_price' raw."""
    pop, shop = w.pop, w.recs.shop
    offset = places().offset[pop.city[o.person]]
    row = o.shop_row
    email = take(w.shop_emails, row)
    email = mess.email_text(email, rng, upper=0.03, space=0.0)
    created = cat(ts_text(o.ts, "T", "", offset), offset_text(offset, colon=True))
    return {
        "id": num(o.order_id),
        "customer_id": take(shop.key, row),
        "email": email,
        "created_at": created,
        "financial_status": take(strings(act.STATUSES), o.status),
        "currency": take(strings(act.CURRENCIES), o.currency),
        "total_price": decimal_text(o.total_cents),
        "source_name": take(strings(act.CHANNELS), o.channel),
        "location": take(store_codes(), o.store),
    }


def order_lines(o: act.Orders, lines: act.Lines, rng: np.random.Generator
                ) -> tuple[pa.Table, int]:
    """Typed warehouse extract; about 0.1% of rows miss a required value."""
    cat_ = act.catalogue()
    n = len(lines.sku)
    bad = np.zeros(n, dtype=bool)
    k = mess.n_malformed(n)
    which = np.zeros(n, dtype=np.int64)
    if k:
        rows = rng.choice(n, k, replace=False)
        bad[rows] = True
        which[rows] = rng.integers(0, 3, k)
    sku = take(strings(cat_.sku), lines.sku)
    return pa.table({
        "order_id": pa.array(o.order_id[lines.order_row], pa.int64()),
        "line_number": pa.array(lines.line_number, pa.int32()),
        "sku": pc.if_else(pa.array(bad & (which == 0)), NULL, sku),
        "product_title": take(strings(cat_.title), lines.sku),
        "product_category": take(strings(cat_.category), lines.sku),
        "quantity": pa.array(lines.quantity, pa.int64(), mask=bad & (which == 1)),
        "unit_price": pa.array(lines.unit_cents / 100, pa.float64(), mask=bad & (which == 2)),
    }), k


def tickets(w: World, t: act.Tickets, rng: np.random.Generator) -> dict[str, pa.Array]:
    pop = w.pop
    n = len(t.person)
    subjects_cn, subjects_en, type_of = [], [], []
    for i, name in enumerate(act.TICKET_TYPES):
        zh, en = pools.TICKET_SUBJECTS[name]
        subjects_cn.append(zh.split("|"))
        subjects_en.append(en.split("|"))
        type_of.append(i)
    flat_zh = [s for group in subjects_cn for s in group]
    flat_en = [s for group in subjects_en for s in group]
    start_zh = np.cumsum([0] + [len(g) for g in subjects_cn])
    start_en = np.cumsum([0] + [len(g) for g in subjects_en])
    size_zh, size_en = np.diff(start_zh), np.diff(start_en)
    u = rng.random(n)
    zh = take(strings(flat_zh), start_zh[t.type] + (u * size_zh[t.type]).astype(int))
    en = take(strings(flat_en), start_en[t.type] + (u * size_en[t.type]).astype(int))
    chinese_text = pop.is_cn[t.person] ^ (rng.random(n) < 0.08)
    chinese_text[:1] = True  # the China team's export always holds Chinese text
    return {
        "Case Number": num(t.number, 8),
        "Contact ID": w.recs.crm.key.take(pa.array(t.crm_row)),
        "Subject": where(chinese_text, zh, en),
        "Case Type": take(strings(act.TICKET_TYPES), t.type),
        "Priority": take(strings(["Low", "Medium", "High"]), t.priority),
        "Status": where(t.closed < 0, "Open", "Closed"),
        "Channel": take(strings(["Phone", "Email", "WeChat", "Web"]), t.channel),
        "Opened Date": ts_text(t.opened, offset_hours=8),
        "Closed Date": _opt(ts_text(np.maximum(t.closed, 0), offset_hours=8), t.closed >= 0),
    }


def campaign_members(w: World, c: act.Campaigns) -> dict[str, pa.Array]:
    def opt_ts(v):
        return _opt(iso_z(np.maximum(v, 0)), v >= 0)

    return {
        "Campaign ID": take(strings(c.id), c.member_campaign),
        "Campaign Name": take(strings(c.name), c.member_campaign),
        "Contact ID": w.recs.crm.key.take(pa.array(c.member_crm_row)),
        "Member Group": where(c.treatment, "Treatment", "Control"),
        "Channel": take(strings(c.channel), c.member_campaign),
        "Sent Date": opt_ts(c.sent),
        "Responded Date": opt_ts(c.responded),
        "Converted Date": opt_ts(c.converted),
        "Cost": where(c.cost_cents > 0, decimal_text(c.cost_cents), "0"),
    }


def interactions(w: World, i: act.Interactions) -> dict[str, pa.Array]:
    soc = w.recs.social
    return {
        "interaction_id": cat("si", num(i.number, 10)),
        "platform": take(strings(PLATFORMS), soc.kind[i.social_row]),
        "profile_id": soc.key.take(pa.array(i.social_row)),
        "type": take(strings(["like", "comment", "share", "mention", "message"]), i.type),
        "timestamp": iso_z(i.ts),
        "sentiment": take(strings(["positive", "neutral", "negative"]), i.sentiment),
    }



NEWSLETTER_DAYS_BEFORE_END = (12, 8, 3)  # three sends in the export's last 14 days


def newsletter_members(w: World, end: int, rng: np.random.Generator) -> dict[str, pa.Array]:
    """Recent newsletter sends (treatment only, no control, no response): subscribers (about
    40% of the contacts) get each send with probability 0.8, so many have 2-3 marketing
    messages in the last 14 days, which the contact cap must hold back."""
    crm = w.recs.crm
    n = len(crm.created)
    subscriber = rng.random(n) < 0.4
    ids, names, keys, sent = [], [], [], []
    for k, days in enumerate(NEWSLETTER_DAYS_BEFORE_END):
        send = int(end) - days * 86_400 + 9 * 3600
        rows = np.flatnonzero(subscriber & (crm.created < send) & (rng.random(n) < 0.8))
        ids += [f"701N{k + 1:08d}"] * len(rows)
        names += [f"Newsletter {k + 1} (Email)"] * len(rows)
        keys.append(crm.key.take(pa.array(rows)))
        sent.append(send + rng.integers(0, 3600, len(rows)))
    m = len(ids)
    return {
        "Campaign ID": strings(ids),
        "Campaign Name": strings(names),
        "Contact ID": pa.concat_arrays(keys) if keys else strings([]),
        "Member Group": strings(["Treatment"] * m),
        "Channel": strings(["Email"] * m),
        "Sent Date": iso_z(np.concatenate(sent)),
        "Responded Date": pa.nulls(m, pa.string()),
        "Converted Date": pa.nulls(m, pa.string()),
        "Cost": strings(["0.05"] * m),
    }
