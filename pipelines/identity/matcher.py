"""The probabilistic matcher as the identity step uses it: a saved Splink model, trained on
first use, when a refit is asked for, when the records drifted away from those it was
trained on or when the code compares or blocks differently from the saved model; reused on
weekly runs otherwise.

Pairs at or above `threshold` become links (applied after the deterministic ones, strongest
first, under the clustering guards); pairs between `review_from` and `threshold` go to the
review queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.identity import probabilistic as splink

# Drift that calls for a refit: the records grew or shrank by more than this share since the
# model was trained, or the share of records holding a matching field moved by more than
# PROFILE_SHIFT (e.g. a new source without emails).
GROWTH_LIMIT = 0.5
PROFILE_SHIFT = 0.1
PROFILE_COLUMNS = ("name_key", "email_key", "phone", "postcode", "city_norm", "birth_date")


def profile(prepared: pd.DataFrame) -> dict[str, float]:
    """What the model was trained on: record count and share of records with each field."""
    shares = {c: round(float(prepared[c].notna().mean()), 4) for c in PROFILE_COLUMNS}
    return {"records": len(prepared), **shares}


def drift_reason(trained: dict[str, float], now: dict[str, float]) -> str | None:
    """Why the records no longer look like the training records, or None."""
    if abs(now["records"] - trained["records"]) > GROWTH_LIMIT * max(trained["records"], 1):
        return f"records {trained['records']} -> {now['records']}"
    for column in PROFILE_COLUMNS:
        if abs(now[column] - trained.get(column, now[column])) > PROFILE_SHIFT:
            return f"share with {column} {trained[column]:.2f} -> {now[column]:.2f}"
    return None


@dataclass
class SplinkMatcher:
    model_path: Path
    refit: bool = False
    threshold: float = splink.DEFAULT_THRESHOLD
    review_from: float = 0.5
    trained: bool = field(default=False, init=False)
    train_reason: str | None = field(default=None, init=False)
    links: int = field(default=0, init=False)
    # the clustering guards the model supports (`probabilistic.cluster_guards`), once called
    cluster_guards: Any = field(default=None, init=False)
    # a warehouse connection (`resolve` sets it): the records' own matching columns are kept
    # there between runs (`match_cache`) and derived only for new and changed records
    warehouse: Any = field(default=None, init=False, repr=False)
    derived_records: int | None = field(default=None, init=False)  # own columns derived

    @property
    def profile_path(self) -> Path:
        return self.model_path.with_suffix(".profile.json")

    def _train_reason(self, prepared: pd.DataFrame) -> str | None:
        if self.refit:
            return "refit asked for"
        if not self.model_path.exists():
            return "no saved model"
        if splink.spec_changed(splink.load_model(self.model_path)):
            return "the matcher's comparisons or blocking rules changed"
        if self.profile_path.exists():
            trained = json.loads(self.profile_path.read_text(encoding="utf-8"))
            return drift_reason(trained, profile(prepared))
        return None

    def __call__(
        self, records: pd.DataFrame, delta: np.ndarray | None = None, links=None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Links and review candidates among `records`; with `delta`, only pairs touching a
        new or changed record, unless a new model is trained: then every pair. `links`: the
        records' `deterministic.identifier_links`, when already computed."""
        records = records.reset_index(drop=True)
        own = None
        if self.warehouse is not None:
            from pipelines.identity import match_cache

            own, self.derived_records = match_cache.own_columns(self.warehouse, records)
        prepared = splink.prepare(records, own=own,
                                  deterministic=splink.deterministic_clusters(records, links))
        self.train_reason = self._train_reason(prepared)
        if self.train_reason:
            splink.save_model(splink.train(prepared), self.model_path)
            self.profile_path.write_text(json.dumps(profile(prepared)), encoding="utf-8")
            self.trained = True
            delta = None  # a new model: every pair is scored again
        model = splink.load_model(self.model_path)
        self.cluster_guards = splink.cluster_guards(model, prepared=prepared)
        scored = splink.predict_edges(prepared, model, threshold=self.review_from, delta=delta)
        strong = scored["match_probability"] >= self.threshold
        self.links = int(strong.sum())
        return scored[strong], scored[~strong]


def log_model_run(matcher: SplinkMatcher, charts_dir: Path, metrics: dict[str, float]) -> str:
    """An MLflow run holding the Splink model JSON and Splink's own charts."""
    import mlflow

    model = splink.load_model(matcher.model_path)
    charts = splink.model_charts(model, charts_dir)
    with mlflow.start_run(run_name="identity_matcher") as run:
        mlflow.log_params({"threshold": matcher.threshold, "review_from": matcher.review_from,
                           "train_reason": matcher.train_reason,
                           "backend": model["sql_dialect"]})  # the one it was trained on
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(matcher.model_path), artifact_path="splink")
        mlflow.log_artifact(str(matcher.profile_path), artifact_path="splink")
        for chart in charts:
            mlflow.log_artifact(str(chart), artifact_path="splink/charts")
    return run.info.run_id
