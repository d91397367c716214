"""The weekly work of the `cross_sell` asset: reuse the fitted rules or refit (decision 0070).

A refit week reads the paid purchases from the warehouse already aggregated by DuckDB (one row
per customer and product, the days each product sold; never the order lines), fits the product
rules, scores every customer, computes the product and category affinity report and the
90-day backtest, and logs one MLflow run holding the rules as Parquet artifacts. A reuse week
(models_ml.refit.decide, as for the other models: no earlier fit, ``C360_REFIT=1`` / run
config ``refit: true``, rules fitted with other settings, or ``C360_REFIT_EVERY_WEEKS`` old
trigger a refit) loads the rules of the latest fit from its run, reads only this week's
customer-product pairs and product sale days, and scores: this week's purchases are never
offered and products no longer sold drop out; rules, popularity and the affinity report are
the fit's, and the published rows carry its ``model_run_id``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from models_ml import refit
from models_ml.config import CrossSellConfig
from models_ml.cross_sell import (
    Baskets,
    Rules,
    affinity,
    evaluate_offers,
    fit_rules,
    recommend,
    rules_from_frames,
    rules_to_frames,
    score,
    score_week,
)
from pipelines.config import settings
from pipelines.warehouse import connect, replace_table

EXPERIMENT = "customer_cross_sell"
RULES_FORMAT = "1"  # bump when the artifacts change: older fits are then not reused
RULE_SETTINGS = ("basket", "min_pair_baskets", "min_lift")  # what the fitted rules depend on
ARTIFACTS = ("cross_sell_items.parquet", "cross_sell_rules.parquet", "product_affinity.parquet")
TABLES = ("cross_sell_offers", "product_prospects", "product_affinity")

_PAID = (
    "from marts.order_items where is_paid and customer_id is not null and sku is not null "
    "and ordered_at < ?"
)


def read_baskets(con, as_of: date, basket: str = "customer", fit: bool = True) -> Baskets:
    """`Baskets` of paid purchases before `as_of`, aggregated in DuckDB.

    `fit=False` (a reuse week) skips what only fitting needs: product names and categories
    and, for order baskets, the order-product pairs.
    """

    before = datetime.combine(as_of, datetime.min.time())  # a timestamp: no cast per row

    def df(sql: str):
        return con.execute(sql, [before]).df()

    pairs = df(f"select customer_id, sku, min(ordered_at) as first_at {_PAID} group by all")
    days = df(
        f"select distinct sku, cast(cast(ordered_at as date) as timestamp) as day {_PAID}"
    )
    products = pd.DataFrame(columns=["sku", "product_name", "product_category"])
    order_pairs = None
    if fit:
        products = df(
            "select sku, min(coalesce(product_name, sku)) as product_name, "
            f"min(coalesce(product_category, 'unknown')) as product_category {_PAID} group by sku"
        )
        if basket == "order":
            order_pairs = df(
                f"select order_id, sku, min(ordered_at) as first_at {_PAID} group by all"
            )
    return Baskets(pairs=pairs, products=products, product_days=days, order_pairs=order_pairs)


def latest_fit(cfg: CrossSellConfig) -> tuple[refit.Champion | None, str | None]:
    """(the latest reusable fit as a Champion, why it cannot be used or None).

    Runs of experiment `EXPERIMENT` logged with the current `RULES_FORMAT` hold the rules;
    one fitted with other `RULE_SETTINGS` cannot be reused.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None, None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"params.rules_format = '{RULES_FORMAT}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None, None
    params = runs[0].data.params
    champion = refit.Champion(
        version=int(params.get("rules_version", 0)),
        snapshot_date=refit.parse_date(params.get("snapshot_date")),
        run_id=runs[0].info.run_id,
    )
    changed = [k for k in RULE_SETTINGS if params.get(k) != str(getattr(cfg, k))]
    why = None
    if changed:
        why = "rules fitted with other settings (" + ", ".join(
            f"{k} {params.get(k)} -> {getattr(cfg, k)}" for k in changed
        ) + ")"
    return champion, why


