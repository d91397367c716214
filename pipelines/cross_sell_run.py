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

A reuse week scores only the customers whose offers may have changed (decision 0085): the
warehouse keeps, next to the published tables, a fingerprint of each customer's purchases
(``ml.cross_sell_customer_state``), a deeper prospect list per product
(``ml.cross_sell_prospect_pool``) and what the tables were scored with
(``ml.cross_sell_state``: rules run, settings, candidate products). When the rules run,
settings and state match, customers whose purchases changed (new, gone, bought or lost a
product) or who were offered a product that is no longer a candidate are rescored, their
rows replaced in one transaction, and the prospects merged from the pool; anything else
(a refit, other settings, a new candidate product, a pool too shallow) scores everybody.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from models_ml import cross_sell as model
from models_ml import refit
from models_ml._frames import day
from models_ml.config import CrossSellConfig
from models_ml.cross_sell import (
    PROSPECT_COLUMNS,
    Baskets,
    Rules,
    affinity,
    candidates,
    evaluate_offers,
    fit_rules,
    recommend,
    rules_from_frames,
    rules_to_frames,
    score,
    score_week,
    update_prospect_pool,
)
from pipelines.config import settings
from pipelines.warehouse import connect, replace_table, table_exists

EXPERIMENT = "customer_cross_sell"
RULES_FORMAT = "1"  # bump when the artifacts change: older fits are then not reused
RULE_SETTINGS = ("basket", "min_pair_baskets", "min_lift")  # what the fitted rules depend on
ARTIFACTS = ("cross_sell_items.parquet", "cross_sell_rules.parquet", "product_affinity.parquet")
TABLES = ("cross_sell_offers", "product_prospects", "product_affinity")
# what a reuse week needs to rescore only changed customers (decision 0085)
STATE = "cross_sell_state"  # one row: model_run_id, scoring settings, candidate products
CUSTOMER_STATE = "cross_sell_customer_state"  # customer_id, bought_hash
POOL = "cross_sell_prospect_pool"  # top PROSPECT_POOL prospects per product, pool_complete
STATE_FORMAT = "1"  # bump when scoring or the state changes: the next week scores everybody

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


# a fingerprint of the set of products each customer bought: the xor of DuckDB's 64-bit
# hashes of the distinct skus (a set hash; 2.7x faster than hashing the sorted list at 1M).
# Equal fingerprints, equal 'has bought' rows, but for a 2^-64 chance per changed customer.
_BOUGHT_HASH = (
    "select customer_id, bit_xor(h) as bought_hash "
    f"from (select distinct customer_id, hash(sku) as h {_PAID}) group by customer_id"
)


def read_bought_hashes(con, as_of: date) -> pd.DataFrame:
    """customer_id, bought_hash of every customer with a paid purchase before `as_of`."""
    before = datetime.combine(as_of, datetime.min.time())
    return con.execute(_BOUGHT_HASH, [before]).df()


def scoring_key(cfg: CrossSellConfig) -> str:
    """What the published offers and prospects depend on besides the rules and purchases."""
    settings_ = {k: v for k, v in cfg.__dict__.items() if k != "score_cells"}  # chunking only
    return json.dumps({"format": STATE_FORMAT, "pool": model.PROSPECT_POOL, **settings_},
                      sort_keys=True)  # fmt: skip


@dataclass
class Changes:
    """A reuse week's input when only changed customers are scored (decision 0085)."""

    baskets: Baskets  # the rescored customers' pairs; product sale days in `active_days`
    rescored_hashes: pd.DataFrame  # customer_id, bought_hash: purchases changed or new
    hash_changed: pd.Index  # customers whose bought_hash row is replaced (changed or gone)
    changed: pd.Index  # every customer whose rows are replaced (rescored or gone)
    n_rescored: int
    candidate: np.ndarray  # this week's candidate products (bool over rules.items)
    pool: pd.DataFrame  # last week's prospect pool
    kept: dict[str, float]  # offers of the kept customers: rows, affinity rows, customers
    n_customers: int


