"""RFM quintile scores and named segments (models_ml.rfm)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models_ml.rfm import OUTPUT_COLUMNS, SEGMENTS, quintile_score, rfm_scores

AS_OF = date(2024, 7, 1)


def make_orders(n_customers: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_customers):
        for _ in range(1 + rng.poisson(2)):
            rows.append(
                (
                    f"c{i:04d}",
                    pd.Timestamp(AS_OF) - pd.Timedelta(days=int(rng.integers(1, 500))),
                    float(rng.gamma(3, 80)),
                )
            )
    # a recent, frequent, big spender and a one-time buyer from long ago
    for d in range(1, 60, 3):
        rows.append(("champion", pd.Timestamp(AS_OF) - pd.Timedelta(days=d, hours=3), 2000.0))
    rows.append(("gone", pd.Timestamp(AS_OF) - pd.Timedelta(days=600), 20.0))
    # orders on/after as_of are ignored
    rows.append(("future_only", pd.Timestamp(AS_OF) + pd.Timedelta(hours=1), 99.0))
    df = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount_cny"])
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return rfm_scores(make_orders(), AS_OF)


def test_columns_and_one_row_per_customer(scores: pd.DataFrame) -> None:
    assert list(scores.columns) == OUTPUT_COLUMNS
    assert scores["customer_id"].is_unique
    assert "future_only" not in set(scores["customer_id"])
    assert len(scores) == 302


def test_scores_are_quintiles(scores: pd.DataFrame) -> None:
    for col in ("r_score", "f_score", "m_score"):
        assert scores[col].between(1, 5).all()
        assert scores[col].nunique() >= 3
    assert scores["rfm_score"].str.fullmatch(r"[1-5]{3}").all()
    assert (scores["recency_days"] >= 1).all()
    assert set(scores["rfm_segment"]) <= set(SEGMENTS)


def test_named_segments(scores: pd.DataFrame) -> None:
    by_id = scores.set_index("customer_id")
    assert by_id.loc["champion", "rfm_segment"] == "champions"
    assert by_id.loc["champion", "rfm_score"] == "555"
    assert by_id.loc["gone", "rfm_segment"] == "lost"
    assert by_id.loc["gone", "r_score"] == 1


def test_ties_share_a_score() -> None:
    values = pd.Series([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    score = quintile_score(values)
    assert score[values == 1].nunique() == 1
    assert score.iloc[0] == 1 and score.iloc[-1] == 5
    assert score.is_monotonic_increasing


def test_timezone_aware_input_matches_naive() -> None:
    orders = make_orders(50, seed=1)
    aware = orders.assign(ordered_at=orders["ordered_at"].dt.tz_localize("UTC"))
    pd.testing.assert_frame_equal(rfm_scores(orders, AS_OF), rfm_scores(aware, AS_OF))
