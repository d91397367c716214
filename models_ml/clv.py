"""Customer lifetime value: BG/NBD purchases x Gamma-Gamma spend (PyMC-Marketing, MAP fits).

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models_ml._frames import day, paid_orders_before
from models_ml.config import ClvConfig

with warnings.catch_warnings():  # arviz announces its refactor with a FutureWarning on import
    warnings.simplefilter("ignore", category=FutureWarning)
    import arviz as az
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary
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
BGNBD_FILE = "bgnbd.nc"
GAMMA_GAMMA_FILE = "gamma_gamma.nc"
META_FILE = "clv_meta.json"


@dataclass
class ClvModel:
    """Fitted BG/NBD (+ optional Gamma-Gamma) with the facts needed to predict."""

    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel | None
    as_of: date
    population_mean_spend: float
    n_customers: int
    n_repeat_customers: int
    fit_seconds: float = 0.0

    def params(self) -> dict[str, float]:
        """MAP point estimates (r, alpha, a, b, p, q, v) as plain floats."""
        out = {k: float(self.bgnbd.fit_result[k].mean()) for k in ("r", "alpha", "a", "b")}
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


def _quiet_fit(model: BetaGeoModel | GammaGammaModel, data: pd.DataFrame, cfg: ClvConfig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        model.fit(
            data=data, method="map", progressbar=False, maxeval=cfg.map_maxeval, seed=cfg.seed
        )


def bgnbd_model(cfg: ClvConfig) -> BetaGeoModel:
    """An unfitted BG/NBD: library default priors, or HalfFlat ones (= maximum likelihood)."""
    if not cfg.flat_priors:
        return BetaGeoModel()
    return BetaGeoModel(model_config={k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")})


def fit_clv(orders: pd.DataFrame, as_of: date, config: ClvConfig | None = None) -> ClvModel:
    """Fit BG/NBD on all customers and Gamma-Gamma on repeat buyers, both by MAP."""
    cfg = config or ClvConfig()
    start = time.perf_counter()
    summary = clv_summary(orders, as_of)
    if summary.empty:
        raise ValueError("no paid orders before as_of")
    bgnbd = bgnbd_model(cfg)
    _quiet_fit(bgnbd, summary[["customer_id", "frequency", "recency", "T"]], cfg)

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
    return ClvModel(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        as_of=day(as_of).date(),
        population_mean_spend=population_mean,
        n_customers=len(summary),
        n_repeat_customers=len(repeat),
        fit_seconds=time.perf_counter() - start,
    )


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
    ids = s["customer_id"]
    bg_data = s[["customer_id", "frequency", "recency", "T"]]

    def purchases(t: float) -> np.ndarray:
        return _point(model.bgnbd.expected_purchases(data=bg_data, future_t=t), ids)

    expected = purchases(horizon_weeks)
    p_alive = _point(model.bgnbd.expected_probability_alive(data=bg_data), ids)

    spend = np.full(len(s), model.population_mean_spend, dtype=float)
    repeat = (s["frequency"] > 0).to_numpy() & (s["monetary_value"] > 0).to_numpy()
    if model.gamma_gamma is not None and repeat.any():
        gg_data = s.loc[repeat, ["customer_id", "frequency", "monetary_value"]]
        spend[repeat] = _point(
            model.gamma_gamma.expected_customer_spend(data=gg_data), gg_data["customer_id"]
        )
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
    paths = {"bgnbd": out_dir / BGNBD_FILE, "meta": out_dir / META_FILE}
    to_save: list[tuple[BetaGeoModel | GammaGammaModel, Path, pd.DataFrame]] = [
        (
            model.bgnbd,
            paths["bgnbd"],
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
    }
    paths["meta"].write_text(json.dumps(meta, indent=2))
    return {k: str(v) for k, v in paths.items()}


def _load(cls: type[BetaGeoModel] | type[GammaGammaModel], path: str):
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
        paths = {"bgnbd": str(base / BGNBD_FILE), "meta": str(base / META_FILE)}
        if (base / GAMMA_GAMMA_FILE).exists():
            paths["gamma_gamma"] = str(base / GAMMA_GAMMA_FILE)
    meta = json.loads(Path(paths["meta"]).read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        bgnbd = _load(BetaGeoModel, paths["bgnbd"])
        gamma_gamma = (
            _load(GammaGammaModel, paths["gamma_gamma"]) if "gamma_gamma" in paths else None
        )
    return ClvModel(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
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
