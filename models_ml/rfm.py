"""RFM quintile scores and named RFM segments.

Scores are 1..5 (5 best). A customer's score is ``1 + floor(5 * share of customers strictly
worse)``, so tied values always share a score and the lowest value always scores 1 (e.g. all
one-time buyers get F=1 even when they are more than a fifth of the base).

Segments use the common recency x frequency grid (the monetary score only enters ``rfm_score``)::

    R\\F  1               2                   3                   4          5
    5    new_customers   potential_loyalist  potential_loyalist  champions  champions
    4    promising       potential_loyalist  potential_loyalist  loyal      loyal
    3    about_to_sleep  about_to_sleep      need_attention      loyal      loyal
    2    hibernating     hibernating         at_risk             at_risk    cannot_lose_them
    1    lost            lost                at_risk             at_risk    cannot_lose_them

This is the widely used regex map (``[1-2][1-2]`` hibernating, ``[1-2][3-4]`` at_risk,
``[1-2]5`` cannot_lose_them, ``3[1-2]`` about_to_sleep, ``33`` need_attention, ``[3-4][4-5]``
loyal, ``41`` promising, ``51`` new_customers, ``[4-5][2-3]`` potential_loyalist, ``5[4-5]``
champions) with its R=1, F<=2 corner split off as ``lost``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from models_ml._frames import day, paid_orders_before

SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    # index [r - 1][f - 1]
    ("lost", "lost", "at_risk", "at_risk", "cannot_lose_them"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose_them"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    ("new_customers", "potential_loyalist", "potential_loyalist", "champions", "champions"),
)
SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose_them",
    "hibernating",
    "lost",
)
OUTPUT_COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary_cny",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "rfm_segment",
]


def quintile_score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """1..5 score from the share of rows strictly worse than each value (ties share a score)."""
    n = len(values)
    if n == 0:
        return pd.Series([], dtype="int64", index=values.index)
    worse_or_self = values.rank(method="min", ascending=higher_is_better)  # 1 + strictly worse
    score = 1 + np.floor(5 * (worse_or_self.to_numpy() - 1) / n)
    return pd.Series(np.clip(score, 1, 5).astype("int64"), index=values.index)


def segment_of(r_score: pd.Series, f_score: pd.Series) -> pd.Series:
    """Named segment from R and F scores (see module docstring)."""
    grid = np.array(SEGMENT_GRID, dtype=object)
    names = grid[r_score.to_numpy() - 1, f_score.to_numpy() - 1]
    return pd.Series(names, index=r_score.index, dtype="string")


def rfm_scores(orders: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """RFM table for every customer with a paid order before `as_of` (exclusive, midnight UTC).

    recency_days = days from the last order's date to `as_of`; frequency = distinct orders;
    monetary_cny = total paid amount. Returns OUTPUT_COLUMNS, one row per customer.
    """
    paid = paid_orders_before(orders, as_of)
    if paid.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OUTPUT_COLUMNS})
    order_key = "order_id" if "order_id" in paid else "ordered_at"
    agg = (
        paid.groupby("customer_id", sort=True)
        .agg(
            last_order=("ordered_at", "max"),
            frequency=(order_key, "nunique"),
            monetary_cny=("amount_cny", "sum"),
        )
        .reset_index()
    )
    agg["recency_days"] = (day(as_of) - agg["last_order"].dt.normalize()).dt.days.astype("int64")
    agg["frequency"] = agg["frequency"].astype("int64")
    agg["monetary_cny"] = agg["monetary_cny"].astype(float)
    agg["r_score"] = quintile_score(agg["recency_days"], higher_is_better=False)
    agg["f_score"] = quintile_score(agg["frequency"])
    agg["m_score"] = quintile_score(agg["monetary_cny"])
    agg["rfm_score"] = (
        agg["r_score"].astype(str) + agg["f_score"].astype(str) + agg["m_score"].astype(str)
    )
    agg["rfm_segment"] = segment_of(agg["r_score"], agg["f_score"])
    return agg[OUTPUT_COLUMNS]
