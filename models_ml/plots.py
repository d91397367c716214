"""Model plots for MLflow artifacts: segment profiles, CLV distribution, churn calibration, lift.

Figures are drawn with matplotlib's Agg backend (no display, nothing downloaded) and returned
as ``matplotlib.figure.Figure``; ``models_ml.tracking`` logs them with ``mlflow.log_figure``.
None of them carries per-customer rows, only aggregates.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers, Dagster workers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402


def lift_table(y: np.ndarray, score: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Churn rate and lift per score decile, highest scores first (decile 1).

    lift = churn rate in the decile / overall churn rate; cumulative_capture = share of all
    churners found in this and the higher deciles.
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    groups = np.array_split(order, bins)
    base = y.mean() if len(y) else float("nan")
    rows = []
    found = 0.0
    for i, idx in enumerate(groups, start=1):
        rate = float(y[idx].mean()) if len(idx) else float("nan")
        found += y[idx].sum()
        rows.append(
            {
                "decile": i,
                "customers": len(idx),
                "churn_rate": rate,
                "lift": rate / base if base else float("nan"),
                "cumulative_capture": found / y.sum() if y.sum() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def churn_calibration_figure(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> Figure:
    """Reliability diagram: observed churn rate per bin of predicted probability (quantile bins)."""
    observed, predicted = calibration_curve(y, prob, n_bins=bins, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(predicted, observed, marker="o", label="churn model")
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Churn calibration (validation dates)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def churn_lift_figure(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> Figure:
    """Lift per score decile (bars) and the cumulative share of churners captured (line)."""
    table = lift_table(y, prob, bins)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(table["decile"], table["lift"], color="tab:blue", label="lift")
    ax.axhline(1.0, color="grey", linestyle="--")
    ax.set_xlabel("score decile (1 = highest risk)")
    ax.set_ylabel("lift")
    ax2 = ax.twinx()
    ax2.plot(table["decile"], table["cumulative_capture"], color="tab:orange", marker="o")
    ax2.set_ylabel("cumulative share of churners")
    ax2.set_ylim(0, 1.05)
    ax.set_title("Churn lift (validation dates)")
    fig.tight_layout()
    return fig


def clv_distribution_figure(clv: pd.Series, tiers: pd.Series | None = None) -> Figure:
    """Histogram of predicted 12-month CLV (log scale on x), stacked by value tier if given."""
    values = pd.to_numeric(clv, errors="coerce").fillna(0.0).clip(lower=0).to_numpy()
    edges = np.logspace(0, np.log10(max(values.max(), 10.0)) + 0.01, 40)
    fig, ax = plt.subplots(figsize=(7, 4))
    if tiers is None:
        ax.hist(values + 1.0, bins=edges)
    else:
        names = [t for t in ("base", "middle", "top") if t in set(tiers.astype(str))]
        tier_arr = tiers.astype(str).to_numpy()
        ax.hist([values[tier_arr == t] + 1.0 for t in names], bins=edges, stacked=True, label=names)
        ax.legend(title="value tier")
    ax.set_xscale("log")
    ax.set_xlabel("predicted 12-month CLV + 1 (CNY, log scale)")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV distribution ({len(values):,} customers)")
    fig.tight_layout()
    return fig


def segment_profiles_figure(profiles: pd.DataFrame) -> Figure:
    """Heat map of each cluster's feature means, standardised across clusters, with sizes.

    `profiles` is `fit_clusters`' profile frame: cluster, size and mean_<feature> columns.
    """
    mean_cols = [c for c in profiles.columns if c.startswith("mean_")]
    means = profiles[mean_cols].astype(float)
    spread = means.std(ddof=0).replace(0, 1.0)
    z = ((means - means.mean()) / spread).fillna(0.0).to_numpy()
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(mean_cols), 1.5 + 0.5 * len(profiles)))
    image = ax.imshow(z, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(len(mean_cols)), [c.removeprefix("mean_") for c in mean_cols])
    ax.tick_params(axis="x", labelrotation=60)
    labels = [f"cluster {c} (n={s:,})" for c, s in zip(profiles["cluster"], profiles["size"])]
    ax.set_yticks(range(len(profiles)), labels)
    fig.colorbar(image, ax=ax, label="z (across clusters)")
    ax.set_title("Segment profiles")
    fig.tight_layout()
    return fig
