"""PSI drift of model inputs and scores (models_ml.drift)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models_ml import drift


def test_psi_of_identical_shares_is_zero_and_known_value() -> None:
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert drift.psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(expected)


def test_stable_sample_passes_and_shifted_one_drifts() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"days": rng.exponential(30, 20_000), "orders": rng.poisson(3, 20_000)})
    train.loc[::50, "orders"] = np.nan  # a missing-value bucket
    ref = drift.reference(train, ["days", "orders"])
    json.dumps(ref)  # stored as an MLflow JSON artifact
    assert sum(ref["days"]["shares"]) == pytest.approx(1.0)
    assert ref["orders"]["shares"][-1] == pytest.approx(0.02)

    same = pd.DataFrame({"days": rng.exponential(30, 5000), "orders": rng.poisson(3, 5000)})
    same["orders"] = same["orders"].astype(float)
    same.loc[::50, "orders"] = np.nan
    stable = drift.drift_table(ref, same)
    assert set(stable["name"]) == {"days", "orders"}
    assert (stable["psi"] < drift.WATCH).all()
    # missing values vanishing is a change in itself (2 % -> 0 % alone gives PSI ~0.1)
    filled = drift.drift_table(ref, same.fillna({"orders": 3.0})).set_index("name")
    assert filled.loc["orders", "psi"] > drift.WATCH
    assert not drift.refit_recommended(stable)

    shifted = same.assign(days=same["days"] * 3)
    table = drift.drift_table(ref, shifted, {"days": "feature"}).set_index("name")
    assert table.loc["days", "status"] == "drift"
    assert table.loc["orders", "status"] == "stable"
    assert drift.refit_recommended(table.reset_index())


def test_columns_missing_from_current_are_skipped() -> None:
    ref = drift.reference(pd.DataFrame({"a": [1.0, 2.0, 3.0], "score": [0.1, 0.2, 0.3]}),
                          ["a", "score"])
    table = drift.drift_table(ref, pd.DataFrame({"score": [0.9, 0.9]}), {"score": "score"})
    assert table["name"].tolist() == ["score"]
    assert table["kind"].tolist() == ["score"]
    assert table["status"].tolist() == ["drift"]


def test_clock_features_are_reported_but_do_not_recommend_a_refit() -> None:
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"tenure_days": rng.uniform(0, 400, 5000), "orders": rng.poisson(3, 5000)})
    ref = drift.reference(train, ["tenure_days", "orders"])
    older = train.assign(tenure_days=train["tenure_days"] + 200)  # everyone aged
    kinds = dict.fromkeys(drift.CLOCK_FEATURES, "clock")
    table = drift.drift_table(ref, older, kinds).set_index("name")
    assert table.loc["tenure_days", "status"] == "drift"
    assert table.loc["tenure_days", "kind"] == "clock"
    assert not drift.refit_recommended(table.reset_index())
    both = drift.drift_table(ref, older.assign(orders=older["orders"] * 4), kinds)
    assert drift.refit_recommended(both)
