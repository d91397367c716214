"""Churn: labels from future orders, a time-split calibrated HistGradientBoosting, reasons.

churned = 1 when a customer places no paid order in (snapshot_date, snapshot_date + horizon].
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models_ml._frames import day, distinct_rows, numeric, openmp_threads, utc_naive
from models_ml.config import ChurnConfig, ClvConfig

REFERENCE_ROWS = 20_000  # rows of the drift reference sample (bin shares to ~0.3 points)
SCORE_COLUMNS = [
    "customer_id",
    "snapshot_date",
    "churn_probability",
    "risk_band",
    "reason_1",
    "reason_2",
    "reason_3",
]


@dataclass
class ChurnModel:
    """Calibrated classifier plus what scoring and reason codes need."""

    estimator: CalibratedClassifierCV  # sklearn; predict_proba(frame[feature_cols])[:, 1]
    base: HistGradientBoostingClassifier  # the uncalibrated booster inside `estimator`
    feature_cols: list[str]
    reference: dict[str, float]  # training medians, the "typical customer" for reasons
    config: ChurnConfig = field(default_factory=ChurnConfig)
    # the model validated on the later dates, before the refit on all dates (for backtests)
    validated: ChurnModel | None = None
    # validation rows' labels and calibrated probabilities (no ids): plots, drift reference
    validation: pd.DataFrame | None = None
    # training rows of the newest labeled weeks (the final calibration dates), sampled, no ids:
    # the reference distribution for drift (PSI) of inputs and score (decision 0088)
    training_sample: pd.DataFrame | None = None
    # first and last snapshot date of those rows (ISO dates)
    reference_dates: tuple[str, str] | None = None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability for each row."""
        return self.estimator.predict_proba(numeric(frame, self.feature_cols))[:, 1]


def _dates(values: pd.Series) -> pd.Series:
    """Snapshot dates (date objects, strings or timestamps) as naive midnight timestamps."""
    ts = pd.to_datetime(values)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.dt.normalize().astype("datetime64[ns]")


def label_snapshots(
    snapshots: pd.DataFrame,
    orders: pd.DataFrame,
    horizon_days: int = ChurnConfig.horizon_days,
    data_end: date | None = None,
) -> pd.DataFrame:
    """Add `churned` (1.0 / 0.0, NaN when the horizon passes `data_end`).

    A snapshot is labeled only when snapshot_date + horizon <= data_end (default: the last order
    date). Order days are UTC dates of ``ordered_at``; an order on the snapshot day itself does
    not count (it belongs to the snapshot's features).
    """
    out = snapshots.copy()
    snap_day = _dates(out["snapshot_date"])
    orders = orders[orders["customer_id"].notna()]
    paid = (
        pd.DataFrame(
            {
                "customer_id": orders["customer_id"].astype(str),
                "order_day": utc_naive(orders["ordered_at"])
                .dt.normalize()
                .astype("datetime64[ns]"),
            }
        )
        .dropna()
        .drop_duplicates()
    )
    end = day(data_end) if data_end is not None else paid["order_day"].max()

    keys = pd.DataFrame(
        {
            "row": np.arange(len(out)),
            "customer_id": out["customer_id"].astype(str).to_numpy(),
            "snap_day": snap_day.to_numpy(),
        }
    ).sort_values("snap_day", kind="stable")
    nxt = pd.merge_asof(
        keys,
        paid.sort_values("order_day").rename(columns={"order_day": "next_order"}),
        left_on="snap_day",
        right_on="next_order",
        by="customer_id",
        direction="forward",
        allow_exact_matches=False,  # strictly after the snapshot day
    ).sort_values("row")
    horizon_end = nxt["snap_day"] + pd.Timedelta(days=horizon_days)
    churned = np.where(nxt["next_order"].notna() & (nxt["next_order"] <= horizon_end), 0.0, 1.0)
    churned[(horizon_end > end).to_numpy()] = np.nan
    out["churned"] = churned
    return out


