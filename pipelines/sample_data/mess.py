"""The mess planted on purpose: phone formats, email case and whitespace, typo choices,
missing values and malformed rows.

Malformed rows are real rows with one value broken (a blank key, an impossible date,
'N/A' in a number); `corrupt` returns how many rows it broke so the counts can be reported.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.sample_data import pools
from pipelines.sample_data.names import places
from pipelines.sample_data.text import cat, choose, digits, num, scatter, slice_, take, where

MALFORMED_SHARE = 0.001
MALFORMED_MIN_ROWS = 50  # smaller files (tiny increments) stay clean


def _parts(d: pa.Array, cuts: list[int]) -> list[pa.Array]:
    edges = [0, *cuts, None]
    return [slice_(d, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _formats(code: str, d: pa.Array) -> list[pa.Array]:
    """National digits written the ways people write them (all parse to one number)."""
    cc = pools.CALLING_CODE[code]
    if code == "CN":
        a, b, c = _parts(d, [3, 7])
        return [d, cat(a, " ", b, " ", c), cat("+86-", a, "-", b, "-", c), cat("0086 ", d),
                cat("+86 ", d), cat(a, "-", b, "-", c), cat("+86", d)]
    if code == "US":
        a, b, c = _parts(d, [3, 6])
        return [cat("(", a, ") ", b, "-", c), cat(a, ".", b, ".", c), cat(a, "-", b, "-", c),
                cat("+1 ", a, " ", b, " ", c), d, cat("+1", d), cat("1-", a, "-", b, "-", c)]
    if code == "GB":
        a, b = _parts(d, [5])
        return [cat(a, " ", b), cat("+44 ", slice_(a, 1), " ", b), d, cat("+44", slice_(d, 1))]
    if code == "DE":
        a, b = _parts(d, [4])
        return [cat(a, " ", b), cat("+49 ", slice_(a, 1), " ", b), cat("+49", slice_(d, 1)),
                cat(a, "/", b)]
    if code == "FR":
        a, b, c, e, f = _parts(d, [2, 4, 6, 8])
        return [cat(a, " ", b, " ", c, " ", e, " ", f),
                cat("+33 ", slice_(a, 1), " ", b, " ", c, " ", e, " ", f), d,
                cat("+33", slice_(d, 1))]
    a, b = _parts(d, [4])  # HK
    return [cat(a, " ", b), cat("+", cc, " ", a, " ", b), d, cat("+", cc, d)]


def phone_text(digits_: pa.Array, country: np.ndarray, rng: np.random.Generator,
               international: bool = False) -> pa.Array:
    """Each phone in a random format of its country; `international`: always with the
    country code (for sources read without a country)."""
    out = pa.nulls(len(digits_), pa.string())
    for c, code in enumerate(pools.COUNTRIES):
        idx = np.flatnonzero(country == c)
        if not len(idx):
            continue
        d = digits_.take(pa.array(idx))
        forms = _formats(code, d)
        if international:
            national = slice_(d, 1) if code in ("GB", "DE", "FR") else d
            forms = [cat("+", pools.CALLING_CODE[code], " ", national),
                     cat("+", pools.CALLING_CODE[code], national)]
        style = rng.integers(0, len(forms), len(idx))
        out = scatter(out, idx, choose(style, *forms))
    return out


def landline(city: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Chinese landline (city area code + 8 digits) in a random format; null elsewhere."""
    pl = places()
    area = pa.array([(a[0] if a and a[0].startswith("0") else None) for a in pl.area],
                    pa.string())
    code = take(area, city)
    n = len(city)
    local = cat(num(rng.integers(2, 9, n)), digits(rng, n, 7))
    a, b = slice_(local, 0, 4), slice_(local, 4)
    return choose(rng.integers(0, 3, n), cat(code, "-", local), cat("(", code, ") ", a, " ", b),
                  cat("+86 ", slice_(code, 1), " ", a, " ", b))


def email_text(email: pa.Array, rng: np.random.Generator, upper: float = 0.04,
               space: float = 0.03) -> pa.Array:
    """Some addresses upper-case or capitalised, some with stray whitespace."""
    n = len(email)
    u = rng.random(n)
    out = where(u < upper, pc.utf8_upper(email),
                where(u < upper * 1.7, pc.utf8_capitalize(email), email))
    s = rng.random(n)
    return where(s < space / 2, cat(" ", out), where(s < space, cat(out, " "), out))


def typo_kind(rng: np.random.Generator, n: int, share: float | np.ndarray) -> np.ndarray:
    """0 = clean, 1 = swapped letters, 2 = dropped letter."""
    return np.where(rng.random(n) < share, rng.integers(1, 3, n), 0)


def n_malformed(n_rows: int) -> int:
    return 0 if n_rows < MALFORMED_MIN_ROWS else max(1, round(n_rows * MALFORMED_SHARE))


def corrupt(columns: dict[str, pa.Array], rng: np.random.Generator,
            breakers: list[tuple[str, list[str | None]]], extra: int = 0
            ) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Break about 0.1% of the rows (plus `extra` rows left for the caller to break): each
    chosen row gets one (column, bad value) from `breakers` (None = blank). Returns the new
    columns and the broken rows (the `extra` ones last, untouched)."""
    n_rows = len(next(iter(columns.values())))
    k = n_malformed(n_rows)
    if not k:
        return columns, np.empty(0, dtype=np.int64)
    picked = rng.choice(n_rows, k + extra, replace=False)
    rows, spare = np.sort(picked[:k]), picked[k:]
    which = rng.integers(0, len(breakers), k)
    out = dict(columns)
    for b, (column, values) in enumerate(breakers):
        sel = rows[which == b]
        if not len(sel):
            continue
        bad = pa.array([values[i] for i in rng.integers(0, len(values), len(sel))], pa.string())
        out[column] = scatter(out[column], sel, bad)
    return out, np.r_[rows, spare]


def bad_dates(year: int, suffix: str = "") -> list[str | None]:
    """Impossible or unreadable dates; `suffix` completes a timestamp (' 10:00:00', ...)."""
    return [f"{year}-02-30{suffix}", "N/A", f"{year}-13-01{suffix}", f"31/04/{year}"]
