"""CLV and churn benchmark on CDNOW (``make bench-analytics``); prints figures, CPU only.

CDNOW ships inside the archived ``lifetimes`` wheel (installed by the Makefile target without
its dependencies, with ``autograd`` and ``dill`` installed the same way; benchmark only). Its
files are read directly (``lifetimes.datasets`` imports ``pkg_resources``, which is absent);
lifetimes' own BetaGeoFitter and ParetoNBDFitter run beside ours in the same run.

Standard split: calibration = 39 weeks of 1997 up to 1997-09-30, holdout = 1997-10-01 to
1998-06-30. Purchases are counted as purchase days (several orders on one day = one purchase),
as the published 2,357-customer summary does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
import warnings
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from models_ml import churn as churn_mod
from models_ml.clv import (
    _quiet_fit,
    bgnbd_model,
    clv_summary,
    expected_purchases,
    fit_clv,
    fit_purchases,
    predict_from_summary,
)
from models_ml.config import ChurnConfig, ClvConfig

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader et al. 2005
CAL_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)
HOLDOUT_WEEKS = (pd.Timestamp(HOLDOUT_END) - pd.Timestamp(CAL_END)).days / 7.0  # 39.0
CHURN_FEATURES = [
    "days_since_last_order",
    "tenure_days",
    "orders_90d",
    "orders_total",
    "revenue_90d_cny",
    "revenue_total_cny",
    "avg_order_value_cny",
]


def cdnow_dir() -> Path:
    """The lifetimes wheel's datasets folder, found without importing lifetimes."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lifetimes is not installed: run `make bench-analytics`")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets"


def read_cdnow_master(path: Path) -> pd.DataFrame:
    """Orders frame (customer_id, ordered_at, amount_cny) from CDNOW_master.txt (USD)."""
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str),
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount_cny": raw["dollar_value"].astype(float),  # the product's column name
        }
    )


def fit_bgnbd_summary(summary: pd.DataFrame, cfg: ClvConfig) -> dict[str, float]:
    """MAP BG/NBD parameters on a (customer_id, frequency, recency, T) summary."""
    model = bgnbd_model(cfg)
    _quiet_fit(model, summary[["customer_id", "frequency", "recency", "T"]], cfg)
    return {k: float(model.fit_result[k].mean()) for k in PUBLISHED_BGNBD}


def holdout_truth(orders: pd.DataFrame, customers: pd.Series) -> pd.DataFrame:
    """Per customer: purchase days and spend in the holdout window (0 when none)."""
    start, end = pd.Timestamp(CAL_END), pd.Timestamp(HOLDOUT_END)
    hold = orders[(orders["ordered_at"] > start) & (orders["ordered_at"] <= end)].copy()
    hold["day"] = hold["ordered_at"].dt.normalize()
    agg = hold.groupby("customer_id").agg(
        holdout_purchases=("day", "nunique"), holdout_spend=("amount_cny", "sum")
    )
    out = agg.reindex(customers.astype(str).to_numpy()).fillna(0.0)
    out.index.name = "customer_id"
    return out.reset_index()