def read_changes(
    con, as_of: date, rules: Rules, run_id: str, cfg: CrossSellConfig
) -> tuple[Changes | None, str]:
    """(what changed since the tables were last written, why not) - None when everybody has
    to be scored: no state, other rules run or settings, or a product became a candidate."""
    if not all(table_exists(con, "ml", t) for t in (*TABLES, STATE, CUSTOMER_STATE, POOL)):
        return None, "no scoring state"
    rows = con.sql(f"select model_run_id, scoring, candidates, snapshot_date from ml.{STATE}"
                   ).fetchall()  # fmt: skip
    if len(rows) != 1:
        return None, "no scoring state"
    prev_run, key, prev_candidates, prev_snapshot = rows[0]
    if prev_run != run_id:
        return None, "tables scored with other rules"
    if key != scoring_key(cfg):
        return None, "tables scored with other settings"
    other = con.sql(
        "select count(*) from ml.cross_sell_offers where model_run_id is distinct from $r "
        "or snapshot_date is distinct from $s", params={"r": run_id, "s": prev_snapshot},
    ).fetchone()[0]  # fmt: skip
    if other:
        return None, "offers table does not match the scoring state"
    before = datetime.combine(as_of, datetime.min.time())
    start = day(as_of) - pd.Timedelta(days=cfg.active_days)
    days = con.execute(
        "select distinct sku, cast(cast(ordered_at as date) as timestamp) as day "
        f"{_PAID} and ordered_at >= ?", [before, start.to_pydatetime()],
    ).df()  # fmt: skip
    window = Baskets(pairs=pd.DataFrame(columns=["customer_id", "sku", "first_at"]),
                     products=pd.DataFrame(), product_days=days)  # fmt: skip
    candidate = candidates(window, rules.items, as_of, cfg.active_days)
    now = set(rules.items[candidate])
    prev = set(prev_candidates or [])
    if now - prev:
        return None, f"{len(now - prev)} products became candidates"
    lost = sorted(prev - now)
    changed = con.execute(
        f"with now as ({_BOUGHT_HASH}) "
        "select coalesce(n.customer_id, s.customer_id) as customer_id, "
        "coalesce(n.bought_hash, 0) as bought_hash, n.customer_id is null as gone, "
        "s.customer_id is null as is_new "
        f"from now n full join ml.{CUSTOMER_STATE} s on n.customer_id = s.customer_id "
        "where n.bought_hash is distinct from s.bought_hash", [before],
    ).df()  # fmt: skip
    n_state = con.sql(f"select count(*) from ml.{CUSTOMER_STATE}").fetchone()[0]
    lost_offered = con.sql(
        "select distinct customer_id from ml.cross_sell_offers where list_contains($l, sku)",
        params={"l": lost},
    ).df()["customer_id"] if lost else pd.Series(dtype=object)  # fmt: skip
    hashed = changed[~changed["gone"]]  # bought_hash stays uint64: no nulls in it
    gone = changed.loc[changed["gone"], "customer_id"]
    rescore = pd.Index(hashed["customer_id"]).union(pd.Index(lost_offered)).difference(gone)
    con.register("_rescore", pd.DataFrame({"customer_id": np.asarray(rescore, dtype=object)}))
    con.register("_changed", pd.DataFrame(
        {"customer_id": np.asarray(rescore.union(pd.Index(gone)), dtype=object)}))  # fmt: skip
    try:
        pairs = con.execute(
            f"select customer_id, sku, min(ordered_at) as first_at {_PAID} "
            "and customer_id in (select customer_id from _rescore) group by all", [before],
        ).df()  # fmt: skip
        kept = con.sql(
            "select count(*), count(*) filter (where basis = 'affinity'), "
            "count(distinct customer_id) filter (where basis = 'affinity') "
            "from ml.cross_sell_offers anti join _changed using (customer_id)"
        ).fetchone()
        pool = con.sql(f"select * exclude (snapshot_date, model_run_id) from ml.{POOL}").df()
    finally:
        con.unregister("_rescore")
        con.unregister("_changed")
    return Changes(
        baskets=Baskets(pairs=pairs, products=pd.DataFrame(), product_days=days),
        rescored_hashes=hashed[["customer_id", "bought_hash"]].reset_index(drop=True),
        hash_changed=pd.Index(changed["customer_id"]),
        changed=rescore.union(pd.Index(gone)),
        n_rescored=len(rescore),
        candidate=candidate,
        pool=pool,
        kept={"rows": kept[0], "affinity": kept[1], "affinity_customers": kept[2]},
        n_customers=int(n_state - len(gone) + changed["is_new"].sum()),
    ), ""


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
    """What one run of the asset produced.

    With `changes` (decision 0085) `tables["cross_sell_offers"]` holds only the rescored
    customers' offers; the other customers' rows stay in the warehouse."""

    snapshot: date
    tables: dict[str, pd.DataFrame]
    metrics: dict[str, float]
    run_id: str
    decision: refit.RefitDecision
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per part
    scoring: str = ""  # everybody scored and why, or how many customers were rescored
    changes: Changes | None = None
    pool: pd.DataFrame | None = None  # the prospect pool (PROSPECT_POOL per product)
    hashes: pd.DataFrame | None = None  # every customer's bought_hash (full scoring)
    candidates: list[str] = field(default_factory=list)
    scoring_key: str = ""


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, part: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[part] = round(time.perf_counter() - start, 3)
        return out