def load_rules(run_id: str) -> tuple[Rules, pd.DataFrame]:
    """(rules, product_affinity report) from the artifacts of fit run `run_id`."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        frames = {
            name: pd.read_parquet(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=name, dst_path=tmp
                )
            )
            for name in ARTIFACTS
        }
    rules = rules_from_frames(frames[ARTIFACTS[0]], frames[ARTIFACTS[1]])
    return rules, frames[ARTIFACTS[2]]


@dataclass
class Week:
    """What one run of the asset produced."""

    snapshot: date
    tables: dict[str, pd.DataFrame]
    metrics: dict[str, float]
    run_id: str
    decision: refit.RefitDecision
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per part


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, part: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[part] = round(time.perf_counter() - start, 3)
        return out


def cross_sell_week(
    snapshot: date, cfg: CrossSellConfig, *, forced: bool = False, every_weeks: int | None = None
) -> Week:
    """Offers, prospects and the affinity report for the week of `snapshot` (not written)."""
    from models_ml import tracking

    s = settings()
    timer = _Timer()
    timer("mlflow_setup", tracking.configure, s.mlflow_tracking_uri, EXPERIMENT,
          s.mlflow_artifacts_dir)  # fmt: skip
    champion, unusable = timer("find_fit", latest_fit, cfg)
    decision = refit.decide(
        champion,
        snapshot,
        every_weeks=s.refit_every_weeks if every_weeks is None else every_weeks,
        forced=forced,
        unusable=unusable,
    )
    loaded, decision = refit.load_champion(
        decision, lambda: timer("load_rules", load_rules, champion.run_id)
    )
    as_of = snapshot + timedelta(days=1)
    with connect(read_only=True) as con:
        baskets = timer("read", read_baskets, con, as_of, cfg.basket, fit=decision.refit)
    if not decision.refit:
        rules, report = loaded
        offers, prospects, metrics = timer("score", score_week, rules, baskets, as_of, cfg)
        run_id = champion.run_id
    else:
        if baskets.pairs.empty:
            rules = None
            offers, prospects, metrics = recommend(baskets, as_of, cfg)  # empty tables
        else:
            rules, bought, customers = timer("fit", fit_rules, baskets, as_of, cfg)
            offers, prospects, metrics = timer("score", score, rules, bought, customers, cfg)
        report = timer("affinity", lambda: pd.concat(
            [affinity(baskets, "product", cfg), affinity(baskets, "category", cfg)],
            ignore_index=True,
        ))  # fmt: skip
        metrics |= timer("backtest", evaluate_offers, baskets, as_of, cfg)
        params = {**{k: str(v) for k, v in cfg.__dict__.items()}, "snapshot_date": str(snapshot)}
        artifacts: dict[str, pd.DataFrame] = {"product_affinity.csv": report}
        if rules is not None:  # nothing to reuse from a week without purchases
            items, pairs = rules_to_frames(rules)
            params |= {"rules_format": RULES_FORMAT,
                       "rules_version": (champion.version if champion else 0) + 1}  # fmt: skip
            artifacts |= dict(zip(ARTIFACTS, (items, pairs, report), strict=True))
        run_id = timer("mlflow_log", tracking.log_run, EXPERIMENT, params=params, metrics=metrics,
                       artifacts=artifacts)  # fmt: skip
    tables = {"cross_sell_offers": offers, "product_prospects": prospects,
              "product_affinity": report}  # fmt: skip
    return Week(snapshot, tables, metrics, run_id, decision, timer.seconds)


def write_week(week: Week) -> dict[str, int]:
    """Replace ml.cross_sell_offers / product_prospects / product_affinity; rows per table."""
    counts = {}
    start = time.perf_counter()
    with connect() as con:
        for name in TABLES:
            frame = week.tables[name].copy()
            frame.insert(0, "snapshot_date", week.snapshot)
            frame["model_run_id"] = week.run_id
            # from Arrow: faster than DuckDB's scan of pandas object columns
            counts[name] = replace_table(con, f"ml.{name}",
                                         pa.Table.from_pandas(frame, preserve_index=False))
    week.seconds["write"] = round(time.perf_counter() - start, 3)
    return counts


def run_week(snapshot: date | None = None, refit_asked: bool = False) -> tuple[Week, dict]:
    """The asset's work: decide, compute, write. `snapshot` defaults to the newest weekly
    snapshot in marts.customer_features_weekly."""
    from models_ml.config import DEFAULTS

    if snapshot is None:
        with connect(read_only=True) as con:
            snapshot = con.sql(
                "select max(snapshot_date) from marts.customer_features_weekly"
            ).fetchone()[0]
    week = cross_sell_week(snapshot, DEFAULTS.cross_sell, forced=refit_asked or settings().refit)
    return week, write_week(week)

