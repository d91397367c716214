"""Behavioural customer clusters: log1p + StandardScaler + KMeans, described in words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier, export_text

from models_ml._frames import numeric, openmp_threads
from models_ml.config import SegmentConfig

# (substring of the column name, phrase when high, phrase when low); first match wins.
_PHRASES: tuple[tuple[str, str, str], ...] = (
    ("days_since_last_order", "inactive for a long time", "recently active"),
    ("recency", "inactive for a long time", "recently active"),
    ("avg_order_value", "large baskets", "small baskets"),
    ("complaint", "many complaints", "few complaints"),
    ("ticket", "many support tickets", "few support tickets"),
    ("refund", "many refunds", "few refunds"),
    ("revenue", "high spenders", "low spenders"),
    ("monetary", "high spenders", "low spenders"),
    ("clv", "high predicted value", "low predicted value"),
    ("orders", "frequent buyers", "infrequent buyers"),
    ("frequency", "frequent buyers", "infrequent buyers"),
    ("categor", "buy across many categories", "buy in few categories"),
    ("social", "socially engaged", "socially quiet"),
    ("campaign", "responsive to campaigns", "unresponsive to campaigns"),
    ("tenure", "long-standing customers", "new customers"),
)


def trait_phrase(col: str, high: bool) -> str:
    """Words for a feature being high (or low) in a cluster."""
    for key, up, down in _PHRASES:
        if key in col:
            return up if high else down
    return f"{'high' if high else 'low'} {col.replace('_', ' ')}"


def _describe(z_row: pd.Series, cfg: SegmentConfig) -> str:
    strong = z_row[z_row.abs() >= cfg.min_abs_z]
    strong = strong.reindex(strong.abs().sort_values(ascending=False).index)
    phrases: list[str] = []
    for col, z in strong.items():
        phrase = trait_phrase(str(col), bool(z > 0))
        if phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == cfg.max_traits:
            break
    return ", ".join(phrases) if phrases else "average on all features"


def skewed_columns(x: pd.DataFrame, threshold: float) -> list[str]:
    """Non-negative columns whose skewness exceeds `threshold` (money and counts, typically)."""
    filled = x.fillna(0.0)
    return [c for c in x.columns if filled[c].min() >= 0 and filled[c].skew() > threshold]


def _preprocessor(feature_cols: Sequence[str], log_cols: Sequence[str]) -> Pipeline:
    lin_cols = [c for c in feature_cols if c not in log_cols]
    zero = SimpleImputer(strategy="constant", fill_value=0.0)
    transformers: list[tuple[str, Any, list[str]]] = []
    if log_cols:
        # clip then log1p: a negative value at predict time must not become NaN
        log = make_pipeline(
            zero,
            FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": None}),
            FunctionTransformer(np.log1p),
        )
        transformers.append(("log1p", log, list(log_cols)))
    if lin_cols:
        transformers.append(("linear", zero, lin_cols))
    columns = ColumnTransformer(transformers, verbose_feature_names_out=False)
    return Pipeline([("columns", columns), ("scale", StandardScaler())])


def fit_clusters(
    features: pd.DataFrame,
    feature_cols: Sequence[str],
    k_range: Iterable[int] | None = None,
    seed: int | None = None,
    config: SegmentConfig | None = None,
) -> tuple[Pipeline, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fit KMeans clusters on `feature_cols`; nulls count as 0.

    Non-negative columns with skewness > ``config.skew_threshold`` are log1p-transformed, then all
    columns are standardised. k is the value in `k_range` (default 3..8) with the best silhouette
    score, computed on a random sample of at most 5000 rows (``config.silhouette_sample``) of the
    scaled data. A depth-3 decision tree fitted on the raw features to the cluster labels gives
    readable rules; its fidelity is its accuracy at reproducing the KMeans labels.

    Returns (model, assignments[customer_id, cluster], profiles[cluster, size, share,
    description, mean_<feature>...], metrics). `model` is an sklearn Pipeline whose
    ``predict(frame[feature_cols])`` gives the cluster.
    """
    cfg = config or SegmentConfig()
    with openmp_threads(cfg.n_threads):
        return _fit(features, list(feature_cols), k_range, cfg.seed if seed is None else seed, cfg)


