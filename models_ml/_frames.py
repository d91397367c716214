"""Small helpers shared by the model modules: input normalising and thread limits."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits


def utc_naive(values: pd.Series) -> pd.Series:
    """Timestamps (naive = UTC, or tz-aware) as naive UTC datetime64."""
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def day(value: date | str | pd.Timestamp) -> pd.Timestamp:
    """A date-like value as a naive midnight timestamp."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def paid_orders_before(orders: pd.DataFrame, as_of: date | str | pd.Timestamp) -> pd.DataFrame:
    """Orders strictly before midnight of `as_of`, with naive UTC `ordered_at`."""
    cols = [c for c in ("customer_id", "order_id", "ordered_at", "amount_cny") if c in orders]
    out = orders[cols].copy()
    out["ordered_at"] = utc_naive(out["ordered_at"])
    if "amount_cny" in out:
        out["amount_cny"] = pd.to_numeric(out["amount_cny"], errors="coerce").astype(float)
    out = out[out["customer_id"].notna() & (out["ordered_at"] < day(as_of))]
    out["customer_id"] = out["customer_id"].astype(str)
    return out


def numeric(frame: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Feature columns as float64 (DuckDB decimals arrive as objects); NaN kept."""
    return frame[list(cols)].apply(pd.to_numeric, errors="coerce").astype(float)


def distinct_rows(frame: pd.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group of equal values in `cols` (missing values equal too), numbered as the
    groups first appear, and the position of each group's first row: compute once per group
    on `frame.iloc[first]`, then spread back with `[codes]`."""
    codes = frame.groupby(list(cols), sort=False, dropna=False).ngroup().to_numpy()
    return codes, np.unique(codes, return_index=True)[1]


@contextmanager
def openmp_threads(n: int | None) -> Iterator[None]:
    """Cap OpenMP threads (HistGradientBoosting, KMeans) inside the block; None = the
    environment's C360_ML_THREADS (default 1; empty or 0 = no cap).

    On a busy machine OpenMP threads that wait for a shared core make small fits many times
    slower (a 12k-row churn fit went from 1 s to 66 s with one core taken by another process;
    a 100k-row booster fit took 180 s on 2 threads and 7-15 s on 1 at load average 18: decision
    0061), so the pipeline fits on one thread unless told otherwise.
    """
    if n is None:
        n = int(os.environ.get("C360_ML_THREADS", "1") or 0)
    if not n:
        yield
        return
    with threadpool_limits(limits=n, user_api="openmp"):
        yield
