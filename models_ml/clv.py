"""Customer lifetime value: purchases x Gamma-Gamma spend (PyMC-Marketing, MAP fits).

The purchase model is BG/NBD, MBG/NBD or Pareto/NBD: with ``ClvConfig.purchase_model="auto"``
(default) the one with the lowest per-customer MAE of purchase days on a holdout inside the
history (the last third, at most 52 weeks; `backtest_purchase_models`, decision 0016).

Summaries come from ``pymc_marketing.clv.rfm_summary`` built at daily granularity and expressed
in weeks (``time_scaler=7``): frequency = repeat purchase days, recency = weeks from the first
to the last purchase day, T = weeks from the first purchase day to `as_of`, monetary_value =
mean CNY of the repeat purchase days (0 for one-time buyers).

The Gamma-Gamma spend model is fitted on repeat buyers only (frequency > 0, monetary_value > 0);
its conditional expectation gives one-time buyers exactly the population mean spend.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from models_ml._frames import day, distinct_rows, paid_orders_before
from models_ml.config import ClvConfig

with warnings.catch_warnings():  # arviz announces its refactor with a FutureWarning on import
    warnings.simplefilter("ignore", category=FutureWarning)
    import arviz as az
    from pymc_marketing.clv import (
        BetaGeoModel,
        GammaGammaModel,
        ModifiedBetaGeoModel,
        ParetoNBDModel,
        rfm_summary,
    )
    from pymc_marketing.prior import Prior

SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]
OUTPUT_COLUMNS = [
    *SUMMARY_COLUMNS,
    "expected_purchases_12m",
    "p_alive",
    "expected_spend_cny",
    "predicted_clv_12m",
]
DAYS_PER_WEEK = 7.0  # summaries are built from daily periods and expressed in weeks
WEEKS_PER_MONTH = 4.345  # the factor pymc_marketing.clv.customer_lifetime_value uses
BGNBD_FILE = "bgnbd.nc"  # the purchase model's file before 0016 (always a BG/NBD)
PURCHASES_FILE = "purchases.nc"
PURCHASE_MODELS: dict[str, type] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "paretonbd": ParetoNBDModel,
}
PURCHASE_PARAMS = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
}
GAMMA_GAMMA_FILE = "gamma_gamma.nc"
META_FILE = "clv_meta.json"


@dataclass
class ClvModel:
    """Fitted purchase model (+ optional Gamma-Gamma) with the facts needed to predict."""

    purchases: Any  # a fitted BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
    gamma_gamma: GammaGammaModel | None
    as_of: date
    population_mean_spend: float
    n_customers: int
    n_repeat_customers: int
    fit_seconds: float = 0.0
    purchase_model: str = "bgnbd"  # key of PURCHASE_MODELS
    # backtest figures per candidate (backtest_mae_<name>, backtest_aggregate_pct_<name>, ...)
    selection: dict[str, float] = field(default_factory=dict)
    # the selected purchase model fitted only on the history before the backtest cut
    # (its `as_of` is the cut): what the champion gate scores (clv_champion_backtest)
    backtest: ClvModel | None = None

    @property
    def bgnbd(self) -> Any:
        """The purchase model (name kept from when it was always a BG/NBD)."""
        return self.purchases

    def params(self) -> dict[str, float]:
        """MAP point estimates (purchase model's, then Gamma-Gamma p, q, v) as plain floats."""
        names = PURCHASE_PARAMS[self.purchase_model]
        out = {k: float(self.purchases.fit_result[k].mean()) for k in names}
        if self.gamma_gamma is not None:
            out |= {k: float(self.gamma_gamma.fit_result[k].mean()) for k in ("p", "q", "v")}
        out["population_mean_spend"] = self.population_mean_spend
        return out


def clv_summary(orders: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per-customer frequency / recency / T / monetary_value (weeks, CNY) from paid orders."""
    paid = paid_orders_before(orders, as_of)
    if paid.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SUMMARY_COLUMNS})
    summary = rfm_summary(
        paid,
        customer_id_col="customer_id",
        datetime_col="ordered_at",
        monetary_value_col="amount_cny",
        observation_period_end=day(as_of),
        time_unit="D",
        time_scaler=DAYS_PER_WEEK,
    )
    summary["customer_id"] = summary["customer_id"].astype(str)
    return summary[SUMMARY_COLUMNS].sort_values("customer_id", ignore_index=True)


def _point(values: xr.DataArray, customer_ids: pd.Series) -> np.ndarray:
    """MAP (chain=1, draw=1) or posterior-mean prediction aligned to `customer_ids`."""
    dims = [d for d in ("chain", "draw") if d in values.dims]
    series = values.mean(dims).to_series() if dims else values.to_series()
    return series.reindex(customer_ids.to_numpy()).to_numpy(dtype=float)


def _quiet_fit(model: Any, data: pd.DataFrame, cfg: ClvConfig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        model.fit(
            data=data, method="map", progressbar=False, maxeval=cfg.map_maxeval, seed=cfg.seed
        )


def purchase_model(name: str, cfg: ClvConfig) -> Any:
    """An unfitted purchase model: library default priors, or HalfFlat ones (= max. likelihood)."""
    cls = PURCHASE_MODELS[name]
    if not cfg.flat_priors:
        return cls()
    return cls(model_config={k: Prior("HalfFlat") for k in PURCHASE_PARAMS[name]})


def bgnbd_model(cfg: ClvConfig) -> BetaGeoModel:
    """An unfitted BG/NBD: library default priors, or HalfFlat ones (= maximum likelihood)."""
    return purchase_model("bgnbd", cfg)


def fit_purchases(summary: pd.DataFrame, name: str, cfg: ClvConfig) -> Any:
    """A purchase model fitted by MAP on (customer_id, frequency, recency, T) rows."""
    model = purchase_model(name, cfg)
    _quiet_fit(model, summary[["customer_id", "frequency", "recency", "T"]], cfg)
    return model


def purchase_days(orders: pd.DataFrame, start: date, end: date, ids: pd.Series) -> np.ndarray:
    """Distinct order days per customer in [start, end) (midnights), aligned to `ids`."""
    paid = paid_orders_before(orders, end)
    paid = paid[paid["ordered_at"] >= day(start)]
    counts = paid.assign(d=paid["ordered_at"].dt.normalize()).groupby("customer_id")["d"].nunique()
    return counts.reindex(ids.astype(str).to_numpy()).fillna(0.0).to_numpy(dtype=float)


def expected_purchases(model: Any, summary: pd.DataFrame, weeks: float) -> np.ndarray:
    """A fitted purchase model's expected purchases in the next `weeks`, aligned to `summary`."""
    data = summary[["customer_id", "frequency", "recency", "T"]].copy()
    data["customer_id"] = data["customer_id"].astype(str)
    return _point(model.expected_purchases(data=data, future_t=weeks), data["customer_id"])


def backtest_cut(orders: pd.DataFrame, as_of: date, cfg: ClvConfig) -> date | None:
    """Start of the backtest holdout: the last `backtest_share` of the history (None if short)."""
    paid = paid_orders_before(orders, as_of)
    if paid.empty:
        return None
    end = day(as_of)
    history_weeks = (end - paid["ordered_at"].min().normalize()).days / DAYS_PER_WEEK
    weeks = min(cfg.backtest_max_weeks, cfg.backtest_share * history_weeks)
    if weeks < cfg.min_backtest_weeks:
        return None
    return (end - timedelta(days=round(weeks * DAYS_PER_WEEK))).date()


def backtest_purchase_models(
    orders: pd.DataFrame, as_of: date, names: tuple[str, ...], cfg: ClvConfig
) -> tuple[dict[str, float], dict[str, Any], date | None]:
    """Fit each purchase model on the history before the cut, score the holdout up to `as_of`.

    Per model: backtest_mae_<name> (mean absolute error of purchase days per customer seen
    before the cut) and backtest_aggregate_pct_<name> (error of the total). A model whose fit
    fails scores NaN. Returns (figures, {name: model fitted before the cut}, cut).
    """
    cut = backtest_cut(orders, as_of, cfg)
    if cut is None:
        return {}, {}, None
    summary = clv_summary(orders, cut)
    actual = purchase_days(orders, cut, as_of, summary["customer_id"])
    weeks = (day(as_of) - day(cut)).days / DAYS_PER_WEEK
    figures: dict[str, float] = {
        "backtest_weeks": weeks,
        "backtest_customers": float(len(summary)),
        "backtest_actual_purchases": float(actual.sum()),
    }
    fitted: dict[str, Any] = {}
    for name in names:
        try:
            model = fit_purchases(summary, name, cfg)
            pred = expected_purchases(model, summary, weeks)
        except Exception:  # noqa: BLE001 - a candidate that cannot be fitted is not chosen
            figures[f"backtest_mae_{name}"] = float("nan")
            continue
        fitted[name] = model
        figures[f"backtest_mae_{name}"] = float(np.abs(pred - actual).mean())
        if actual.sum() > 0:
            figures[f"backtest_aggregate_pct_{name}"] = float(
                100 * (pred.sum() - actual.sum()) / actual.sum()
            )
    return figures, fitted, cut


def fit_clv(orders: pd.DataFrame, as_of: date, config: ClvConfig | None = None) -> ClvModel:
    """Fit the purchase model on all customers and Gamma-Gamma on repeat buyers, both by MAP;
    above ``max_fit_customers`` customers on a seeded sample of that many (0080).

    With ``purchase_model="auto"`` every candidate is backtested (`backtest_purchase_models`)
    and the lowest MAE wins (ties: the earlier candidate); a history too short for a backtest
    uses ``fallback_model``. The chosen model's pre-cut fit is kept as ``backtest``.
    """
    cfg = config or ClvConfig()
    start = time.perf_counter()
    summary = clv_summary(orders, as_of)
    if summary.empty:
        raise ValueError("no paid orders before as_of")
    if cfg.max_fit_customers and len(summary) > cfg.max_fit_customers:
        fitted_on = summary["customer_id"].sample(cfg.max_fit_customers, random_state=cfg.seed)
        summary = summary[summary["customer_id"].isin(fitted_on)]
        orders = orders[orders["customer_id"].isin(fitted_on)]
    auto = cfg.purchase_model == "auto"
    names = tuple(cfg.candidates) if auto else (cfg.purchase_model,)
    unknown = [n for n in names if n not in PURCHASE_MODELS]
    if unknown:
        raise ValueError(f"unknown purchase model(s) {unknown}; known: {list(PURCHASE_MODELS)}")
    selection, pre_cut, cut = backtest_purchase_models(orders, as_of, names, cfg)
    if auto:
        scored = {n: selection[f"backtest_mae_{n}"] for n in pre_cut}
        scored = {n: v for n, v in scored.items() if np.isfinite(v)}
        chosen = min(scored, key=lambda n: (scored[n], names.index(n))) if scored else None
        chosen = chosen or cfg.fallback_model
    else:
        chosen = cfg.purchase_model
    purchases = fit_purchases(summary, chosen, cfg)

    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gamma_gamma: GammaGammaModel | None = None
    population_mean = float(repeat["monetary_value"].mean()) if len(repeat) else float("nan")
    if len(repeat) >= cfg.min_repeat_customers:
        gamma_gamma = GammaGammaModel()
        _quiet_fit(gamma_gamma, repeat[["customer_id", "frequency", "monetary_value"]], cfg)
        gg_mean = float(gamma_gamma.expected_new_customer_spend().mean())
        if np.isfinite(gg_mean) and gg_mean > 0:  # needs q > 1
            population_mean = gg_mean
        else:
            gamma_gamma = None
    if not np.isfinite(population_mean):
        population_mean = float(paid_orders_before(orders, as_of)["amount_cny"].mean())
    backtest = None
    if chosen in pre_cut and cut is not None:
        backtest = ClvModel(
            purchases=pre_cut[chosen],
            gamma_gamma=None,
            as_of=cut,
            population_mean_spend=population_mean,
            n_customers=int(selection["backtest_customers"]),
            n_repeat_customers=0,
            purchase_model=chosen,
        )
    return ClvModel(
        purchases=purchases,
        gamma_gamma=gamma_gamma,
        as_of=day(as_of).date(),
        population_mean_spend=population_mean,
        n_customers=len(summary),
        n_repeat_customers=len(repeat),
        fit_seconds=time.perf_counter() - start,
        purchase_model=chosen,
        selection=selection,
        backtest=backtest,
    )


def clv_champion_backtest(
    challenger: ClvModel,
    champion: ClvModel | None,
    orders: pd.DataFrame,
    as_of: date,
) -> tuple[float, float | None, str]:
    """(challenger MAE, champion MAE, description): purchase days per customer, same window.

    The window runs from the later of the challenger's backtest cut and the champion's
    `as_of` up to `as_of`, for customers seen before it: the challenger is scored by its
    pre-cut fit and the champion by its registered fit, so neither has seen the window
    (decision 0017). No champion: the challenger's own backtest MAE and None; no window (a
    rerun on the champion's date) or no pre-cut fit: NaN/None and the reason.
    """
    pre = challenger.backtest
    if pre is None:
        return float("nan"), None, "history too short for a backtest"
    end = day(as_of)
    if champion is None:
        mae = challenger.selection.get(f"backtest_mae_{challenger.purchase_model}", float("nan"))
        return float(mae), None, f"no champion: challenger backtest from {pre.as_of}"
    start = max(day(pre.as_of), day(champion.as_of))
    if start >= end:
        return float("nan"), None, f"no days after the champion's as_of {champion.as_of}"
    summary = clv_summary(orders, start.date())
    if summary.empty:
        return float("nan"), None, f"no customers before {start.date()}"
    actual = purchase_days(orders, start.date(), as_of, summary["customer_id"])
    weeks = (end - start).days / DAYS_PER_WEEK
    maes = [
        float(np.abs(expected_purchases(m.purchases, summary, weeks) - actual).mean())
        for m in (pre, champion)
    ]
    last = (end - timedelta(days=1)).date()
    described = f"{len(summary)} customers, purchase days {start.date()}..{last}"
    return maes[0], maes[1], described


def _per_distinct(rows: pd.DataFrame, cols: list[str], predict: Callable) -> np.ndarray:
    """`predict` (a pymc-marketing prediction per customer_id) of each row, computed once per
    distinct combination of `cols`: customers with the same summary get the same prediction,
    and at 1M customers half of them share their (frequency, recency, T) with another."""
    codes, first = distinct_rows(rows, cols)
    distinct = rows[cols].iloc[first].reset_index(drop=True)
    distinct.insert(0, "customer_id", np.arange(len(distinct)).astype(str))
    return _point(predict(distinct), distinct["customer_id"])[codes]


def predict_from_summary(
    model: ClvModel,
    summary: pd.DataFrame,
    horizon_weeks: float = ClvConfig.horizon_weeks,
    discount_rate_monthly: float = 0.0,
) -> pd.DataFrame:
    """CLV columns for rows of an rfm summary (customer_id, frequency, recency, T, monetary)."""
    s = summary[SUMMARY_COLUMNS].copy()
    s["customer_id"] = s["customer_id"].astype(str)
    for col in SUMMARY_COLUMNS[1:]:
        s[col] = pd.to_numeric(s[col], errors="coerce").fillna(0.0).astype(float)
    bg = ["frequency", "recency", "T"]

    def purchases(t: float) -> np.ndarray:
        return _per_distinct(s, bg, lambda d: model.purchases.expected_purchases(
            data=d, future_t=t))

    expected = purchases(horizon_weeks)
    p_alive = _per_distinct(s, bg, lambda d: model.purchases.expected_probability_alive(data=d))

    spend = np.full(len(s), model.population_mean_spend, dtype=float)
    repeat = (s["frequency"] > 0).to_numpy() & (s["monetary_value"] > 0).to_numpy()
    if model.gamma_gamma is not None and repeat.any():
        spend[repeat] = _per_distinct(s[repeat], ["frequency", "monetary_value"],
                                      lambda d: model.gamma_gamma.expected_customer_spend(data=d))
    elif repeat.any():
        spend[repeat] = s.loc[repeat, "monetary_value"].to_numpy()

    if discount_rate_monthly:
        # monthly cash flows discounted like pymc_marketing's customer_lifetime_value
        n_months = int(np.ceil(horizon_weeks / WEEKS_PER_MONTH))
        value = np.zeros(len(s))
        previous = np.zeros(len(s))
        for month in range(1, n_months + 1):
            cumulative = purchases(min(month * WEEKS_PER_MONTH, horizon_weeks))
            value += spend * (cumulative - previous) / (1 + discount_rate_monthly) ** month
            previous = cumulative
    else:
        value = spend * expected

    out = s.copy()
    out["expected_purchases_12m"] = np.clip(expected, 0, None)
    out["p_alive"] = np.clip(p_alive, 0, 1)
    out["expected_spend_cny"] = np.clip(spend, 0, None)
    out["predicted_clv_12m"] = np.clip(value, 0, None)
    return out[OUTPUT_COLUMNS]


def predict_clv(
    model: ClvModel,
    orders: pd.DataFrame,
    as_of: date | None = None,
    horizon_weeks: float = ClvConfig.horizon_weeks,
    discount_rate_monthly: float = ClvConfig.discount_rate_monthly,
) -> pd.DataFrame:
    """Per-customer expected purchases, P(alive) and CLV (CNY) over `horizon_weeks`.

    The ``*_12m`` column names refer to the default 52-week horizon.
    """
    summary = clv_summary(orders, as_of if as_of is not None else model.as_of)
    return predict_from_summary(model, summary, horizon_weeks, discount_rate_monthly)


def value_tiers(
    df: pd.DataFrame, top: float = ClvConfig.top_share, next_: float = ClvConfig.middle_share
) -> pd.Series:
    """'top' (best `top` share), 'middle' (next `next_`), 'base' by predicted_clv_12m."""
    n = len(df)
    rank = df["predicted_clv_12m"].rank(method="first", ascending=False).to_numpy()
    tiers = np.where(
        rank <= round(top * n), "top", np.where(rank <= round((top + next_) * n), "middle", "base")
    )
    return pd.Series(tiers, index=df.index, name="value_tier", dtype="string")


def _slim_idata(idata: az.InferenceData, placeholder: pd.DataFrame) -> az.InferenceData:
    """Posterior + a one-row fit_data placeholder: no per-customer rows leave the process."""
    slim = az.InferenceData(posterior=idata.posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        slim.add_groups(fit_data=placeholder.to_xarray())
    slim.attrs = dict(idata.attrs)
    return slim


def save_clv(
    model: ClvModel, directory: str | Path, include_fit_data: bool = False
) -> dict[str, str]:
    """Write the models with the library's own ``save`` (NetCDF) plus a JSON meta file.

    By default the per-customer fit data (and observed data) are replaced by a one-row
    placeholder so the files carry parameters only; loading does not need the fit data.
    Returns {artifact name: path}.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"purchases": out_dir / PURCHASES_FILE, "meta": out_dir / META_FILE}
    to_save: list[tuple[Any, Path, pd.DataFrame]] = [
        (
            model.purchases,
            paths["purchases"],
            pd.DataFrame({"customer_id": ["_"], "frequency": [1.0], "recency": [1.0], "T": [2.0]}),
        ),
    ]
    if model.gamma_gamma is not None:
        paths["gamma_gamma"] = out_dir / GAMMA_GAMMA_FILE
        to_save.append(
            (
                model.gamma_gamma,
                paths["gamma_gamma"],
                pd.DataFrame({"customer_id": ["_"], "frequency": [1.0], "monetary_value": [1.0]}),
            )
        )
    for fitted, path, placeholder in to_save:
        if include_fit_data:
            fitted.save(str(path))
            continue
        original = fitted.idata
        fitted.idata = _slim_idata(original, placeholder)
        try:
            fitted.save(str(path))
        finally:
            fitted.idata = original
    meta = {
        "as_of": model.as_of.isoformat(),
        "population_mean_spend": model.population_mean_spend,
        "n_customers": model.n_customers,
        "n_repeat_customers": model.n_repeat_customers,
        "fit_seconds": model.fit_seconds,
        "purchase_model": model.purchase_model,
    }
    paths["meta"].write_text(json.dumps(meta, indent=2))
    return {k: str(v) for k, v in paths.items()}


def _load(cls: type, path: str):
    # pymc-marketing 0.19.2: CLVModel.build_from_idata is a classmethod that ModelIO.load_from_idata
    # calls on the instance and discards, so `load` returns a model without `.model`, and the
    # predictive methods then fail with AttributeError. Building it again (from the saved fit
    # data or its placeholder) is cheap: no compilation happens.
    fitted = cls.load(path)
    if not hasattr(fitted, "model"):
        fitted.build_model()
    return fitted


def load_clv(paths: dict[str, str] | str | Path) -> ClvModel:
    """Inverse of `save_clv`: a directory or the {artifact name: path} mapping it returned."""
    if not isinstance(paths, dict):
        base = Path(paths)
        file = PURCHASES_FILE if (base / PURCHASES_FILE).exists() else BGNBD_FILE
        paths = {"purchases": str(base / file), "meta": str(base / META_FILE)}
        if (base / GAMMA_GAMMA_FILE).exists():
            paths["gamma_gamma"] = str(base / GAMMA_GAMMA_FILE)
    meta = json.loads(Path(paths["meta"]).read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        name = meta.get("purchase_model", "bgnbd")  # models saved before 0016: BG/NBD
        purchases = _load(PURCHASE_MODELS[name], paths.get("purchases") or paths["bgnbd"])
        gamma_gamma = (
            _load(GammaGammaModel, paths["gamma_gamma"]) if "gamma_gamma" in paths else None
        )
    return ClvModel(
        purchases=purchases,
        gamma_gamma=gamma_gamma,
        purchase_model=name,
        as_of=date.fromisoformat(meta["as_of"]),
        population_mean_spend=float(meta["population_mean_spend"]),
        n_customers=int(meta["n_customers"]),
        n_repeat_customers=int(meta["n_repeat_customers"]),
        fit_seconds=float(meta.get("fit_seconds", 0.0)),
    )


TIER_ORDER = {"base": 0, "middle": 1, "top": 2}


def tier_migration(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """`current` with previous_value_tier and tier_change (up / down / same / new).

    `previous` holds customer_id and value_tier of last week's snapshot (None: all new).
    """
    out = current.copy()
    if previous is None or previous.empty:
        out["previous_value_tier"] = pd.Series(pd.NA, index=out.index, dtype="string")
    else:
        prev = previous[["customer_id", "value_tier"]].rename(
            columns={"value_tier": "previous_value_tier"}
        )
        prev = prev.assign(customer_id=prev["customer_id"].astype(str))
        out = out.merge(prev, on="customer_id", how="left", validate="one_to_one")
        out["previous_value_tier"] = out["previous_value_tier"].astype("string")
    now = out["value_tier"].astype(str).map(TIER_ORDER)
    before = out["previous_value_tier"].astype(object).map(TIER_ORDER)
    change = np.where(now > before, "up", np.where(now < before, "down", "same"))
    out["tier_change"] = pd.Series(
        np.where(before.isna().to_numpy(), "new", change), index=out.index, dtype="string"
    )
    return out
