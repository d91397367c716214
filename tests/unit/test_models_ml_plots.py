"""Plots for MLflow (models_ml.plots): lift table figures, headless rendering."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from models_ml.plots import (
    churn_calibration_figure,
    churn_lift_figure,
    clv_distribution_figure,
    lift_table,
    segment_profiles_figure,
)


def test_lift_table_on_a_hand_made_case() -> None:
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    table = lift_table(y, score, bins=5)
    assert table["customers"].tolist() == [2, 2, 2, 2, 2]
    assert table["churn_rate"].tolist() == [1.0, 0.0, 0.5, 0.0, 0.0]
    assert table["lift"].iloc[0] == pytest.approx(1.0 / 0.3)
    assert table["cumulative_capture"].tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1, 1])


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_figures_render_headless() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    prob = np.clip(y * 0.4 + rng.random(500) * 0.6, 0, 1)
    profiles = pd.DataFrame(
        {
            "cluster": [0, 1, 2],
            "size": [10, 20, 30],
            "mean_orders_90d": [1.0, 3.0, 0.5],
            "mean_revenue_90d_cny": [100.0, 900.0, 10.0],
        }
    )
    clv = pd.Series(rng.gamma(1.0, 500, 300))
    tiers = pd.Series(np.where(clv > 800, "top", np.where(clv > 300, "middle", "base")))
    figures = [
        churn_calibration_figure(y, prob),
        churn_lift_figure(y, prob),
        clv_distribution_figure(clv, tiers),
        clv_distribution_figure(clv),
        segment_profiles_figure(profiles),
    ]
    for fig in figures:
        assert _png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    # segment heat map: one row per cluster, one column per profiled feature
    image = figures[-1].axes[0].images[0].get_array()
    assert image.shape == (3, 2)
    assert image[1, 1] > 0 > image[2, 1]  # cluster 1 spends most, cluster 2 least