def _calibration_split(dates: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(older dates to fit the booster, latest dates to calibrate it)."""
    n_calib = min(max(1, round(fraction * len(dates))), len(dates) - 1)
    return dates[:-n_calib], dates[-n_calib:]


def _split_dates(dates: np.ndarray, cfg: ChurnConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit dates, calibration dates, validation dates), oldest first, disjoint in time."""
    if len(dates) < 3:
        raise ValueError(f"need at least 3 labeled snapshot dates, got {len(dates)}")
    n_train = min(max(2, math.ceil(cfg.train_fraction * len(dates))), len(dates) - 1)
    train, valid = dates[:n_train], dates[n_train:]
    if cfg.embargo_days:
        valid = valid[valid > train[-1] + np.timedelta64(cfg.embargo_days, "D")]
        if not len(valid):
            raise ValueError(f"no validation dates left after a {cfg.embargo_days}-day embargo")
    return (*_calibration_split(train, cfg.calibration_fraction), valid)


def _booster(
    feature_cols: Sequence[str], cfg: ChurnConfig, seed: int
) -> HistGradientBoostingClassifier:
    monotonic = {c: s for c, s in cfg.monotonic.items() if c in feature_cols}
    return HistGradientBoostingClassifier(
        max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate,
        max_leaf_nodes=cfg.max_leaf_nodes,
        l2_regularization=cfg.l2_regularization,
        monotonic_cst=monotonic or None,
        early_stopping=False,
        random_state=seed,
    )


def _fit_calibrated(
    data: pd.DataFrame,
    fit_dates: np.ndarray,
    calib_dates: np.ndarray,
    feature_cols: list[str],
    cfg: ChurnConfig,
    seed: int,
) -> ChurnModel:
    """Booster on `fit_dates`, frozen, then calibrated on `calib_dates` (prefit-style)."""
    fit, calib = data[data["_day"].isin(fit_dates)], data[data["_day"].isin(calib_dates)]
    x_fit = numeric(fit, feature_cols)
    base = _booster(feature_cols, cfg, seed).fit(x_fit, fit["churned"].astype(int))
    method = "isotonic" if len(calib) >= cfg.isotonic_min_rows else "sigmoid"
    # FrozenEstimator replaces the removed cv="prefit": nothing is refitted, and the folds of
    # cv only split the calibration rows between identical frozen predictions (2 = cheapest).
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method=method, cv=2)
    calibrated.fit(numeric(calib, feature_cols), calib["churned"].astype(int))
    reference = x_fit.median().fillna(0.0).to_dict()
    return ChurnModel(calibrated, base, feature_cols, reference, cfg)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def _day_str(value: np.datetime64) -> str:
    return str(pd.Timestamp(value).date())


def train_churn(
    labeled: pd.DataFrame,
    feature_cols: Sequence[str],
    seed: int | None = None,
    config: ChurnConfig | None = None,
) -> tuple[ChurnModel, dict[str, Any]]:
    """Train on the older ~70 % of labeled snapshot dates, validate on the later ones.

    The booster (NaN-aware, monotonic in days_since_last_order) is fitted on the oldest training
    dates and calibrated (FrozenEstimator + CalibratedClassifierCV; isotonic from 1000 rows,
    else sigmoid) on the latest training dates; validation dates are never seen in fitting.
    Metrics on validation: roc_auc, pr_auc, brier, log_loss and baseline_auc_days_since_last_order
    (the raw feature as the score), plus the date ranges used.

    With ``config.refit_on_all`` (default) the returned model is then refitted the same way on
    all labeled dates (booster on the older ones, calibration on the latest
    ``calibration_fraction``); the ``final_*`` metrics describe that fit. Otherwise the returned
    model is exactly the validated one.
    """
    cfg = config or ChurnConfig()
    with openmp_threads(cfg.n_threads):
        return _train(labeled, list(feature_cols), cfg.seed if seed is None else seed, cfg)


