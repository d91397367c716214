"""Value x churn matrix: each customer's quadrant, the retention play for it, value at risk.

value_level is "high" when the customer's value tier is one of ``high_value_tiers`` (default:
the top tier, the best 20 % by predicted 12-month CLV); risk_level is "high" when the churn
probability is at least ``high_risk_min_probability`` (default 0.5). The four quadrants map
to configurable plays (``RetentionConfig.plays``, overridable from YAML).

value_at_risk_cny = predicted_clv_12m x churn_probability: the part of next year's predicted
value expected to be lost if nothing is done. Customers need both a CLV and a churn score
(buyers with a current feature snapshot); others are not in the matrix.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from models_ml.config import RetentionConfig

QUADRANTS = (
    "high_value_high_risk",
    "high_value_low_risk",
    "low_value_high_risk",
    "low_value_low_risk",
)
ACTION_COLUMNS = [
    "customer_id",
    "quadrant",
    "value_level",
    "risk_level",
    "play",
    "play_description",
    "priority",
    "predicted_clv_12m",
    "value_tier",
    "churn_probability",
    "risk_band",
    "value_at_risk_cny",
    "reason_1",
    "reason_2",
    "reason_3",
]
SUMMARY_COLUMNS = [
    "quadrant",
    "play",
    "play_description",
    "customers",
    "share_of_customers",
    "predicted_clv_12m",
    "value_at_risk_cny",
    "share_of_value_at_risk",
    "mean_churn_probability",
]


def load_config(
    path: str | Path | None = None, base: RetentionConfig | None = None
) -> RetentionConfig:
    """`base` (default RetentionConfig()) with the keys of a YAML file laid over it.

    ``plays`` is merged per quadrant, so a file may change one play only. Unknown keys and
    unknown quadrants are errors (a typo must not silently keep a default).
    """
    cfg = base or RetentionConfig()
    if path is None:
        return cfg
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text()) or {}
    known = {f.name for f in fields(RetentionConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown retention settings {sorted(unknown)}; known: {sorted(known)}")
    plays = {q: dict(p) for q, p in cfg.plays.items()}
    for quadrant, play in (data.pop("plays", None) or {}).items():
        if quadrant not in QUADRANTS:
            raise ValueError(f"unknown quadrant {quadrant!r}; quadrants: {QUADRANTS}")
        plays[quadrant] = {**plays.get(quadrant, {}), **play}
    if "high_value_tiers" in data:
        data["high_value_tiers"] = tuple(data["high_value_tiers"])
    return replace(cfg, plays=plays, **data)


def retention_actions(
    value: pd.DataFrame, churn: pd.DataFrame, config: RetentionConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per customer with quadrant and play, one row per quadrant with totals).

    `value` needs customer_id, predicted_clv_12m, value_tier; `churn` needs customer_id,
    churn_probability, risk_band and optionally reason_1..3. Priority 1 = the largest value at
    risk overall (ties: higher CLV first, then customer_id).
    """
    cfg = config or RetentionConfig()
    missing = set(QUADRANTS) - set(cfg.plays)
    if missing:
        raise ValueError(f"no retention play configured for {sorted(missing)}")
    churn_cols = ["customer_id", "churn_probability", "risk_band"]
    churn_cols += [c for c in ("reason_1", "reason_2", "reason_3") if c in churn]
    df = value[["customer_id", "predicted_clv_12m", "value_tier"]].merge(
        churn[churn_cols], on="customer_id", how="inner", validate="one_to_one"
    )
    for c in ("reason_1", "reason_2", "reason_3"):
        if c not in df:
            df[c] = ""
    df["customer_id"] = df["customer_id"].astype(str)
    clv = pd.to_numeric(df["predicted_clv_12m"], errors="coerce").fillna(0.0).astype(float)
    prob = pd.to_numeric(df["churn_probability"], errors="coerce").astype(float)
    df["predicted_clv_12m"], df["churn_probability"] = clv, prob
    high_value = df["value_tier"].astype(str).isin(cfg.high_value_tiers)
    high_risk = prob >= cfg.high_risk_min_probability
    df["value_level"] = np.where(high_value, "high", "low")
    df["risk_level"] = np.where(high_risk, "high", "low")
    df["quadrant"] = df["value_level"] + "_value_" + df["risk_level"] + "_risk"
    df["play"] = df["quadrant"].map({q: p["play"] for q, p in cfg.plays.items()})
    df["play_description"] = df["quadrant"].map(
        {q: p.get("description", "") for q, p in cfg.plays.items()}
    )
    df["value_at_risk_cny"] = clv * prob
    df = df.sort_values(
        ["value_at_risk_cny", "predicted_clv_12m", "customer_id"],
        ascending=[False, False, True],
        kind="stable",
        ignore_index=True,
    )
    df["priority"] = np.arange(1, len(df) + 1, dtype="int64")
    actions = df[ACTION_COLUMNS]

    total_var = float(df["value_at_risk_cny"].sum())
    grouped = df.groupby("quadrant").agg(
        customers=("customer_id", "size"),
        predicted_clv_12m=("predicted_clv_12m", "sum"),
        value_at_risk_cny=("value_at_risk_cny", "sum"),
        mean_churn_probability=("churn_probability", "mean"),
    )
    summary = grouped.reindex(list(QUADRANTS)).reset_index()
    summary["customers"] = summary["customers"].fillna(0).astype("int64")
    for col in ("predicted_clv_12m", "value_at_risk_cny"):
        summary[col] = summary[col].fillna(0.0)
    summary["share_of_customers"] = summary["customers"] / max(len(df), 1)
    summary["share_of_value_at_risk"] = (
        summary["value_at_risk_cny"] / total_var if total_var > 0 else 0.0
    )
    summary["play"] = summary["quadrant"].map({q: p["play"] for q, p in cfg.plays.items()})
    summary["play_description"] = summary["quadrant"].map(
        {q: p.get("description", "") for q, p in cfg.plays.items()}
    )
    return actions, summary[SUMMARY_COLUMNS]


WATCH_LIST_COLUMNS = [
    "rank",
    "customer_id",
    "churn_probability",
    "risk_band",
    "predicted_clv_12m",
    "value_tier",
    "value_at_risk_cny",
    "reason_1",
    "reason_2",
    "reason_3",
    "play",
]


def churn_watch_list(actions: pd.DataFrame, config: RetentionConfig | None = None) -> pd.DataFrame:
    """Customers in the watch-list risk bands (default: high), largest value at risk first.

    `actions` is the output of `retention_actions` (it already carries CLV, churn probability,
    reasons and play). rank 1 = the most value at risk; ties broken by customer_id.
    """
    cfg = config or RetentionConfig()
    watch = actions[actions["risk_band"].isin(cfg.watch_list_bands)]
    watch = watch.sort_values(
        ["value_at_risk_cny", "customer_id"], ascending=[False, True], kind="stable"
    )
    if cfg.watch_list_size is not None:
        watch = watch.head(cfg.watch_list_size)
    watch = watch.reset_index(drop=True)
    watch.insert(0, "rank", np.arange(1, len(watch) + 1))
    return watch[WATCH_LIST_COLUMNS]