def snapshot_features(orders: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """The product's churn features (subset available in CDNOW) for customers seen by `snapshot`.

    Orders on the snapshot day count towards the features (as in the product's snapshots).
    """
    seen = orders[orders["ordered_at"] <= snapshot]
    recent = seen[seen["ordered_at"] > snapshot - pd.Timedelta(days=90)]
    g = seen.groupby("customer_id")
    out = pd.DataFrame(
        {
            "days_since_last_order": (snapshot - g["ordered_at"].max()).dt.days,
            "tenure_days": (snapshot - g["ordered_at"].min()).dt.days,
            "orders_total": g.size(),
            "revenue_total_cny": g["amount_cny"].sum(),
        }
    )
    r = recent.groupby("customer_id")
    out["orders_90d"] = r.size().reindex(out.index).fillna(0)
    out["revenue_90d_cny"] = r["amount_cny"].sum().reindex(out.index).fillna(0.0)
    out["avg_order_value_cny"] = out["revenue_total_cny"] / out["orders_total"]
    out = out.astype(float).reset_index()
    out["snapshot_date"] = snapshot
    return out


def churn_product_approach(
    orders: pd.DataFrame,
    cfg: ChurnConfig,
    cal_end: date = CAL_END,
    every_days: int = 14,
    first: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Train the product's churn model on snapshots up to `cal_end` only, score `cal_end`.

    Labels: no order within ``cfg.horizon_days`` after the snapshot, known by `cal_end`; so no
    later information is used. Returns (scores at `cal_end`, train metrics).
    """
    end = pd.Timestamp(cal_end)
    cal = orders[orders["ordered_at"] < end + pd.Timedelta(days=1)]
    last = end - pd.Timedelta(days=cfg.horizon_days)
    first = first if first is not None else cal["ordered_at"].min() + pd.Timedelta(days=28)
    dates = pd.date_range(first.normalize(), last, freq=f"{every_days}D")
    snaps = pd.concat([snapshot_features(cal, d) for d in dates], ignore_index=True)
    labeled = churn_mod.label_snapshots(snaps, cal, cfg.horizon_days, data_end=cal_end)
    model, metrics = churn_mod.train_churn(labeled, CHURN_FEATURES, config=cfg)
    latest = snapshot_features(cal, end)
    return churn_mod.score_churn(model, latest).set_index("customer_id"), metrics


def oof_gb_churn(features: pd.DataFrame, y: np.ndarray, cfg: ChurnConfig) -> np.ndarray:
    """5-fold out-of-fold churn probability of the product's booster on the CAL_END features.

    Cross-sectional reference only: it learns from holdout labels of other customers, which a
    live system would not have at CAL_END.
    """
    x = churn_mod.numeric(features, CHURN_FEATURES)
    out = np.zeros(len(x))
    folds = StratifiedKFold(5, shuffle=True, random_state=cfg.seed)
    for train, test in folds.split(x, y):
        booster = churn_mod._booster(CHURN_FEATURES, cfg, cfg.seed)
        booster.fit(x.iloc[train], y[train])
        out[test] = booster.predict_proba(x.iloc[test])[:, 1]
    return out


def peer_expected(summary: pd.DataFrame, name: str, cfg: ClvConfig) -> np.ndarray | None:
    """A pymc-marketing purchase model's (MAP) expected holdout purchases, or None if it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit_purchases(summary, name, cfg)
            return expected_purchases(model, summary, HOLDOUT_WEEKS)
    except Exception as exc:  # noqa: BLE001 - a peer model; report and carry on
        print(f"  {name} skipped: {type(exc).__name__}: {exc}")
        return None


def lifetimes_expected(summary: pd.DataFrame, note: str = "") -> dict[str, np.ndarray]:
    """lifetimes' own BetaGeoFitter and ParetoNBDFitter (maximum likelihood), if importable;
    `note` is added to each row's label."""
    try:
        from lifetimes import BetaGeoFitter, ParetoNBDFitter
    except Exception as exc:  # noqa: BLE001 - a peer library; say why and carry on
        print(f"  lifetimes not importable: {type(exc).__name__}: {exc}")
        return {}
    out = {}
    x, t_x, big_t = summary["frequency"], summary["recency"], summary["T"]
    for name, cls in ((f"lifetimes BetaGeoFitter{note}", BetaGeoFitter),
                      (f"lifetimes ParetoNBDFitter{note}", ParetoNBDFitter)):  # fmt: skip
        try:
            fitter = cls().fit(x, t_x, big_t)
            pred = fitter.conditional_expected_number_of_purchases_up_to_time(
                HOLDOUT_WEEKS, x, t_x, big_t
            )
            out[name] = np.asarray(pred, dtype=float)
            params = ", ".join(f"{k} {v:.3f}" for k, v in fitter.params_.items())
            print(f"  {name}: {params}")
        except Exception as exc:  # noqa: BLE001
            print(f"  {name} failed: {type(exc).__name__}: {exc}")
    return out


def timing_features(orders: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Purchase-timing features of each customer at `snapshot` (purchase days up to it).

    Inter-purchase gaps (mean, std, min, max, last), recency over the mean and the longest
    gap (the customer's own rhythm), purchase days and spend in 30/60/90/180 days, the share
    of purchase days in the later half of the customer's tenure, first / last / mean spend.
    """
    seen = orders[orders["ordered_at"] <= snapshot]
    d = (
        seen.assign(day=seen["ordered_at"].dt.normalize())
        .groupby(["customer_id", "day"], as_index=False)["amount_cny"]
        .sum()
        .sort_values(["customer_id", "day"])
    )
    d["gap"] = d.groupby("customer_id")["day"].diff().dt.days
    g = d.groupby("customer_id")
    first, last = g["day"].min(), g["day"].max()
    f = pd.DataFrame(
        {
            "recency_days": (snapshot - last).dt.days,
            "tenure_days": (snapshot - first).dt.days,
            "purchase_days": g.size(),
            "spend": g["amount_cny"].sum(),
            "first_spend": g["amount_cny"].first(),
            "last_spend": g["amount_cny"].last(),
            "gap_mean": g["gap"].mean(),
            "gap_std": g["gap"].std(),
            "gap_min": g["gap"].min(),
            "gap_max": g["gap"].max(),
            "gap_last": g["gap"].last(),
        }
    )
    f["mean_spend"] = f["spend"] / f["purchase_days"]
    f["spend_trend"] = f["last_spend"] / f["mean_spend"]
    f["overdue_mean_gap"] = f["recency_days"] / f["gap_mean"]
    f["overdue_max_gap"] = f["recency_days"] / f["gap_max"]
    for w in (30, 60, 90, 180):
        recent = d[d["day"] > snapshot - pd.Timedelta(days=w)].groupby("customer_id")
        f[f"purchase_days_{w}d"] = recent.size().reindex(f.index).fillna(0)
        f[f"spend_{w}d"] = recent["amount_cny"].sum().reindex(f.index).fillna(0)
    mid = d["customer_id"].map(first + (snapshot - first) / 2)
    f["late_share"] = (d["day"] > mid).groupby(d["customer_id"]).mean()
    return f.astype(float)


def oof_churn(x: pd.DataFrame, y: np.ndarray, cfg: ChurnConfig) -> np.ndarray:
    """5-fold out-of-fold churn probability of a HistGB on any feature frame (reference)."""
    cols = list(x.columns)
    out = np.zeros(len(x))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=cfg.seed).split(x, y):
        booster = churn_mod._booster(cols, replace(cfg, monotonic={}), cfg.seed)
        booster.fit(x.iloc[train], y[train])
        out[test] = booster.predict_proba(x.iloc[test])[:, 1]
    return out


def _pct(pred: float, actual: float) -> str:
    return f"{100 * (pred - actual) / actual:+.1f}%"


def _auc_pair(y: np.ndarray, score: np.ndarray) -> str:
    return f"ROC AUC {roc_auc_score(y, score):.3f}  PR AUC {average_precision_score(y, score):.3f}"


def run_cdnow() -> dict[str, float]:
    folder = cdnow_dir()
    clv_cfg, churn_cfg = ClvConfig(), ChurnConfig(n_threads=2)
    results: dict[str, float] = {}

    flat_cfg = replace(clv_cfg, flat_priors=True)
    print("== CDNOW 2,357-customer sample: BG/NBD parameters (published summary file) ==")
    sample = pd.read_csv(folder / "cdnow_customers_summary.csv")
    sample = sample.rename(columns={"ID": "customer_id"})
    fits = {
        "default": fit_bgnbd_summary(sample, clv_cfg),
        "flat": fit_bgnbd_summary(sample, flat_cfg),
    }
    print(f"  {'param':<6} {'published':>10} {'flat priors':>18} {'default priors':>20}")
    for k, pub in PUBLISHED_BGNBD.items():
        cells = []
        for name, fit in fits.items():
            diff = 100 * (fit[k] - pub) / pub
            results[f"param_{k}_{name}_diff_pct"] = diff
            cells.append(f"{fit[k]:>8.3f} ({diff:>+6.2f}%)")
        print(f"  {k:<6} {pub:>10.3f} {cells[1]:>18} {cells[0]:>20}")

    print("\n== CDNOW master (23,570 customers): 39-week calibration, 39-week holdout ==")
    orders = read_cdnow_master(folder / "CDNOW_master.txt")
    as_of = date(1997, 10, 1)  # orders strictly before midnight of as_of = through 1997-09-30
    summary = clv_summary(orders, as_of)
    truth = holdout_truth(orders, summary["customer_id"])
    actual = truth["holdout_purchases"].to_numpy()
    actual_spend = truth["holdout_spend"].to_numpy()
    y = (actual == 0).astype(int)  # churn = no purchase in the holdout

    t0 = time.perf_counter()
    product = fit_clv(orders, as_of, clv_cfg)  # what the product runs: backtest selection
    pred = predict_from_summary(product, summary, horizon_weeks=HOLDOUT_WEEKS)
    print(
        f"  product CLV: backtest inside the calibration period from {product.backtest.as_of} "
        f"({product.selection['backtest_weeks']:.1f} weeks, "
        f"{product.selection['backtest_actual_purchases']:,.0f} purchase days), "
        f"{time.perf_counter() - t0:.0f} s"
    )
    for name in clv_cfg.candidates:
        mae = product.selection.get(f"backtest_mae_{name}", float("nan"))
        agg = product.selection.get(f"backtest_aggregate_pct_{name}", float("nan"))
        mark = "  <- selected" if name == product.purchase_model else ""
        print(f"    {name:<10} backtest MAE {mae:.4f}  aggregate {agg:+.1f}%{mark}")
        results[f"backtest_mae_{name}"] = mae
    rows: dict[str, np.ndarray] = {
        f"ours (product): {product.purchase_model} chosen by backtest, default priors": pred[
            "expected_purchases_12m"
        ].to_numpy(),
    }
    for name, label in (("bgnbd", "BG/NBD"), ("mbgnbd", "MBG/NBD"), ("paretonbd", "Pareto/NBD")):
        for cfg_name, cfg in (("default priors", clv_cfg), ("flat priors", flat_cfg)):
            exp = peer_expected(summary, name, cfg)
            if exp is not None:
                rows[f"pymc-marketing {label}, {cfg_name}"] = exp
    rows |= lifetimes_expected(summary)
    # The usual CDNOW convention (lifetimes' own summaries, the issue's anchors) measures T to
    # the last calibration day; the product measures it to the cut, one day later (clv_summary)
    last_day = summary.assign(T=(summary["T"] * 7 - 1).round() / 7)  # whole days, as recency
    rows |= lifetimes_expected(last_day, ", T to 1997-09-30")
    print(f"  holdout repeat purchase days: actual {actual.sum():,.0f}")
    print(f"  {'model':<62} {'holdout':>8} {'aggregate':>9} {'MAE':>6} {'churn AUC':>9}")
    for label, exp in rows.items():
        key = label.split(":")[0].replace(" ", "_").replace("/", "").lower()
        results[f"{key}_aggregate_pct"] = 100 * (exp.sum() - actual.sum()) / actual.sum()
        results[f"{key}_mae"] = float(np.abs(exp - actual).mean())
        results[f"{key}_churn_auc"] = float(roc_auc_score(y, -exp))
        print(
            f"  {label:<62} {exp.sum():>8,.0f} {_pct(exp.sum(), actual.sum()):>9} "
            f"{results[f'{key}_mae']:>6.3f} {results[f'{key}_churn_auc']:>9.3f}"
        )
    bg_spend = (pred["expected_purchases_12m"] * pred["expected_spend_cny"]).to_numpy()
    print(
        f"  holdout spend: actual {actual_spend.sum():,.0f} USD, product x Gamma-Gamma "
        f"{bg_spend.sum():,.0f} ({_pct(bg_spend.sum(), actual_spend.sum())})"
    )

    print("\n== churn = no purchase in the 39-week holdout ==")
    print(f"  churn rate {y.mean():.3f} on {len(y)} customers")
    t0 = time.perf_counter()
    scores, metrics = churn_product_approach(orders, churn_cfg)
    prob = scores["churn_probability"].reindex(summary["customer_id"].to_numpy()).to_numpy()
    print(
        f"  product churn model: trained on {metrics['n_train']:,} calibration-period snapshot "
        f"rows (90-day labels), {time.perf_counter() - t0:.1f} s"
    )
    print(f"  ours: HistGB on calibration snapshots   {_auc_pair(y, prob)}")
    results["churn_auc_ours"] = float(roc_auc_score(y, prob))
    results["churn_pr_auc_ours"] = float(average_precision_score(y, prob))
    print(f"  (product CLV 1 - P(alive))              {_auc_pair(y, 1 - pred['p_alive'])}")
    cal_end = pd.Timestamp(CAL_END)
    latest = snapshot_features(orders[orders["ordered_at"] <= cal_end], cal_end)
    latest = latest.set_index("customer_id").reindex(summary["customer_id"].to_numpy())
    oof = oof_gb_churn(latest, y, churn_cfg)
    print(f"  reference: HistGB 5-fold OOF on holdout labels, product features {_auc_pair(y, oof)}")
    results["churn_auc_oof_reference"] = float(roc_auc_score(y, oof))
    timing = timing_features(orders, cal_end).reindex(summary["customer_id"].to_numpy())
    timing["clv_expected_purchases"] = pred["expected_purchases_12m"].to_numpy()
    timing["clv_p_alive"] = pred["p_alive"].to_numpy()
    oof_rich = oof_churn(timing, y, churn_cfg)
    print(
        f"  reference: same, {timing.shape[1]} purchase-timing + CLV features "
        f"{_auc_pair(y, oof_rich)}"
    )
    results["churn_auc_oof_timing"] = float(roc_auc_score(y, oof_rich))
    return results


def read_generated(folder: Path) -> pd.DataFrame:
    """Paid shop orders per true person from a generated sample folder.

    Orders are keyed by the true person (truth/person_map.csv), so identity resolution is not
    part of this measurement; amounts are the order currency's figures (no FX conversion).
    """
    files = sorted((folder / "landing" / "shop" / "orders").glob("*.jsonl"))
    rows = []
    for f in files:  # the export has a few broken JSON lines on purpose: skip them
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    raw = pd.DataFrame(rows)
    raw = raw[raw["financial_status"] == "paid"]
    pmap = pd.read_csv(folder / "truth" / "person_map.csv", dtype=str)
    pmap = pmap[pmap["source_system"] == "shop"].drop_duplicates("source_record_id")
    person = raw["customer_id"].astype(str).map(pmap.set_index("source_record_id")["person_id"])
    orders = pd.DataFrame(
        {
            "customer_id": person,
            "ordered_at": pd.to_datetime(raw["created_at"], utc=True, errors="coerce"),
            "amount_cny": pd.to_numeric(raw["total_price"], errors="coerce"),
        }
    ).dropna()
    orders["ordered_at"] = orders["ordered_at"].dt.tz_localize(None)
    return orders.reset_index(drop=True)


def clv_vs_realised(pred: pd.DataFrame, future: pd.DataFrame, weeks: int) -> dict[str, float]:
    """The product CLV's forecast over the next `weeks` against what each customer really
    bought then (`future`: their orders after the cutoff): purchase days and spend in total,
    per customer (MAE, Spearman) and how much of the real spend the predicted top 20% holds."""
    ids = pred["customer_id"].astype(str)
    days = future.assign(day=future["ordered_at"].dt.normalize())
    real_n = days.groupby("customer_id")["day"].nunique().reindex(ids).fillna(0).to_numpy()
    real_v = future.groupby("customer_id")["amount_cny"].sum().reindex(ids).fillna(0).to_numpy()
    exp_n = pred["expected_purchases_12m"].to_numpy()
    exp_v = pred["predicted_clv_12m"].to_numpy()
    top = max(1, int(0.2 * len(ids)))
    captured = real_v[np.argsort(-exp_v, kind="stable")[:top]].sum() / real_v.sum()
    best = np.sort(real_v)[::-1][:top].sum() / real_v.sum()
    out = {
        "purchases_aggregate_pct": 100 * (exp_n.sum() - real_n.sum()) / real_n.sum(),
        "purchases_mae": float(np.abs(exp_n - real_n).mean()),
        "spend_aggregate_pct": 100 * (exp_v.sum() - real_v.sum()) / real_v.sum(),
        "spend_mae": float(np.abs(exp_v - real_v).mean()),
        "spend_spearman": float(pd.Series(exp_v).corr(pd.Series(real_v), method="spearman")),
        "top20_spend_share": float(captured),
        "top20_spend_share_oracle": float(best),
    }
    print(f"  CLV over the next {weeks} weeks vs what the {len(ids):,} buyers really bought:")
    print(f"    purchase days: predicted {exp_n.sum():,.0f}, real {real_n.sum():,.0f} "
          f"({out['purchases_aggregate_pct']:+.1f}%), MAE {out['purchases_mae']:.3f}")
    print(f"    spend: predicted {exp_v.sum():,.0f}, real {real_v.sum():,.0f} "
          f"({out['spend_aggregate_pct']:+.1f}%), MAE {out['spend_mae']:,.1f}, "
          f"Spearman {out['spend_spearman']:.3f}")
    print(f"    the predicted top 20% bought {captured:.1%} of the real spend "
          f"(the real top 20%: {best:.1%})")
    return out


def run_generated(customers: int, seed: int = 11, future_weeks: int = 26) -> dict[str, float]:
    """Churn scores at the export's end vs the generator's true dropouts (buyers only), and
    the CLV forecast vs the next `future_weeks` weeks the generator writes as increments."""
    import tempfile

    from pipelines.sample_data import generate, generate_increment

    end = date(2026, 11, 15)
    print(f"\n== generated sample ({customers:,} people, 104 weeks to {end}): true dropouts ==")
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), customers=customers, seed=seed, end_date=end)
        # the true dropouts by `end`: read before the increments update the truth
        persons = pd.read_csv(Path(tmp) / "truth" / "persons.csv", dtype={"dropout_week": str})
        for k in range(1, future_weeks + 1):  # the same people's next weeks
            generate_increment(Path(tmp), customers, seed, end, increment=k)
        everything = read_generated(Path(tmp))
    cutoff = pd.Timestamp(end) + pd.Timedelta(days=1)
    orders = everything[everything["ordered_at"] < cutoff]
    future = everything[(everything["ordered_at"] >= cutoff)
                        & (everything["ordered_at"] < cutoff + pd.Timedelta(weeks=future_weeks))]
    churn_cfg = ChurnConfig(n_threads=2)
    scores, _ = churn_product_approach(orders, churn_cfg, cal_end=end, every_days=14)
    dropped = persons.set_index("person_id")["dropout_week"].fillna("").ne("")
    ids = scores.index.to_numpy()
    y = dropped.reindex(ids).fillna(False).astype(int).to_numpy()
    clv = fit_clv(orders, cutoff.date(), ClvConfig())
    summary = clv_summary(orders, cutoff.date())
    pred = predict_from_summary(clv, summary, horizon_weeks=13).set_index("customer_id")
    expected = pred["expected_purchases_12m"].reindex(ids).to_numpy()
    p_alive = pred["p_alive"].reindex(ids).to_numpy()
    prob = scores["churn_probability"].to_numpy()
    print(f"  {len(ids):,} buyers, {y.mean():.3f} truly dropped out by {end}")
    print(f"  ours: HistGB on weekly snapshots        {_auc_pair(y, prob)}")
    label = f"product CLV ({clv.purchase_model}) expected purchases 13w"
    print(f"  baseline: {label} {_auc_pair(y, -expected)}")
    print(f"  baseline: product CLV 1 - P(alive)      {_auc_pair(y, 1 - p_alive)}")
    realised = clv_vs_realised(
        predict_from_summary(clv, summary, horizon_weeks=future_weeks), future, future_weeks)
    return {
        "generated_churn_auc_ours": float(roc_auc_score(y, prob)),
        "generated_churn_auc_bgnbd": float(roc_auc_score(y, -expected)),
    } | {f"generated_clv_{k}": v for k, v in realised.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000, help="generated people")
    parser.add_argument("--only", choices=["cdnow", "generated"], help="run one part")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.only != "generated":
        run_cdnow()
    if args.only != "cdnow":
        run_generated(args.customers)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
