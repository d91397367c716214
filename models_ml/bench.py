"""CLV and churn benchmark on CDNOW (``make bench-analytics``); prints figures, CPU only.

CDNOW ships inside the archived ``lifetimes`` wheel (installed by the Makefile target without
its dependencies, benchmark only). Its files are read directly: ``import lifetimes`` needs
``dill`` and ``autograd``, which are not installed, so lifetimes' own models are not run.

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
from models_ml.clv import _quiet_fit, bgnbd_model, clv_summary, fit_clv, predict_from_summary
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


def pareto_expected(summary: pd.DataFrame, cfg: ClvConfig) -> np.ndarray | None:
    """Pareto/NBD (pymc-marketing, MAP) expected holdout purchases, or None if it fails."""
    try:
        from pymc_marketing.clv import ParetoNBDModel

        model = ParetoNBDModel(data=summary[["customer_id", "frequency", "recency", "T"]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(method="map", progressbar=False, maxeval=cfg.map_maxeval, seed=cfg.seed)
            exp = model.expected_purchases(future_t=HOLDOUT_WEEKS)
        dims = [d for d in ("chain", "draw") if d in exp.dims]
        series = (exp.mean(dims) if dims else exp).to_series()
        return series.reindex(summary["customer_id"].to_numpy()).to_numpy(dtype=float)
    except Exception as exc:  # noqa: BLE001 - a peer model; report and carry on
        print(f"  Pareto/NBD skipped: {type(exc).__name__}: {exc}")
        return None


def _pct(pred: float, actual: float) -> str:
    return f"{100 * (pred - actual) / actual:+.1f}%"


def _auc_pair(y: np.ndarray, score: np.ndarray) -> str:
    return f"ROC AUC {roc_auc_score(y, score):.3f}  PR AUC {average_precision_score(y, score):.3f}"


def run_cdnow(with_pareto: bool = True) -> dict[str, float]:
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
    t0 = time.perf_counter()
    summary = clv_summary(orders, as_of)
    preds = {}
    for name, cfg in (("flat", flat_cfg), ("default", clv_cfg)):
        clv = fit_clv(orders, as_of, cfg)
        preds[name] = predict_from_summary(clv, summary, horizon_weeks=HOLDOUT_WEEKS)
    pred = preds["flat"]
    print(f"  2 x BG/NBD + Gamma-Gamma fits {time.perf_counter() - t0:.1f} s, {len(summary)} rows")
    truth = holdout_truth(orders, summary["customer_id"])
    actual = truth["holdout_purchases"].to_numpy()
    actual_spend = truth["holdout_spend"].to_numpy()
    bg = pred["expected_purchases_12m"].to_numpy()  # 39-week horizon here
    bg_spend = (pred["expected_purchases_12m"] * pred["expected_spend_cny"]).to_numpy()
    results |= {
        "bgnbd_aggregate_pct": 100 * (bg.sum() - actual.sum()) / actual.sum(),
        "bgnbd_mae": float(np.abs(bg - actual).mean()),
        "bgnbd_spend_pct": 100 * (bg_spend.sum() - actual_spend.sum()) / actual_spend.sum(),
    }
    print(f"  holdout repeat purchase days: actual {actual.sum():,.0f}")
    print(
        f"  BG/NBD flat priors     {bg.sum():>9,.0f} ({_pct(bg.sum(), actual.sum())})"
        f"  per-customer MAE {results['bgnbd_mae']:.3f}"
    )
    default = preds["default"]["expected_purchases_12m"].to_numpy()
    results["bgnbd_default_aggregate_pct"] = 100 * (default.sum() - actual.sum()) / actual.sum()
    print(
        f"  BG/NBD default priors {default.sum():>9,.0f} ({_pct(default.sum(), actual.sum())})"
        f"  per-customer MAE {np.abs(default - actual).mean():.3f}"
    )
    print(
        f"  holdout spend: actual {actual_spend.sum():,.0f} USD, BG/NBD x Gamma-Gamma "
        f"{bg_spend.sum():,.0f} ({_pct(bg_spend.sum(), actual_spend.sum())})"
    )
    pareto = pareto_expected(summary, clv_cfg) if with_pareto else None
    if pareto is not None:
        results["pareto_aggregate_pct"] = 100 * (pareto.sum() - actual.sum()) / actual.sum()
        results["pareto_mae"] = float(np.abs(pareto - actual).mean())
        print(
            f"  Pareto/NBD (default)  {pareto.sum():>9,.0f} ({_pct(pareto.sum(), actual.sum())})"
            f"  per-customer MAE {results['pareto_mae']:.3f}"
        )

    print("\n== churn = no purchase in the 39-week holdout ==")
    y = (actual == 0).astype(int)
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
    print(f"  baseline: BG/NBD expected purchases     {_auc_pair(y, -bg)}")
    print(f"  (BG/NBD 1 - P(alive), backwards)        {_auc_pair(y, 1 - pred['p_alive'])}")
    results["churn_auc_bgnbd"] = float(roc_auc_score(y, -bg))
    if pareto is not None:
        print(f"  baseline: Pareto/NBD expected purchases {_auc_pair(y, -pareto)}")
        results["churn_auc_pareto"] = float(roc_auc_score(y, -pareto))
    latest = snapshot_features(
        orders[orders["ordered_at"] <= pd.Timestamp(CAL_END)], pd.Timestamp(CAL_END)
    ).set_index("customer_id")
    latest = latest.reindex(summary["customer_id"].to_numpy())
    oof = oof_gb_churn(latest, y, churn_cfg)
    print(f"  reference: HistGB 5-fold OOF on holdout labels {_auc_pair(y, oof)}")
    results["churn_auc_oof_reference"] = float(roc_auc_score(y, oof))
    return results


def read_generated(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(paid shop orders per true person, truth persons) from a generated sample folder.

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
    persons = pd.read_csv(folder / "truth" / "persons.csv", dtype={"dropout_week": str})
    return orders.reset_index(drop=True), persons


def run_generated(customers: int, seed: int = 11) -> dict[str, float]:
    """Churn scores at the export's end vs the generator's true dropouts (buyers only)."""
    import tempfile

    from pipelines.sample_data import generate

    end = date(2026, 11, 15)
    print(f"\n== generated sample ({customers:,} people, 104 weeks to {end}): true dropouts ==")
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), customers=customers, seed=seed, end_date=end)
        orders, persons = read_generated(Path(tmp))
    churn_cfg = ChurnConfig(n_threads=2)
    scores, _ = churn_product_approach(orders, churn_cfg, cal_end=end, every_days=14)
    dropped = persons.set_index("person_id")["dropout_week"].fillna("").ne("")
    ids = scores.index.to_numpy()
    y = dropped.reindex(ids).fillna(False).astype(int).to_numpy()
    clv = fit_clv(orders, end + pd.Timedelta(days=1), ClvConfig())
    pred = predict_from_summary(
        clv, clv_summary(orders, end + pd.Timedelta(days=1)), horizon_weeks=13
    ).set_index("customer_id")
    expected = pred["expected_purchases_12m"].reindex(ids).to_numpy()
    p_alive = pred["p_alive"].reindex(ids).to_numpy()
    prob = scores["churn_probability"].to_numpy()
    print(f"  {len(ids):,} buyers, {y.mean():.3f} truly dropped out by {end}")
    print(f"  ours: HistGB on weekly snapshots        {_auc_pair(y, prob)}")
    print(f"  baseline: BG/NBD expected purchases 13w {_auc_pair(y, -expected)}")
    print(f"  baseline: BG/NBD 1 - P(alive)           {_auc_pair(y, 1 - p_alive)}")
    return {
        "generated_churn_auc_ours": float(roc_auc_score(y, prob)),
        "generated_churn_auc_bgnbd": float(roc_auc_score(y, -expected)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pareto", action="store_true", help="skip the Pareto/NBD peer")
    parser.add_argument("--customers", type=int, default=5000, help="generated people")
    parser.add_argument("--only", choices=["cdnow", "generated"], help="run one part")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.only != "generated":
        run_cdnow(with_pareto=not args.no_pareto)
    if args.only != "cdnow":
        run_generated(args.customers)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