def score_changes(
    rules: Rules, changes: Changes, as_of: date, cfg: CrossSellConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, float]] | None:
    """(rescored customers' offers, prospects, prospect pool, metrics of the whole table);
    None when the pool cannot give some product's top N (then everybody is scored)."""
    deep = replace(cfg, prospects_per_product=model.PROSPECT_POOL)
    offers, fresh, _ = score_week(rules, changes.baskets, as_of, deep)
    pool = update_prospect_pool(
        changes.pool, changes.changed, fresh, rules.items[changes.candidate],
        cfg.prospects_per_product, model.PROSPECT_POOL,
    )  # fmt: skip
    if pool is None:
        return None
    prospects = pool[pool["prospect_rank"] <= cfg.prospects_per_product][PROSPECT_COLUMNS]
    kept, affinity_rows = changes.kept, offers["basis"] == "affinity"
    n_offers = kept["rows"] + len(offers)
    metrics = {
        "n_customers": float(changes.n_customers),
        "n_products": float(len(rules.items)),
        "n_candidate_products": float(changes.candidate.sum()),
        "n_rules": float(int((rules.confidence > 0).sum())),
        "share_offers_affinity": float((kept["affinity"] + affinity_rows.sum()) / n_offers)
        if n_offers
        else 0.0,
        "customers_with_affinity_offer": float(
            kept["affinity_customers"] + offers.loc[affinity_rows, "customer_id"].nunique()
        ),
        "customers_rescored": float(changes.n_rescored),
    }
    return offers, prospects.reset_index(drop=True), pool, metrics


def cross_sell_week(
    snapshot: date,
    cfg: CrossSellConfig,
    *,
    forced: bool = False,
    every_weeks: int | None = None,
    incremental: bool = True,
) -> Week:
    """Offers, prospects and the affinity report for the week of `snapshot` (not written).

    A reuse week rescores only changed customers when the warehouse state allows it
    (decision 0085); `incremental=False` scores everybody."""
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
    key = scoring_key(cfg)
    deep = replace(cfg, prospects_per_product=model.PROSPECT_POOL)
    scoring = "everybody scored: refit" if decision.refit else "everybody scored: asked"
    if not decision.refit and incremental:
        rules, report = loaded
        with connect(read_only=True) as con:
            changes, scoring = timer("read_changes", read_changes, con, as_of, rules,
                                     champion.run_id, cfg)  # fmt: skip
        if changes is not None:
            done = timer("score_changes", score_changes, rules, changes, as_of, cfg)
            if done is not None:
                offers, prospects, pool, metrics = done
                tables = {"cross_sell_offers": offers, "product_prospects": prospects,
                          "product_affinity": report}  # fmt: skip
                return Week(snapshot, tables, metrics, champion.run_id, decision,
                            timer.seconds, f"{changes.n_rescored} customers rescored",
                            changes, pool, None, list(rules.items[changes.candidate]),
                            key)  # fmt: skip
            scoring = "a product's prospect pool ran short"
        scoring = f"everybody scored: {scoring}"
    with connect(read_only=True) as con:
        baskets = timer("read", read_baskets, con, as_of, cfg.basket, fit=decision.refit)
        hashes = timer("read_hashes", read_bought_hashes, con, as_of)
    if not decision.refit:
        rules, report = loaded
        offers, pool, metrics = timer("score", score_week, rules, baskets, as_of, deep)
        run_id = champion.run_id
        candidate = candidates(baskets.before(as_of), rules.items, as_of, cfg.active_days)
    else:
        if baskets.pairs.empty:
            rules = None
            offers, pool, metrics = recommend(baskets, as_of, deep)  # empty tables
        else:
            rules, bought, customers = timer("fit", fit_rules, baskets, as_of, cfg)
            offers, pool, metrics = timer("score", score, rules, bought, customers, deep)
        candidate = rules.candidate if rules is not None else np.zeros(0, dtype=bool)
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
    pool = model.prospect_pool(pool, model.PROSPECT_POOL)
    prospects = pool[pool["prospect_rank"] <= cfg.prospects_per_product][PROSPECT_COLUMNS]
    tables = {"cross_sell_offers": offers, "product_prospects": prospects.reset_index(drop=True),
              "product_affinity": report}  # fmt: skip
    skus = [] if rules is None else list(rules.items[candidate])
    return Week(snapshot, tables, metrics, run_id, decision, timer.seconds, scoring, None, pool,
                hashes, skus, key)  # fmt: skip