def _train(
    labeled: pd.DataFrame, feature_cols: list[str], seed: int, cfg: ChurnConfig
) -> tuple[ChurnModel, dict[str, Any]]:
    start = time.perf_counter()
    data = labeled[labeled["churned"].notna()].copy()
    data["_day"] = _dates(data["snapshot_date"])
    all_dates = np.sort(data["_day"].unique())
    fit_d, calib_d, valid_d = _split_dates(all_dates, cfg)

    model = _fit_calibrated(data, fit_d, calib_d, feature_cols, cfg, seed)
    valid = data[data["_day"].isin(valid_d)]
    x_valid, yv = numeric(valid, feature_cols), valid["churned"].astype(int).to_numpy()
    p = np.clip(model.estimator.predict_proba(x_valid)[:, 1], 1e-6, 1 - 1e-6)
    y_fit = data.loc[data["_day"].isin(fit_d), "churned"]
    metrics: dict[str, Any] = {
        "roc_auc": _auc(yv, p),
        "pr_auc": float(average_precision_score(yv, p)) if yv.any() else float("nan"),
        "brier": float(brier_score_loss(yv, p)),
        "log_loss": float(log_loss(yv, p, labels=[0, 1])),
        "roc_auc_uncalibrated": _auc(yv, model.base.predict_proba(x_valid)[:, 1]),
    }
    if "days_since_last_order" in feature_cols:
        # never ordered ranks as the longest gap (roc_auc_score rejects infinity)
        days = x_valid["days_since_last_order"]
        baseline = days.fillna(days.max() + 1).fillna(0).to_numpy()
        metrics["baseline_auc_days_since_last_order"] = _auc(yv, baseline)
    metrics |= {
        "n_train": len(y_fit),
        "n_calibration": int(data["_day"].isin(calib_d).sum()),
        "n_valid": len(yv),
        "churn_rate_train": float(y_fit.mean()),
        "churn_rate_valid": float(yv.mean()),
        "calibration_method": model.estimator.method,
        "train_min_date": _day_str(fit_d[0]),
        "train_max_date": _day_str(calib_d[-1]),
        "calibration_min_date": _day_str(calib_d[0]),
        "valid_min_date": _day_str(valid_d[0]),
        "valid_max_date": _day_str(valid_d[-1]),
    }
    if cfg.refit_on_all:
        final_fit, final_calib = _calibration_split(all_dates, cfg.calibration_fraction)
        validated = model
        model = _fit_calibrated(data, final_fit, final_calib, feature_cols, cfg, seed)
        model.validated = validated
        metrics |= {
            "final_train_max_date": _day_str(final_fit[-1]),
            "final_calibration_min_date": _day_str(final_calib[0]),
            "final_calibration_max_date": _day_str(final_calib[-1]),
        }
        calib_d = final_calib
    model.validation = pd.DataFrame({"churned": yv, "churn_probability": p})
    # the drift reference: the newest labeled weeks the returned model was trained on (its
    # calibration dates), not all of them: a year of weeks pools customers whose histories and
    # recency trend with the calendar, so the scored week differs from the pool even for a
    # model trained on it this very run (1M: score PSI 0.31 vs 0.007, decision 0088)
    recent = numeric(data[data["_day"].isin(calib_d)], feature_cols)
    model.training_sample = recent.sample(min(len(recent), REFERENCE_ROWS), random_state=seed)
    model.reference_dates = (_day_str(calib_d[0]), _day_str(calib_d[-1]))
    metrics["fit_seconds"] = time.perf_counter() - start
    return model, metrics


# --- reasons ---------------------------------------------------------------------------------