def _fit(
    features: pd.DataFrame,
    feature_cols: list[str],
    k_range: Iterable[int] | None,
    seed: int,
    cfg: SegmentConfig,
) -> tuple[Pipeline, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    x = numeric(features, feature_cols)
    n = len(x)
    ks = sorted({int(k) for k in (k_range if k_range is not None else cfg.k_range) if 1 < k < n})
    if not ks:
        raise ValueError(f"no usable k in k_range for {n} rows")

    log_cols = skewed_columns(x, cfg.skew_threshold)
    prep = _preprocessor(feature_cols, log_cols)
    xt = prep.fit_transform(x)
    order = list(log_cols) + [c for c in feature_cols if c not in log_cols]  # ColumnTransformer
    sample = cfg.silhouette_sample if n > cfg.silhouette_sample else None

    scores: dict[int, float] = {}
    fitted: dict[int, KMeans] = {}
    for k in ks:
        km = KMeans(n_clusters=k, n_init=cfg.n_init, random_state=seed).fit(xt)
        fitted[k] = km
        if len(np.unique(km.labels_)) < 2:
            scores[k] = -1.0
            continue
        scores[k] = float(silhouette_score(xt, km.labels_, sample_size=sample, random_state=seed))
    best_k = max(scores, key=lambda k: (scores[k], -k))
    kmeans = fitted[best_k]
    labels = kmeans.labels_.astype("int64")
    model = Pipeline([("prep", prep), ("kmeans", kmeans)])

    ids = features["customer_id"].astype(str).to_numpy() if "customer_id" in features else x.index
    assignments = pd.DataFrame({"customer_id": ids, "cluster": labels})

    profiles = _profiles(x, xt, labels, feature_cols, order, cfg)
    tree, fidelity = _surrogate(x, labels, cfg, seed)
    metrics: dict[str, Any] = {
        "k": int(best_k),
        "silhouette": scores[best_k],
        "surrogate_fidelity": fidelity,
        "n_customers": int(n),
        **{f"silhouette_k{k}": s for k, s in scores.items()},
        "log1p_columns": ",".join(log_cols),
        "surrogate_rules": export_text(tree, feature_names=feature_cols, decimals=1),
    }
    return model, assignments, profiles, metrics


def _profiles(
    x: pd.DataFrame,
    xt: np.ndarray,
    labels: np.ndarray,
    feature_cols: list[str],
    order: list[str],
    cfg: SegmentConfig,
) -> pd.DataFrame:
    """cluster, size, share, description (from mean z-scores), mean_<feature> per cluster."""
    z = pd.DataFrame(xt, columns=order).groupby(labels).mean()[feature_cols]
    means = x.groupby(labels).mean().add_prefix("mean_")
    sizes = pd.Series(labels).value_counts().sort_index()
    profiles = pd.DataFrame(
        {
            "cluster": sizes.index.astype("int64"),
            "size": sizes.to_numpy().astype("int64"),
            "share": (sizes / len(x)).to_numpy(),
            "description": [_describe(z.loc[c], cfg) for c in sizes.index],
        }
    )
    return profiles.merge(means, left_on="cluster", right_index=True, how="left")


def _surrogate(
    x: pd.DataFrame, labels: np.ndarray, cfg: SegmentConfig, seed: int
) -> tuple[DecisionTreeClassifier, float]:
    """Depth-limited tree on the raw features reproducing `labels`, and its accuracy."""
    tree = DecisionTreeClassifier(max_depth=cfg.surrogate_max_depth, random_state=seed)
    raw = x.fillna(0.0)
    tree.fit(raw, labels)
    return tree, float(accuracy_score(labels, tree.predict(raw)))


def cluster_quality(
    model: Pipeline,
    features: pd.DataFrame,
    feature_cols: Sequence[str],
    config: SegmentConfig | None = None,
) -> dict[str, float]:
    """silhouette (in the model's own scaled space) and surrogate tree fidelity on `features`.

    The champion gate (0017) scores the challenger and the registered champion this way on the
    same rows: the silhouette sample is drawn with the same seed from the same number of rows.
    """
    cfg = config or SegmentConfig()
    x = numeric(features, list(feature_cols))
    with openmp_threads(cfg.n_threads):
        xt = model[:-1].transform(x)
        labels = np.asarray(model[-1].predict(xt))
    n = len(x)
    if len(np.unique(labels)) < 2 or n < 3:
        return {"silhouette": float("nan"), "surrogate_fidelity": float("nan")}
    sample = cfg.silhouette_sample if n > cfg.silhouette_sample else None
    silhouette = float(silhouette_score(xt, labels, sample_size=sample, random_state=cfg.seed))
    return {
        "silhouette": silhouette,
        "surrogate_fidelity": _surrogate(x, labels, cfg, cfg.seed)[1],
    }


def assign_clusters(
    model: Pipeline,
    features: pd.DataFrame,
    feature_cols: Sequence[str],
    config: SegmentConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(assignments, profiles) of `features` by an already fitted model (e.g. the champion)."""
    cfg = config or SegmentConfig()
    cols = list(feature_cols)
    x = numeric(features, cols)
    with openmp_threads(cfg.n_threads):
        xt = model[:-1].transform(x)
        labels = np.asarray(model[-1].predict(xt)).astype("int64")
    columns = model.named_steps["prep"].named_steps["columns"]  # the fitted ColumnTransformer
    order = [c for name, _, cs in columns.transformers_ if name != "remainder" for c in cs]
    ids = features["customer_id"].astype(str).to_numpy() if "customer_id" in features else x.index
    assignments = pd.DataFrame({"customer_id": ids, "cluster": labels})
    return assignments, _profiles(x, xt, labels, cols, order, cfg)


def segment_stability(current: pd.DataFrame, previous: pd.DataFrame | None) -> dict[str, float]:
    """Adjusted Rand index between this week's and last week's labels, per label column.

    Both frames hold customer_id plus label columns (e.g. cluster, rfm_segment); only customers
    in both count. ARI ignores how labels are numbered, so re-fitted k-means clusters compare
    fairly; 1 = identical grouping, about 0 = no more agreement than chance.
    """
    from sklearn.metrics import adjusted_rand_score

    if previous is None or previous.empty:
        return {}
    both = current.merge(previous, on="customer_id", suffixes=("", "_prev"))
    out: dict[str, float] = {"stability_customers": float(len(both))}
    for col in current.columns:
        if col == "customer_id" or f"{col}_prev" not in both or len(both) < 2:
            continue
        def labels(values: pd.Series) -> np.ndarray:  # no label (e.g. no orders) is a group
            # integer codes: the index ignores naming, and sklearn sorts a million strings
            # in seconds but codes at once
            return pd.factorize(values.astype("string").fillna("<none>"))[0]

        out[f"ari_{col}_vs_previous"] = float(
            adjusted_rand_score(labels(both[f"{col}_prev"]), labels(both[col]))
        )
    return out
