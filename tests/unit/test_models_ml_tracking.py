"""MLflow logging and registration (models_ml.tracking) against a temporary SQLite store."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models_ml import tracking
from models_ml.churn import train_churn
from models_ml.config import ChurnConfig
from models_ml.segments import fit_clusters
from tests.conftest import throwaway_mlflow

COLS = ["days_since_last_order", "orders_90d", "revenue_90d_cny"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mlflow")
    with throwaway_mlflow(tmp_path, "customer360-test") as experiment_id:
        yield tmp_path, experiment_id


def features(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "days_since_last_order": rng.exponential(60, n),
            "orders_90d": rng.poisson(2, n),
            "revenue_90d_cny": rng.lognormal(5, 1, n),
        }
    )


def test_segmentation_registered_as_champion(store) -> None:
    tmp_path, experiment_id = store
    frame = features()
    model, _, profiles, metrics = fit_clusters(frame, COLS, k_range=[3, 4])
    version = tracking.log_and_register(
        name="customer_segmentation",
        model_kind="sklearn",
        model=model,
        params={"k": metrics["k"], "api_token": "do-not-log", "rows": frame},
        metrics=metrics,
        artifacts={"cluster_profiles.csv": profiles},
        input_example=frame[COLS].head(5),
    )
    assert version == 1
    client = MlflowClient()
    mv = client.get_model_version_by_alias("customer_segmentation", "champion")
    assert int(mv.version) == 1
    run = client.get_run(mv.run_id)
    assert run.info.experiment_id == experiment_id
    assert run.data.params == {"k": str(metrics["k"])}  # no secret, no frame
    assert run.data.metrics["surrogate_fidelity"] == pytest.approx(metrics["surrogate_fidelity"])
    assert run.data.tags["log1p_columns"] == metrics["log1p_columns"]
    artifacts = {a.path for a in client.list_artifacts(mv.run_id)}
    assert {"cluster_profiles.csv", "surrogate_rules.txt"} <= artifacts
    assert str(tmp_path / "artifacts") in run.info.artifact_uri

    loaded = mlflow.pyfunc.load_model("models:/customer_segmentation@champion")
    # the logged schema is all-double; MLflow refuses to upcast int64 columns by itself
    with pytest.raises(mlflow.exceptions.MlflowException, match="int64"):
        loaded.predict(frame[COLS])
    assert (loaded.predict(frame[COLS].astype(float)) == model.predict(frame[COLS])).all()
    sk = mlflow.sklearn.load_model("models:/customer_segmentation@champion")
    assert (sk.predict(frame[COLS]) == model.predict(frame[COLS])).all()


def test_churn_model_registered_and_alias_moves(store) -> None:
    rng = np.random.default_rng(1)
    frames = []
    for week in range(8):
        f = features(150, seed=week)
        f["snapshot_date"] = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=week)
        p = 1 / (1 + np.exp(-(f["days_since_last_order"] / 30 - 2)))
        f["churned"] = (rng.random(len(f)) < p).astype(float)
        frames.append(f)
    labeled = pd.concat(frames, ignore_index=True)
    model, metrics = train_churn(labeled, COLS, config=ChurnConfig(n_threads=1))
    versions = [
        tracking.log_and_register(
            "customer_churn", "sklearn", model, {"features": ",".join(COLS)}, metrics, {},
            labeled[COLS].head(5),
        )
        for _ in range(2)
    ]  # fmt: skip
    assert versions == [1, 2]
    client = MlflowClient()
    assert int(client.get_model_version_by_alias("customer_churn", "champion").version) == 2
    loaded = mlflow.pyfunc.load_model("models:/customer_churn@champion")
    proba = np.asarray(loaded.predict(labeled[COLS].astype(float).head(10)))
    np.testing.assert_allclose(proba[:, 1], model.predict_proba(labeled.head(10)))
    run = client.get_run(client.get_model_version("customer_churn", "2").run_id)
    assert run.data.tags["valid_min_date"] == metrics["valid_min_date"]
    assert "churn_reference.json" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_per_customer_artifacts_are_refused(store) -> None:
    model, assignments, _, _ = fit_clusters(features(), COLS, k_range=[3])
    with pytest.raises(ValueError, match="per-customer"):
        tracking.log_and_register(
            "customer_segmentation", "sklearn", model, {}, {}, {"a.csv": assignments}, None
        )


def test_worse_challenger_is_not_promoted_and_better_one_is(store) -> None:
    from sklearn.linear_model import LogisticRegression

    x = features(60)[COLS]
    y = (x["days_since_last_order"] > 60).astype(int)
    est = LogisticRegression().fit(x, y)
    name = "promotion_test"
    v1 = tracking.log_and_register(name, "sklearn", est, metrics={"roc_auc": 0.80})
    v2 = tracking.log_and_register(name, "sklearn", est, set_champion=False)
    assert int(tracking.champion_version(name).version) == v1  # v2 is only a challenger
    worse = tracking.promote_if_better(name, v2, "roc_auc", challenger=0.70, champion=0.80)
    assert not worse["promoted"] and "worse" in worse["reason"]
    assert int(tracking.champion_version(name).version) == v1
    client = MlflowClient()
    assert client.get_model_version(name, str(v2)).tags["promotion_promoted"] == "False"
    run = client.get_run(client.get_model_version(name, str(v2)).run_id)
    assert run.data.tags["promotion_promoted"] == "False"
    assert run.data.metrics["backtest_champion_roc_auc"] == pytest.approx(0.80)

    v3 = tracking.log_and_register(name, "sklearn", est, set_champion=False)
    tie = tracking.promote_if_better(name, v3, "roc_auc", challenger=0.80, champion=0.80)
    assert tie["promoted"]  # at least as good
    assert int(tracking.champion_version(name).version) == v3
    lower = tracking.promote_if_better(name, v2, "brier", 0.30, 0.20, higher_is_better=False)
    assert not lower["promoted"] and int(tracking.champion_version(name).version) == v3
    # a drifted champion is replaced even by a challenger that scores worse (0015)
    refit = tracking.promote_if_better(
        name, v2, "roc_auc", 0.70, 0.80, refit_reason="champion inputs drifted: orders_90d"
    )
    assert refit["promoted"] and refit["reason"].startswith("refit: champion inputs drifted")
    assert int(tracking.champion_version(name).version) == v2


def test_figures_are_logged_as_png_artifacts(store) -> None:
    from models_ml.plots import churn_lift_figure

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    fig = churn_lift_figure(y, y + rng.random(200))
    run_id = tracking.log_run("figure_test", params={"k": 1}, artifacts={"lift.png": fig})
    paths = {a.path for a in MlflowClient().list_artifacts(run_id)}
    assert "lift.png" in paths
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="lift.png")
    with open(local, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
