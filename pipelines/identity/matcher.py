"""The probabilistic matcher as the identity step uses it: a saved Splink model, trained on
first use or when a refit is asked for, reused on weekly runs.

Pairs at or above `threshold` become links (applied after the deterministic ones, strongest
first, under the clustering guards); pairs between `review_from` and `threshold` go to the
review queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.identity import probabilistic as splink


@dataclass
class SplinkMatcher:
    model_path: Path
    refit: bool = False
    threshold: float = splink.DEFAULT_THRESHOLD
    review_from: float = 0.5
    trained: bool = field(default=False, init=False)
    links: int = field(default=0, init=False)

    def __call__(self, records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        prepared = splink.prepare(records.reset_index(drop=True))
        if self.refit or not self.model_path.exists():
            splink.save_model(splink.train(prepared), self.model_path)
            self.trained = True
        model = splink.load_model(self.model_path)
        scored = splink.predict_edges(prepared, model, threshold=self.review_from)
        strong = scored["match_probability"] >= self.threshold
        self.links = int(strong.sum())
        return scored[strong], scored[~strong]


def log_model_run(matcher: SplinkMatcher, charts_dir: Path, metrics: dict[str, float]) -> str:
    """An MLflow run holding the Splink model JSON and Splink's own charts."""
    import mlflow

    charts = splink.model_charts(splink.load_model(matcher.model_path), charts_dir)
    with mlflow.start_run(run_name="identity_matcher") as run:
        mlflow.log_params({"threshold": matcher.threshold, "review_from": matcher.review_from,
                           "refit": matcher.refit})
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(matcher.model_path), artifact_path="splink")
        for chart in charts:
            mlflow.log_artifact(str(chart), artifact_path="splink/charts")
    return run.info.run_id