def _stamped(week: Week, frame: pd.DataFrame) -> pa.Table:
    frame = frame.copy()
    frame.insert(0, "snapshot_date", week.snapshot)
    frame["model_run_id"] = week.run_id
    # from Arrow: faster than DuckDB's scan of pandas object columns
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_week(week: Week) -> dict[str, int]:
    """Write ml.cross_sell_offers / product_prospects / product_affinity and the scoring
    state in one transaction; rows per published table. Full scoring replaces the tables;
    with `week.changes` the rescored and gone customers' offers are deleted and inserted, the
    kept rows and the (unchanged) affinity report get the new snapshot_date, and the
    prospects are replaced (decision 0085: faster than rewriting the offers at 1M)."""
    counts = {}
    start = time.perf_counter()
    state = pd.DataFrame({"snapshot_date": [week.snapshot], "model_run_id": [week.run_id],
                          "scoring": [week.scoring_key], "candidates": [week.candidates]})
    with connect() as con:
        con.sql("begin transaction")
        try:
            changes = week.changes
            if changes is None:
                for name in TABLES:
                    counts[name] = replace_table(con, f"ml.{name}",
                                                 _stamped(week, week.tables[name]))
                replace_table(con, f"ml.{CUSTOMER_STATE}", week.hashes)
            else:
                con.register("_changed", pd.DataFrame(
                    {"customer_id": np.asarray(changes.changed, dtype=object)}))
                con.register("_hash_changed", pd.DataFrame(
                    {"customer_id": np.asarray(changes.hash_changed, dtype=object)}))
                con.register("_offers", _stamped(week, week.tables["cross_sell_offers"]))
                con.register("_hashes", changes.rescored_hashes)
                con.sql("delete from ml.cross_sell_offers "
                        "where customer_id in (select customer_id from _changed)")
                con.execute("update ml.cross_sell_offers set snapshot_date = ? "
                            "where snapshot_date <> ?", [week.snapshot, week.snapshot])
                con.sql("insert into ml.cross_sell_offers by name select * from _offers")
                con.sql(f"delete from ml.{CUSTOMER_STATE} "
                        "where customer_id in (select customer_id from _hash_changed)")
                con.sql(f"insert into ml.{CUSTOMER_STATE} by name select * from _hashes")
                for name in ("_changed", "_hash_changed", "_offers", "_hashes"):
                    con.unregister(name)
                # the affinity report is the fit's, as written with the state: only its date
                con.execute("update ml.product_affinity set snapshot_date = ?",
                            [week.snapshot])
                counts = {name: con.sql(f"select count(*) from ml.{name}").fetchone()[0]
                          for name in TABLES}  # fmt: skip
                counts["product_prospects"] = replace_table(
                    con, "ml.product_prospects", _stamped(week, week.tables["product_prospects"]))
            replace_table(con, f"ml.{POOL}", _stamped(week, week.pool))
            replace_table(con, f"ml.{STATE}", state)
            con.sql("commit")
        except BaseException:
            con.sql("rollback")
            raise
    week.seconds["write"] = round(time.perf_counter() - start, 3)
    return counts


def run_week(
    snapshot: date | None = None, refit_asked: bool = False, incremental: bool = True
) -> tuple[Week, dict]:
    """The asset's work: decide, compute, write. `snapshot` defaults to the newest weekly
    snapshot in marts.customer_features_weekly."""
    from models_ml.config import DEFAULTS

    if snapshot is None:
        with connect(read_only=True) as con:
            snapshot = con.sql(
                "select max(snapshot_date) from marts.customer_features_weekly"
            ).fetchone()[0]
    week = cross_sell_week(snapshot, DEFAULTS.cross_sell, forced=refit_asked or settings().refit,
                           incremental=incremental)  # fmt: skip
    return week, write_week(week)
