"""Vectorised string helpers on Arrow arrays (no per-row Python)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def strings(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def take(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    """pool[idx] per row; a negative index gives null."""
    idx = np.asarray(idx, dtype=np.int64)
    return pool.take(pa.array(idx, mask=idx < 0))


def cat(*parts, sep: str = "", skip_nulls: bool = False) -> pa.Array:
    """Element-wise concatenation of arrays and scalars; null parts give null unless
    `skip_nulls` (then they are left out)."""
    arrays = [p for p in parts if isinstance(p, pa.Array | pa.ChunkedArray)]
    kind = pa.large_string() if any(a.type == pa.large_string() for a in arrays) else pa.string()
    args = [p.cast(kind) if isinstance(p, pa.Array | pa.ChunkedArray) else pa.scalar(p, kind)
            for p in parts]
    if skip_nulls:  # (null_handling='skip' drops all-null rows in some Arrow versions)
        if sep:
            raise ValueError("skip_nulls needs sep=''")
        args = [pc.fill_null(a, "") for a in args]
    return pc.binary_join_element_wise(*args, pa.scalar(sep, kind))


def num(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings, zero-padded to `width`."""
    s = pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())
    return pc.utf8_lpad(s, width, padding="0") if width else s


def digits(rng: np.random.Generator, n: int, k: int) -> pa.Array:
    """n random strings of k decimal digits."""
    if k <= 9:
        return num(rng.integers(0, 10**k, n), k)
    return cat(digits(rng, n, 9), digits(rng, n, k - 9))


def where(mask: np.ndarray, a, b) -> pa.Array:
    """a where mask else b (arrays or scalars)."""
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def choose(idx: np.ndarray, *options) -> pa.Array:
    """options[idx[i]][i] per row; options are arrays of equal length or scalars."""
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    arrays = [o if isinstance(o, pa.Array) else pa.array([o] * n, pa.string()) for o in options]
    return pc.choose(pa.array(idx, pa.int8()), *arrays)


def slice_(values: pa.Array, start: int, stop: int | None = None) -> pa.Array:
    return pc.utf8_slice_codeunits(values, start, stop if stop is not None else 2**31 - 1)


def ts_text(seconds: np.ndarray, sep: str = " ", suffix: str = "",
            offset_hours: np.ndarray | int = 0) -> pa.Array:
    """Epoch seconds (UTC) as 'YYYY-MM-DD<sep>HH:MM:SS<suffix>' in local time (UTC + offset).
    (Arrow's cast to string is ten times faster than strftime.)"""
    local = np.asarray(seconds, dtype=np.int64) + np.asarray(offset_hours, dtype=np.int64) * 3600
    text = pa.array(local.astype("datetime64[s]")).cast(pa.string())
    if sep != " ":
        text = pc.replace_substring(text, " ", sep, max_replacements=1)
    return cat(text, suffix) if suffix else text


def date_text(days: np.ndarray, us_style: np.ndarray | None = None) -> pa.Array:
    """datetime64[D] as 'YYYY-MM-DD', or 'MM/DD/YYYY' where `us_style`."""
    iso = pa.array(np.asarray(days, dtype="datetime64[D]")).cast(pa.string())
    if us_style is None:
        return iso
    us = cat(slice_(iso, 5, 7), "/", slice_(iso, 8, 10), "/", slice_(iso, 0, 4))
    return where(us_style, us, iso)


def offset_text(offset_hours: np.ndarray, colon: bool) -> pa.Array:
    """'+08:00' / '-0500' style offsets."""
    pool = {h: f"{'+' if h >= 0 else '-'}{abs(h):02d}{':' if colon else ''}00"
            for h in range(-12, 15)}
    keys = np.arange(-12, 15)
    return take(strings(pool[h] for h in keys), np.asarray(offset_hours, dtype=np.int64) + 12)


def pick(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """n indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=float)
    return np.searchsorted(np.cumsum(w) / w.sum(), rng.random(n), side="right").clip(0, len(w) - 1)


def scatter(target: pa.Array, idx: np.ndarray, values: pa.Array) -> pa.Array:
    """target with target[idx] = values."""
    pos = np.full(len(target), -1)
    pos[idx] = np.arange(len(idx))
    merged = pa.concat_arrays([values, target])
    src = np.where(pos >= 0, pos, len(values) + np.arange(len(target)))
    return merged.take(pa.array(src))
