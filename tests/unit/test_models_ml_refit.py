"""The refit policy (models_ml.refit, decision 0019): every reason to train, and reuse."""

from datetime import date, timedelta

import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from models_ml import refit, tracking
from tests.conftest import throwaway_mlflow

SNAPSHOT = date(2026, 11, 8)
COLS = ("a", "b")


def champion(weeks_old: int = 1, features=COLS, snapshot=SNAPSHOT) -> refit.Champion:
    trained = snapshot - timedelta(weeks=weeks_old) if weeks_old is not None else None
    return refit.Champion(version=3, snapshot_date=trained, features=features)


def test_no_champion_refits() -> None:
    d = refit.decide(None, SNAPSHOT)
    assert d.refit and d.reason == "refit: no champion yet"


def test_a_recent_compatible_champion_is_reused() -> None:
    d = refit.decide(champion(1), SNAPSHOT, features=list(COLS))
    assert not d.refit and not d.replaces_champion
    assert d.reason == "reused champion v3 trained 2026-11-01"


def test_the_same_week_again_reuses() -> None:
    assert not refit.decide(champion(0), SNAPSHOT, features=COLS).refit


def test_asked_for_refits_but_keeps_the_gate() -> None:
    d = refit.decide(champion(0), SNAPSHOT, forced=True, features=COLS)
    assert d.refit and d.reason.startswith("refit: asked for")
    assert not d.replaces_champion and d.champion_usable  # the challenger must still win


@pytest.mark.parametrize("weeks, refits", [(3, False), (4, True), (9, True)])
def test_age_in_weeks(weeks: int, refits: bool) -> None:
    d = refit.decide(champion(weeks), SNAPSHOT, every_weeks=4, features=COLS)
    assert d.refit is refits
    if refits:
        assert f"is {weeks} week(s) old (refit every 4)" in d.reason
        assert not d.replaces_champion  # an old champion can still beat the challenger


def test_every_zero_weeks_refits_every_run() -> None:
    assert refit.decide(champion(0), SNAPSHOT, every_weeks=0).refit


def test_a_champion_trained_after_the_snapshot_refits() -> None:
    d = refit.decide(champion(-2), SNAPSHOT)
    assert d.refit and "after this run's snapshot 2026-11-08" in d.reason


def test_unknown_training_date_refits() -> None:
    d = refit.decide(champion(None), SNAPSHOT)
    assert d.refit and "no snapshot_date" in d.reason


def test_drift_refits_and_replaces_the_champion() -> None:
    d = refit.decide(champion(1), SNAPSHOT, features=COLS,
                     drift_reason="champion inputs drifted (PSI >= 0.25): orders_90d")
    assert d.refit and d.replaces_champion and d.champion_usable
    assert d.reason == "refit: champion inputs drifted (PSI >= 0.25): orders_90d"


def test_changed_feature_list_refits_without_the_champion() -> None:
    d = refit.decide(champion(1), SNAPSHOT, features=["a", "b", "c"])
    assert d.refit and d.replaces_champion and not d.champion_usable
    assert "feature list changed since champion v3 (added ['c'], dropped none)" in d.reason
    reordered = refit.decide(champion(1), SNAPSHOT, features=["b", "a"])
    assert reordered.refit and "order" in reordered.reason


def test_unusable_champion_refits() -> None:
    d = refit.decide(champion(1), SNAPSHOT, unusable="artifact missing")
    assert d.refit and not d.champion_usable
    assert d.reason == "refit: champion v3 unusable: artifact missing"


def test_load_champion_only_loads_when_reusing_and_falls_back_on_failure() -> None:
    loads = []
    reuse = refit.decide(champion(1), SNAPSHOT)
    model, d = refit.load_champion(reuse, lambda: loads.append(1) or "model")
    assert (model, d) == ("model", reuse) and loads == [1]

    def broken():
        raise OSError("no such file: model.skops")

    model, d = refit.load_champion(reuse, broken)
    assert model is None and d.refit and not d.champion_usable
    assert "unusable: it did not load (OSError: no such file: model.skops)" in d.reason
    first = refit.decide(None, SNAPSHOT)
    assert refit.load_champion(first, broken) == (None, first)  # nothing loaded on a refit


def test_parse_date() -> None:
    assert refit.parse_date("2026-11-08") == SNAPSHOT
    assert refit.parse_date("2026-11-08 00:00:00") == SNAPSHOT
    assert refit.parse_date("None") is None and refit.parse_date("nonsense") is None


def test_champion_summary_reads_the_registry(tmp_path) -> None:
    with throwaway_mlflow(tmp_path, "refit-test"):
        assert tracking.champion_summary("refit_model") is None
        est = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
        v1 = tracking.log_and_register(
            "refit_model", "sklearn", est,
            params={"snapshot_date": "2026-11-01", "features": "a,b"},
        )
        tracking.log_and_register(  # a challenger that did not win: not the champion
            "refit_model", "sklearn", est,
            params={"snapshot_date": "2026-11-08", "features": "a,b,c"}, set_champion=False,
        )
        summary = tracking.champion_summary("refit_model")
        assert summary.version == v1 and summary.snapshot_date == date(2026, 11, 1)
        assert summary.features == ("a", "b")
        assert summary.run_id == MlflowClient().get_model_version("refit_model", "1").run_id
        assert tracking.champion_summary("refit_model", features_param=None).features is None
        assert not refit.decide(summary, SNAPSHOT, features=COLS).refit