def _n(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def _count(singular: str, plural: str, window: str) -> Callable[[float, float], str]:
    def phrase(v: float, ref: float) -> str:
        if v == 0:
            return f"no {plural} {window}"
        noun = singular if v == 1 else plural
        return f"{'only ' if v < ref else ''}{_n(v)} {noun} {window}"

    return phrase


def _money(window: str) -> Callable[[float, float], str]:
    def phrase(v: float, ref: float) -> str:
        if v == 0:
            return f"nothing spent {window}"
        return f"{'only ' if v < ref else ''}{v:,.0f} CNY spent {window}"

    return phrase


def _days(v: float, ref: float) -> str:
    return f"customer for only {_n(v)} days" if v < ref else f"customer for {_n(v)} days"


_REASONS: dict[str, Callable[[float, float], str]] = {
    "days_since_last_order": lambda v, ref: f"no order for {_n(v)} days",
    "tenure_days": _days,
    "orders_90d": _count("order", "orders", "in 90 days"),
    "orders_365d": _count("order", "orders", "in 365 days"),
    "orders_total": _count("order", "orders", "in total"),
    "revenue_90d_cny": _money("in 90 days"),
    "revenue_365d_cny": _money("in 365 days"),
    "revenue_total_cny": _money("in total"),
    "avg_order_value_cny": lambda v, ref: f"average order {v:,.0f} CNY",
    "refunds_365d": _count("refund", "refunds", "in 365 days"),
    "distinct_categories_365d": _count("category", "categories", "bought in 365 days"),
    "distinct_categories_total": _count("category", "categories", "bought in total"),
    "tickets_90d": _count("support ticket", "support tickets", "in 90 days"),
    "complaints_90d": _count("complaint", "complaints", "in 90 days"),
    "complaints_365d": _count("complaint", "complaints", "in 365 days"),
    "social_interactions_90d": _count("social interaction", "social interactions", "in 90 days"),
    "campaign_responses_365d": _count("campaign response", "campaign responses", "in 365 days"),
}


def reason_text(feature: str, value: float, reference: float) -> str:
    """A feature value in words, e.g. 'no order for 120 days', '2 complaints in 90 days'.

    Missing values read as 0 (counts and amounts are null when nothing happened), except a
    missing days_since_last_order, which means no order on record.
    """
    if value is None or not np.isfinite(value):
        if feature == "days_since_last_order":
            return "no order on record"
        value = 0.0
    phrase = _REASONS.get(feature)
    if phrase is None:
        return f"{feature.replace('_', ' ')} {'high' if value > reference else 'low'} ({_n(value)})"
    return phrase(float(value), float(reference))


def contributions(model: ChurnModel, x: pd.DataFrame) -> np.ndarray:
    """Rows x features: exact tree SHAP values of the uncalibrated booster (log-odds of churn).

    Positive = the value raises the risk versus the training data's average prediction; each
    row adds up to the booster's raw score minus the explainer's expected value. The booster
    is explained rather than the calibrated output: isotonic calibration is piecewise flat and
    monotonic, so it keeps the ranking of reasons but would hide small effects.
    """
    return tree_shap(model.base, x.to_numpy(dtype=float))


def tree_shap(booster: Any, x: np.ndarray) -> np.ndarray:
    """shap's exact (path-dependent) TreeSHAP of a tree ensemble, computed tree by tree for
    each distinct path pattern only, then summed over the trees (SHAP values are additive).

    Within one tree a row's SHAP values depend on its values only through which side of each
    of that tree's splits they fall (or that they are missing): rows with the same interval
    between the tree's thresholds on every feature it splits on get the same values. A tree
    of 31 leaves sees a few thousand patterns among a million customers, so this is ~40x
    faster than explaining every row (decision 0069), and equal to it to ~1e-14.
    """
    import shap  # imported here: ~1 s, only needed when scoring

    trees = shap.TreeExplainer(booster).model.trees
    n, d = x.shape
    splits = [(t.features[t.children_left >= 0], t.thresholds[t.children_left >= 0])
              for t in trees]
    cuts = [np.unique(np.concatenate([th[f == j] for f, th in splits])) for j in range(d)]
    # per feature: how many thresholds of any tree lie below the value; missing: one past all
    codes = [np.where(np.isnan(x[:, j]), len(cuts[j]) + 1, np.searchsorted(cuts[j], x[:, j]))
             for j in range(d)]
    phi = np.zeros((d, n))
    for tree, (features, thresholds) in zip(trees, splits, strict=True):
        used = np.unique(features)
        pattern, size = np.zeros(n, dtype=np.int64), 1
        for j in used:
            # this tree's interval of the value: its thresholds below it (missing: its own)
            own = np.searchsorted(cuts[j], np.unique(thresholds[features == j]))
            interval = np.searchsorted(own, np.arange(len(cuts[j]) + 2))
            interval[-1] = len(own) + 1
            if size * (len(own) + 2) >= 2**62:  # renumber before the key could overflow
                pattern, _ = pd.factorize(pattern)
                size = int(pattern.max()) + 1
            pattern = pattern * (len(own) + 2) + interval[codes[j]]
            size *= len(own) + 2
        which, distinct = pd.factorize(pattern)
        first = np.empty(len(distinct), dtype=np.int64)
        first[which[::-1]] = np.arange(n - 1, -1, -1)  # a row of each pattern
        values = np.asarray(shap.TreeExplainer([tree]).shap_values(x[first]), dtype=float)
        for j in used:
            phi[j] += values[:, j].take(which)
    return phi.T


def score_churn(
    model: ChurnModel,
    latest_snapshot: pd.DataFrame,
    feature_cols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Churn probability, risk band (high >= 0.6, medium >= 0.3, else low) and top-3 reasons.

    Reasons are the features with the largest positive SHAP values (they raise this customer's
    risk most), in words, compared with a typical (median) customer; fewer than three with a
    SHAP value of at least ``min_reason_shap`` leave empty strings.
    """
    cfg = model.config
    cols = list(feature_cols) if feature_cols is not None else model.feature_cols
    if cols != model.feature_cols:
        raise ValueError("feature_cols differ from the columns the model was trained on")
    x_all = numeric(latest_snapshot, cols)
    # a score and its reasons depend on the feature values only: computed once per distinct
    # row (at 1M customers a third of them share theirs with another customer)
    codes, first = distinct_rows(x_all, cols)
    x = x_all.iloc[first].reset_index(drop=True)
    with openmp_threads(cfg.n_threads):
        prob = model.estimator.predict_proba(x)[:, 1]
        delta = contributions(model, x)
    band = np.where(
        prob >= cfg.high_risk, "high", np.where(prob >= cfg.medium_risk, "medium", "low")
    )

    k = min(3, cfg.n_reasons, len(cols))
    top = np.argsort(-delta, axis=1, kind="stable")[:, :k]
    values = x.to_numpy()
    reasons = np.full((len(x), 3), "", dtype=object)
    for j, col in enumerate(cols):  # words per feature, only where that feature is a top reason
        rows, ranks = np.nonzero(top == j)
        strong = delta[rows, j] >= cfg.min_reason_shap
        rows, ranks = rows[strong], ranks[strong]
        ref = model.reference[col]
        # one text per distinct value (a million customers hold a few thousand per feature)
        distinct, which = np.unique(values[rows, j].astype(float), return_inverse=True)
        texts = np.array([reason_text(col, v, ref) for v in distinct], dtype=object)
        reasons[rows, ranks] = texts[which.reshape(-1)]

    out = pd.DataFrame(
        {
            "customer_id": latest_snapshot["customer_id"].astype(str).to_numpy(),
            "snapshot_date": _dates(latest_snapshot["snapshot_date"]).dt.date.to_numpy(),
            "churn_probability": prob[codes],
            "risk_band": band[codes],
        }
    )
    for i in range(3):
        out[f"reason_{i + 1}"] = reasons[codes, i]  # by strength: no gaps before a reason
    return out[SCORE_COLUMNS]


def clv_baseline_auc(
    labeled: pd.DataFrame,
    orders: pd.DataFrame,
    on_date: str | date,
    horizon_days: int = ChurnConfig.horizon_days,
) -> float:
    """ROC AUC of minus the BG/NBD expected purchases over the churn horizon, on one date.

    The CLV model is fitted on paid orders up to and including `on_date` and scores the labeled
    snapshot rows of that date: the baseline a churn model should beat. (P(alive) is not used:
    it is highest for one-time buyers with little history and ranks churn backwards.)
    """
    from models_ml.clv import fit_clv, predict_clv  # PyMC import only when asked

    data = labeled[labeled["churned"].notna()]
    rows = data[_dates(data["snapshot_date"]) == pd.Timestamp(on_date)]
    as_of = pd.Timestamp(on_date) + pd.Timedelta(days=1)
    if rows.empty or not (utc_naive(orders["ordered_at"]) < as_of).any():
        return float("nan")
    # the baseline is the default purchase model (BG/NBD), fitted once: the model selection by
    # backtest belongs to the value asset and would cost three more fits here, and the
    # Gamma-Gamma spend model one more that the expected purchases do not use
    clv = fit_clv(orders, as_of, ClvConfig(purchase_model=ClvConfig.fallback_model,
                                           min_backtest_weeks=float("inf"),
                                           min_repeat_customers=sys.maxsize))
    pred = predict_clv(clv, orders, as_of, horizon_weeks=horizon_days / 7.0)
    expected = pred.set_index("customer_id")["expected_purchases_12m"]
    score = -expected.reindex(rows["customer_id"].astype(str).to_numpy()).fillna(0.0).to_numpy()
    return _auc(rows["churned"].astype(int).to_numpy(), score)


def drift_reference(model: ChurnModel) -> dict[str, Any]:
    """The PSI reference stored with the model (models_ml.drift): bins and shares of each
    input and of the model's own churn_probability on its reference rows (the training rows
    of its newest labeled weeks, ``model.training_sample``), plus their date range."""
    from models_ml import drift

    if model.training_sample is None:
        raise ValueError("the model carries no training sample (loaded from the registry?)")
    sample = model.training_sample.assign(
        churn_probability=model.predict_proba(model.training_sample)
    )
    ref = drift.reference(sample, [*model.feature_cols, "churn_probability"])
    if model.reference_dates is not None:
        ref["_dates"] = list(model.reference_dates)
    return ref


def backtest_auc(model: ChurnModel, rows: pd.DataFrame) -> float:
    """ROC AUC of `model` (its validated version when it has one) on labeled `rows`."""
    scorer = model.validated or model
    y = rows["churned"].astype(int).to_numpy()
    return _auc(y, scorer.predict_proba(rows)) if len(rows) else float("nan")


def from_estimator(
    estimator: CalibratedClassifierCV,
    feature_cols: Sequence[str],
    reference: dict[str, float],
    config: ChurnConfig | None = None,
) -> ChurnModel:
    """A ChurnModel around a calibrated estimator loaded back from the registry."""
    inner = estimator.calibrated_classifiers_[0].estimator
    base = getattr(inner, "estimator", inner)  # FrozenEstimator wraps the booster
    return ChurnModel(estimator, base, list(feature_cols), dict(reference), config or ChurnConfig())


def champion_backtest(
    challenger: ChurnModel,
    champion: ChurnModel | None,
    labeled: pd.DataFrame,
    valid_from: str,
    champion_train_end: str | None,
) -> tuple[float, float | None, str]:
    """(challenger AUC, champion AUC, description) on the same rows, unseen by both.

    The rows are the labeled snapshots from `valid_from` (the challenger's first validation
    date, so its validated model has not seen them) and after `champion_train_end` (the last
    date the champion was fitted or calibrated on). No champion or no such rows: the
    challenger's own validation AUC and None.
    """
    data = labeled[labeled["churned"].notna()]
    days = _dates(data["snapshot_date"])
    rows = data[days >= pd.Timestamp(valid_from)]
    if champion is None or champion_train_end is None:
        return backtest_auc(challenger, rows), None, "no champion: challenger validation dates"
    rows = rows[_dates(rows["snapshot_date"]) > pd.Timestamp(champion_train_end)]
    if rows.empty or rows["churned"].nunique() < 2:
        return float("nan"), None, f"no labeled dates after {champion_train_end} to compare on"
    first, last = _dates(rows["snapshot_date"]).min(), _dates(rows["snapshot_date"]).max()
    described = f"{len(rows)} snapshot rows {first.date()}..{last.date()}"
    return backtest_auc(challenger, rows), backtest_auc(champion, rows), described


def snapshots_sql(columns: Sequence[str], total_rows: int, max_rows: int,
                  table: str = "marts.customer_features_weekly") -> str:
    """The weekly snapshots the churn asset reads: only `columns`, and when the table holds
    more than `max_rows` rows, all rows of the newest week (it is scored) plus the older
    weeks of a repeatable sample of customers (a hash of the id) sized to about `max_rows`:
    the same customers in every week, so labels and windows stay whole per customer."""
    select = f"select {', '.join(columns)} from {table}"
    order = " order by snapshot_date, customer_id"
    if total_rows <= max_rows:
        return select + order
    share = max(1, int(1_000_000 * max_rows / total_rows))
    return (f"{select} where snapshot_date = (select max(snapshot_date) from {table}) "
            f"or hash(customer_id) % 1000000 < {share}{order}")
