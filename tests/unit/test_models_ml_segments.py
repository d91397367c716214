"""KMeans behavioural clusters (models_ml.segments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models_ml.segments import fit_clusters
from tests.conftest import throwaway_mlflow

COLS = ["days_since_last_order", "orders_365d", "revenue_365d_cny", "complaints_365d"]


def make_features(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "days_since_last_order": np.where(
                group == 0, rng.exponential(10, n), rng.exponential(200, n)
            ),
            "orders_365d": np.where(group == 0, rng.poisson(12, n), rng.poisson(1, n)).astype(
                float
            ),
            "revenue_365d_cny": np.where(
                group == 0, rng.lognormal(8, 0.5, n), rng.lognormal(5, 0.5, n)
            ),
            "complaints_365d": np.where(group == 2, rng.poisson(4, n), 0).astype(float),
        }
    )
    frame.loc[::17, "complaints_365d"] = np.nan
    return frame


@pytest.fixture(scope="module")
def fitted():
    return fit_clusters(make_features(), COLS, k_range=range(3, 6), seed=42)


def test_outputs(fitted) -> None:
    model, assignments, profiles, metrics = fitted
    assert len(assignments) == 300 and list(assignments.columns) == ["customer_id", "cluster"]
    assert 3 <= metrics["k"] <= 5
    assert len(profiles) == metrics["k"]
    assert profiles["size"].sum() == 300
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert {f"mean_{c}" for c in COLS} <= set(profiles.columns)
    assert profiles["description"].map(lambda s: isinstance(s, str) and len(s) > 0).all()
    assert 0.0 <= metrics["surrogate_fidelity"] <= 1.0
    assert -1.0 <= metrics["silhouette"] <= 1.0
    assert "|---" in metrics["surrogate_rules"]
    # the pipeline reproduces the labels on the same data
    assert (model.predict(make_features()[COLS]) == assignments["cluster"].to_numpy()).all()


def test_reproducible_with_seed(fitted) -> None:
    _, assignments, profiles, metrics = fitted
    _, again, profiles2, metrics2 = fit_clusters(make_features(), COLS, range(3, 6), seed=42)
    pd.testing.assert_frame_equal(assignments, again)
    pd.testing.assert_frame_equal(profiles, profiles2)
    assert metrics["silhouette"] == metrics2["silhouette"]


def test_descriptions_name_the_obvious_groups(fitted) -> None:
    _, _, profiles, _ = fitted
    text = " | ".join(profiles["description"])
    assert "recently active" in text or "frequent buyers" in text
    assert "many complaints" in text


def test_segment_stability_is_label_free_and_detects_change():
    import pandas as pd

    from models_ml.segments import segment_stability

    prev = pd.DataFrame({"customer_id": list("abcdef"), "cluster": [0, 0, 1, 1, 2, 2]})
    same = pd.DataFrame({"customer_id": list("abcdef"), "cluster": [5, 5, 3, 3, 9, 9]})
    assert segment_stability(same, prev)["ari_cluster_vs_previous"] == 1.0
    mixed = pd.DataFrame({"customer_id": list("abcdef"), "cluster": [0, 1, 2, 0, 1, 2]})
    assert segment_stability(mixed, prev)["ari_cluster_vs_previous"] < 0.5
    assert segment_stability(same, None) == {}
    no_segment = pd.DataFrame({"customer_id": list("ab"), "rfm_segment": [None, "loyal"]})
    assert segment_stability(no_segment, no_segment)["ari_rfm_segment_vs_previous"] == 1.0


def test_quality_and_assignments_of_a_fitted_model(fitted) -> None:
    from models_ml.segments import assign_clusters, cluster_quality

    model, assignments, profiles, metrics = fitted
    quality = cluster_quality(model, make_features(), COLS)
    assert quality["silhouette"] == pytest.approx(metrics["silhouette"])
    assert quality["surrogate_fidelity"] == pytest.approx(metrics["surrogate_fidelity"])
    again, again_profiles = assign_clusters(model, make_features(), COLS)
    pd.testing.assert_frame_equal(again, assignments)
    pd.testing.assert_frame_equal(again_profiles, profiles)


def test_worse_segmentation_challenger_is_not_promoted(tmp_path) -> None:
    """Gate (0017): forced k=7 on three groups scores a lower silhouette than the k=3 champion."""

    import mlflow

    from models_ml import tracking
    from models_ml.segments import cluster_quality

    with throwaway_mlflow(tmp_path, "seg-test"):
        frame = make_features()
        champion = fit_clusters(frame, COLS, k_range=[3], seed=42)[0]
        worse = fit_clusters(frame, COLS, k_range=[7], seed=42)[0]
        this_week = make_features(seed=1)  # next week's customers: new rows for both models
        champ = cluster_quality(champion, this_week, COLS)["silhouette"]
        chall = cluster_quality(worse, this_week, COLS)["silhouette"]
        assert chall < champ
        v1 = tracking.log_and_register("customer_segmentation", "sklearn", champion)
        v2 = tracking.log_and_register(
            "customer_segmentation", "sklearn", worse, set_champion=False
        )
        loaded = mlflow.sklearn.load_model(f"models:/customer_segmentation/{v1}")
        assert cluster_quality(loaded, this_week, COLS)["silhouette"] == pytest.approx(champ)
        decision = tracking.promote_if_better(
            "customer_segmentation", v2, "silhouette", chall, champ
        )
        assert not decision["promoted"] and "worse" in decision["reason"]
        assert int(tracking.champion_version("customer_segmentation").version) == v1
